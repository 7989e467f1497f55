"""The OpenAPI 3.0 document served at ``GET /openapi.json`` (kept beside the routes it describes)."""

from __future__ import annotations

from typing import Any

from vodflow import __version__
from vodflow.pipeline.states import JobKind, JobState
from vodflow.pipeline.uploads import MAX_SESSION_FILES, URL_TTL_MAX_S, URLS_PER_REPLY

_ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(desc: str, schema: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": desc}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "Invalid request (the field is named)",
        401: "Missing or wrong bearer token",
        404: "Not found",
        405: "Method not allowed",
        409: "The upload is already staged (its job runs): not cancelled",
        413: "Body too large",
        500: "InternalError: nothing about the cause; quote the request_id",
    }
    return {str(c): _resp(names[c], _ERROR) for c in codes}


def openapi_document() -> dict[str, Any]:
    options = {
        "type": "object",
        "description": "VOD options; each becomes x-cos-meta-vod-<name> metadata of the staged object.",
        "properties": {
            "procedure": {"type": "string"},
            "class_id": {"type": "integer", "minimum": 0},
            "sub_app_id": {"type": "integer", "minimum": 1},
            "media_name": {"type": "string"},
            "media_type": {"type": "string"},
            "expire_time": {"type": "string", "format": "date-time"},
            "storage_region": {"type": "string"},
            "source_context": {"type": "string", "maxLength": 250},
            "session_context": {"type": "string", "maxLength": 1000},
            "cover": {
                "type": "string",
                "description": "key of a cover image in the staging bucket (with a session's cover: set by the API)",
            },
        },
        "additionalProperties": False,
    }
    epoch = {"type": "number", "description": "seconds since the epoch (UTC); the same instant as *_iso"}
    iso = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
    task_list = {"type": "array", "items": {"type": "object"}}
    job = {
        "type": "object",
        "required": ["id", "state", "source", "kind", "generation", "parts_done", "parts_total", "bytes_done"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "state": {"type": "string", "enum": [s.value for s in JobState]},
            "source": {
                "type": "object",
                "required": ["bucket", "key", "size", "name"],
                "properties": {
                    "bucket": {"type": "string"},
                    "key": {"type": "string"},
                    "size": {"type": "integer", "nullable": True},
                    "name": {"type": "string"},
                },
            },
            "kind": {"type": "string", "enum": [k.value for k in JobKind]},
            "generation": {"type": "integer"},
            "parts_done": {"type": "integer"},
            "parts_total": {"type": "integer"},
            "bytes_done": {"type": "integer", "nullable": True},
            "bytes_total": {"type": "integer", "nullable": True},
            "created_at": {**epoch, "nullable": True},
            "created_at_iso": {**iso, "nullable": True},
            "committed_at": {**epoch, "nullable": True},
            "committed_at_iso": {**iso, "nullable": True},
            "file_id": {"type": "string", "nullable": True},
            "media_url": {"type": "string", "nullable": True},
            "cover_url": {"type": "string", "nullable": True},
            "url": {"type": "string", "nullable": True, "description": "import jobs: the URL VOD pulls (redacted)"},
            "procedure": {"type": "string", "nullable": True, "description": "the task flow VOD runs after the commit"},
            "processing": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "task_id": {"type": "string", "nullable": True},
                    "started_at": {**epoch, "nullable": True},
                    "started_at_iso": {**iso, "nullable": True},
                    "ended_at": {**epoch, "nullable": True},
                    "ended_at_iso": {**iso, "nullable": True},
                    "failed_task": {"type": "object", "nullable": True},
                    "error": {"type": "object", "nullable": True},
                },
            },
            "results": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "transcodes": task_list,
                    "snapshots": task_list,
                    "sprites": task_list,
                    "adaptive_streaming": task_list,
                },
            },
            "error": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "code": {"type": "string", "nullable": True},
                    "message": {"type": "string", "nullable": True},
                    "task": {"type": "string", "nullable": True, "description": "processing_failed: the failing task"},
                    "definition": {"type": "integer", "nullable": True},
                },
            },
        },
    }
    expiry = {
        "expires_in": {"type": "integer", "description": f"seconds the URLs live (granted, at most {URL_TTL_MAX_S})"},
        "expires_at": {"type": "string", "format": "date-time"},
        "expires_in_requested": {"type": "integer", "description": "present when the request asked for more"},
        "note": {"type": "string", "description": "why the lifetime was capped, and how to get fresh URLs"},
    }
    part_urls = {"type": "array", "items": {"$ref": "#/components/schemas/PartUrl"}}
    upload: dict[str, Any] = {
        "type": "object",
        "required": ["upload_id", "mode", "bucket", "key", "size", "expires_in", "expires_at"],
        "properties": {
            "upload_id": {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "128 random bits"},
            "mode": {"type": "string", "enum": ["put", "multipart"]},
            "bucket": {"type": "string"},
            "key": {"type": "string"},
            "size": {"type": "integer"},
            "url": {"type": "string", "description": "put: the presigned PUT"},
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "put: send exactly these (each one is signed; other option headers are ignored)",
            },
            "part_size": {"type": "integer"},
            "parts_total": {"type": "integer", "maximum": 10000},
            "parts": {**part_urls, "description": f"multipart: URLs of up to {URLS_PER_REPLY} parts still missing"},
            "complete_url": {"type": "string"},
            **expiry,
        },
    }
    status: dict[str, Any] = {
        "type": "object",
        "required": ["upload_id", "state"],
        "properties": {
            **upload["properties"],
            "state": {"type": "string", "enum": ["pending", "staged", "cancelled", "aborted"]},
            "etag": {"type": "string", "description": "staged: the object's ETag"},
            "job_id": {"type": "string", "description": "staged: the job of the object (GET /jobs/{id})"},
            "parts_uploaded": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "integer"},
                        "size": {"type": "integer"},
                        "etag": {"type": "string"},
                    },
                },
            },
            "parts_missing": {"type": "integer"},
        },
    }
    # A session with more than one file (a video with its cover, a package folder): each file's own entry.
    file_head = {
        "role": {
            "type": "string",
            "enum": ["video", "cover", "index", "file"],
            "description": "video or a package's index (the main file, listed last: its arrival starts the "
            "job), the video's cover, or another file of the package",
        },
        "name": {"type": "string", "description": "the file name, or package/path inside the package"},
    }
    upload["properties"]["files"] = {
        "type": "array",
        "description": "a session of several files: each one's URLs (the main file last); absent for one file",
        "items": {
            "type": "object",
            "required": ["role", "name", "mode", "key", "size"],
            "properties": {
                **file_head,
                **{k: upload["properties"][k] for k in ("mode", "key", "size", "url", "headers")},
                **{k: upload["properties"][k] for k in ("part_size", "parts_total", "parts", "complete_url")},
            },
        },
    }
    upload["properties"]["job_id"] = {
        "type": "string",
        "nullable": True,
        "description": "null here: known once the main file is staged (GET /uploads/{id})",
    }
    status["properties"]["files"] = {
        "type": "array",
        "description": "a session of several files: each one's state (the main file last); absent for one file",
        "items": {
            "type": "object",
            "required": ["role", "name", "state", "key", "size"],
            "properties": {
                **file_head,
                **{k: v for k, v in status["properties"].items() if k not in ("upload_id", "files", "job_id")},
            },
        },
    }
    status["properties"]["state"]["description"] = (
        "the main file's: pending (fresh URLs for the missing parts), staged (job_id set), cancelled (DELETE), "
        "aborted (its multipart upload was aborted from outside)"
    )
    cover_file = {
        "type": "object",
        "required": ["filename", "size"],
        "description": "a cover image staged beside the video (jpg, jpeg, png, gif, bmp, tiff, heif); "
        "the video's cover option points at it",
        "properties": {
            "filename": {"type": "string"},
            "size": {"type": "integer", "minimum": 1},
            "content_type": {"type": "string"},
        },
    }
    package = {
        "type": "object",
        "required": ["name", "files"],
        "description": "an HLS or DASH folder instead of filename/size: one job, started by its top-level "
        "index.m3u8 (or index.mpd)",
        "properties": {
            "name": {"type": "string", "pattern": "\\.(hls|dash)$", "example": "show.hls"},
            "files": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SESSION_FILES,
                "items": {
                    "type": "object",
                    "required": ["path", "size"],
                    "properties": {
                        "path": {"type": "string", "description": "relative to the folder, / separated"},
                        "size": {"type": "integer", "minimum": 1},
                        "content_type": {"type": "string"},
                    },
                },
            },
        },
    }
    upload_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        # Relative: the function URL this document was fetched from (a deployment's, or the emulator's alias).
        "servers": [{"url": "./", "description": "the function URL serving this document"}],
        "info": {
            "title": "vodflow",
            "version": __version__,
            "description": "Stage media for Tencent Cloud VOD and follow the ingest jobs.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "request_id": {"type": "string"},
                    },
                },
                "Options": options,
                "Job": job,
                "JobStarted": {
                    "type": "object",
                    "required": ["job_id", "status", "state"],
                    "properties": {
                        "job_id": {"type": "string", "description": "GET /jobs/{job_id} follows it"},
                        "status": {"type": "string", "description": "started, already committed, already failed"},
                        "state": {"type": "string", "enum": [s.value for s in JobState]},
                        "key": {"type": "string"},
                        "name": {"type": "string"},
                        "url": {"type": "string"},
                    },
                },
                "PartUrl": {
                    "type": "object",
                    "properties": {"number": {"type": "integer"}, "url": {"type": "string"}},
                },
                "Upload": upload,
                "UploadStatus": status,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": {"security": [], "summary": "Liveness", "responses": {"200": _resp("OK")}}},
            "/": {
                "get": {
                    "security": [],
                    "summary": "The upload page (HTML; it asks for the token itself and keeps it for the session)",
                    "responses": {"200": {"description": "index.html", "content": {"text/html": {}}}},
                }
            },
            "/static/{name}": {
                "get": {
                    "security": [],
                    "summary": "The page's files (app.js, app.css), shipped in the package",
                    "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "the file",
                            "content": {"text/javascript": {}, "text/css": {}, "image/svg+xml": {}},
                        },
                        **_errors(404),
                    },
                }
            },
            "/openapi.json": {"get": {"security": [], "summary": "This document", "responses": {"200": _resp("OK")}}},
            "/uploads": {
                "post": {
                    "summary": "A presigned upload into the staging bucket (single PUT, or multipart above 64 MiB)",
                    "description": (
                        "Only the options issued here are applied to the object (option headers a URL holder "
                        f"adds are ignored). URLs live at most {URL_TTL_MAX_S} s (signed with the function's "
                        "temporary role keys): a longer expires_in is capped and the reply says so."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "description": "one file (filename, size), a video with its cover "
                                    "(and cover), or a package folder (package instead of filename/size)",
                                    "anyOf": [{"required": ["filename", "size"]}, {"required": ["package"]}],
                                    "properties": {
                                        "filename": {"type": "string"},
                                        "cover": cover_file,
                                        "package": package,
                                        "size": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": 10000 * 5 * 1024**3,
                                        },
                                        "content_type": {"type": "string"},
                                        "expires_in": {"type": "integer", "minimum": 60, "maximum": 604800},
                                        "options": {"$ref": "#/components/schemas/Options"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _resp("Where and how to upload", {"$ref": "#/components/schemas/Upload"}),
                        **_errors(400, 401, 405, 413, 500),
                    },
                }
            },
            "/uploads/{id}": {
                "get": {
                    "summary": "An upload's state: parts COS has, fresh URLs for the rest, or its job once staged",
                    "parameters": [upload_id],
                    "responses": {
                        "200": _resp("The upload", {"$ref": "#/components/schemas/UploadStatus"}),
                        **_errors(401, 404, 500),
                    },
                },
                "delete": {
                    "summary": "Abort the upload (idempotent); a staged upload is not cancelled (409)",
                    "parameters": [upload_id],
                    "responses": {
                        "200": _resp("Cancelled", {"$ref": "#/components/schemas/UploadStatus"}),
                        **_errors(401, 404, 409, 500),
                    },
                },
            },
            "/jobs": {
                "post": {
                    "summary": "Start the job of a staged object (a fresh attempt if its job failed), or import a URL",
                    "description": "`key`: a staged object. `url`: VOD pulls the HTTP(S) URL itself (PullUpload; HLS "
                    "allowed, DASH refused); its query string and credentials are never shown again.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {
                                            "type": "object",
                                            "required": ["key"],
                                            "properties": {"key": {"type": "string"}},
                                        },
                                        {
                                            "type": "object",
                                            "required": ["url"],
                                            "properties": {
                                                "url": {"type": "string", "format": "uri"},
                                                "options": options,
                                            },
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _resp("Started: follow GET /jobs/{job_id}", {"$ref": "#/components/schemas/JobStarted"}),
                        "200": _resp(
                            "The object's job already ended (status: already committed / already failed)",
                            {"$ref": "#/components/schemas/JobStarted"},
                        ),
                        **_errors(400, 401, 404, 413),
                    },
                },
                "get": {
                    "summary": "Recent jobs, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {"name": "marker", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _resp(
                            "A page of jobs",
                            {
                                "type": "object",
                                "properties": {
                                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                                    "next_marker": {"type": "string", "nullable": True},
                                },
                            },
                        ),
                        **_errors(400, 401),
                    },
                },
            },
            "/vod/events": {
                "post": {
                    "security": [],
                    "summary": "VOD's event callback (PUSH mode): verified by Sign = MD5(SignKey + T) and T not past",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": _resp("Recorded (or acknowledged and ignored)"), **_errors(400, 401)},
                }
            },
            "/jobs/{id}": {
                "get": {
                    "summary": "One job: state, progress, result or error",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _resp("The job", {"$ref": "#/components/schemas/Job"}), **_errors(401, 404)},
                }
            },
        },
    }
