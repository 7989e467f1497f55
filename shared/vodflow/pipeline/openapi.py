"""The OpenAPI 3.0 document served at ``GET /openapi.json`` (kept beside the routes it describes)."""

from __future__ import annotations

from typing import Any

from vodflow import __version__
from vodflow.pipeline.states import JobKind, JobState

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
        413: "Body too large",
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
            "cover": {"type": "string", "description": "key of a cover image in the staging bucket"},
        },
        "additionalProperties": False,
    }
    job = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": [s.value for s in JobState]},
            "source": {"type": "object"},
            "kind": {"type": "string", "enum": [k.value for k in JobKind]},
            "parts_done": {"type": "integer"},
            "parts_total": {"type": "integer"},
            "bytes_done": {"type": "integer"},
            "bytes_total": {"type": "integer"},
            "file_id": {"type": "string", "nullable": True},
            "media_url": {"type": "string", "nullable": True},
            "cover_url": {"type": "string", "nullable": True},
            "error": {
                "type": "object",
                "nullable": True,
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    }
    return {
        "openapi": "3.0.3",
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
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": {"security": [], "summary": "Liveness", "responses": {"200": _resp("OK")}}},
            "/openapi.json": {"get": {"security": [], "summary": "This document", "responses": {"200": _resp("OK")}}},
            "/uploads": {
                "post": {
                    "summary": "A presigned upload into the staging bucket (single PUT, or multipart above 64 MiB)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["filename", "size"],
                                    "properties": {
                                        "filename": {"type": "string"},
                                        "size": {"type": "integer", "minimum": 0},
                                        "content_type": {"type": "string"},
                                        "expires_in": {"type": "integer", "minimum": 60, "maximum": 604800},
                                        "options": {"$ref": "#/components/schemas/Options"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"201": _resp("Where and how to upload"), **_errors(400, 401, 405, 413)},
                }
            },
            "/jobs": {
                "post": {
                    "summary": "Start the job of a staged object (or a fresh attempt if its job failed)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["key"],
                                    "properties": {"key": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {"202": _resp("Started"), **_errors(400, 401, 404, 413)},
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
            "/jobs/{id}": {
                "get": {
                    "summary": "One job: state, progress, result or error",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _resp("The job", {"$ref": "#/components/schemas/Job"}), **_errors(401, 404)},
                }
            },
        },
    }
