"""One function URL serves every path: the API routes, and a wrong path or method gets our JSON, never a page.

These call the handler with the function-URL event a browser's request becomes (and the old API
Gateway shape, still understood); the deployed-URL stories are in test_story_api.py.
"""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from typing import Any

import pytest

from vodflow.pipeline.api import ROUTES, Api
from vodflow.pipeline.config import Config

TOKEN = "route-test-token-0123456789"


def call(method: str, path: str, headers: dict[str, str] | None = None, body: str = "", **extra: Any) -> dict[str, Any]:
    def no_runtime() -> Any:
        raise AssertionError("this request should not need the cloud")

    api = Api(runtime=no_runtime, token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
    event = {"body": body, "headers": headers or {}, "httpMethod": method, "path": path, "queryString": {}, **extra}
    return api.handle(event, "req-1")


def test_the_reply_has_the_function_url_response_shape() -> None:
    """``{statusCode, headers, body}`` (http-entry-and-deploy.md §1) plus ``isBase64Encoded`` (false: JSON text)."""
    reply = call("GET", "/health")
    assert set(reply) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert reply["statusCode"] == 200 and reply["isBase64Encoded"] is False
    assert reply["headers"]["Content-Type"] == "application/json"
    assert json.loads(reply["body"])["status"] == "ok"


@pytest.mark.parametrize(
    "path", ["/nope", "/static/../openapi.json", "/jobs/a/b", "/uploads/x/y/z", "/health/extra", "/..", "/%2e%2e/etc"]
)
def test_an_unknown_path_is_our_404(path: str) -> None:
    reply = call("GET", path)
    body = json.loads(reply["body"])
    assert reply["statusCode"] == 404
    assert body["code"] == "ResourceNotFound.Route" and body["request_id"] == "req-1"
    assert "/openapi.json" in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/health", "GET, OPTIONS"),
        ("POST", "/openapi.json", "GET, OPTIONS"),
        ("GET", "/uploads", "OPTIONS, POST"),
        ("PUT", "/jobs", "GET, OPTIONS, POST"),
        ("PATCH", "/jobs/0123456789abcdef0123456789abcdef", "GET, OPTIONS"),
    ],
)
def test_a_wrong_method_is_405_with_allow(method: str, path: str, allow: str) -> None:
    reply = call(method, path, headers={"authorization": f"Bearer {TOKEN}"})
    assert reply["statusCode"] == 405
    assert reply["headers"]["Allow"] == allow
    assert json.loads(reply["body"])["code"] == "UnsupportedOperation.Method"


def test_a_wrong_method_is_answered_before_the_token_is_asked_for() -> None:
    """405 says what the path allows; it reveals nothing the public OpenAPI document does not."""
    assert call("DELETE", "/jobs")["statusCode"] == 405


def test_options_answers_allow_without_the_token() -> None:
    reply = call("OPTIONS", "/jobs")
    assert reply["statusCode"] == 204 and reply["headers"]["Allow"] == "GET, OPTIONS, POST"


def test_protected_routes_need_the_token() -> None:
    for route in ROUTES:
        if route.public:
            continue
        for method in route.methods:
            path = route.template.replace("{job_id}", "0" * 32).replace("{upload_id}", "0" * 32)
            reply = call(method, path)
            assert reply["statusCode"] == 401, (method, path)


def test_the_old_api_gateway_event_is_still_routed() -> None:
    """An APIGW event with its stage prefix in the path (tencent-scf.md §2.1) reaches the same route."""
    reply = call("GET", "/release/health", requestContext={"stage": "release", "requestId": "gw-1"})
    assert reply["statusCode"] == 200
    assert reply["headers"]["X-Request-Id"] == "gw-1"


@pytest.mark.parametrize(
    "event", [None, [], "GET /", {"path": "/health"}, {"httpMethod": 7, "path": "/"}, {"httpMethod": ""}]
)
def test_a_malformed_event_is_a_400_naming_the_field(event: Any) -> None:
    api = Api(runtime=lambda: None, token_sha256=None)  # type: ignore[arg-type,return-value]
    reply = api.handle(event, "req-2")
    body = json.loads(reply["body"])
    assert reply["statusCode"] == 400 and body["request_id"] == "req-2"
    assert "event" in body["message"] or "httpMethod" in body["message"]


def test_an_unexpected_error_is_a_500_without_detail(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Any:
        raise RuntimeError("/secret/internal/path.py exploded")

    api = Api(runtime=broken, token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
    reply = api.handle(
        {"httpMethod": "GET", "path": "/jobs", "headers": {"authorization": f"Bearer {TOKEN}"}, "queryString": {}},
        "req-3",
    )
    assert reply["statusCode"] == 500
    body = json.loads(reply["body"])
    assert body == {
        "code": "InternalError",
        "message": "an internal error occurred; quote the request_id",
        "request_id": "req-3",
    }
    assert "exploded" in caplog.text  # the detail goes to the log


# -- class 7 (issue 13): whatever a client sends, a JSON reply, never a 500, nothing opened when refused -----
UPLOAD_PATH = "/uploads/" + "a" * 32


def test_the_upload_routes_answer_405_with_allow_and_need_the_token() -> None:
    reply = call("PUT", UPLOAD_PATH, headers={"authorization": f"Bearer {TOKEN}"})
    assert reply["statusCode"] == 405 and reply["headers"]["Allow"] == "DELETE, GET, OPTIONS"
    for method in ("GET", "DELETE"):
        assert call(method, UPLOAD_PATH)["statusCode"] == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[" * 100 + "]" * 100, "nests"),
        ('{"a":' * 40 + "1" + "}" * 40, "nests"),
        ('{"filename": "a.mp4", "size": ' + "9" * 5000 + "}", "size"),
        ('{"filename": "a.mp4", "size": ١٢٣}', "JSON"),  # the scanner reads ASCII digits only
        ('{"filename": "a.mp4", "size": 1e400}', "size"),
        ('{"filename": "a.mp4", "size": NaN}', "size"),
        ('{"filename": "a.mp4", "size": Infinity}', "size"),
        ('{"filename": "\\ud800.mp4", "size": 1}', "filename"),
        ('{"filename": "a\\u0007.mp4", "size": 1}', "filename"),
        ('{"filename": "a.mp4", "size": 1, "content_type": "video/mp4\\r\\nX-Evil: 1"}', "content_type"),
        ('{"filename": "a.mp4", "size": 1, "content_type": "vidéo/mp4"}', "content_type"),
        ('{"filename": "a.mp4", "size": 1, "options": {"media_name": "\\udfff"}}', "options.media_name"),
        ('{"filename": "a.mp4", "size": 1, "options": {"procedure": "a\\u0000b"}}', "options.procedure"),
    ],
)
def test_hostile_bodies_are_a_400_naming_the_field_before_the_cloud_is_touched(body: str, field: str) -> None:
    """The body is checked before any cloud call: the runtime here has a config and nothing else."""
    config = Config.from_environment({"VODFLOW_STAGING_BUCKET": "staging-1250000000"})
    api = Api(runtime=lambda: SimpleNamespace(config=config), token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())  # type: ignore[arg-type,return-value]
    event = {"httpMethod": "POST", "path": "/uploads", "headers": {"authorization": f"Bearer {TOKEN}"}, "body": body}
    reply = api.handle(event, "req-5")
    assert reply["statusCode"] == 400, reply
    parsed = json.loads(reply["body"])
    assert set(parsed) == {"code", "message", "request_id"} and field in parsed["message"], parsed
    reply["body"].encode("utf-8")  # a lone surrogate echoed back is escaped, never a crash


def test_a_lone_surrogate_in_the_token_is_a_401_not_a_crash() -> None:
    assert call("GET", "/jobs", headers={"authorization": "Bearer \ud800"})["statusCode"] == 401


def test_non_ascii_digits_in_limit_are_refused() -> None:
    api = Api(runtime=lambda: None, token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())  # type: ignore[arg-type,return-value]
    event = {"httpMethod": "GET", "path": "/jobs", "headers": {"authorization": f"Bearer {TOKEN}"}}
    reply = api.handle({**event, "queryString": {"limit": "١٢"}}, "req-4")
    assert reply["statusCode"] == 400 and "limit" in json.loads(reply["body"])["message"]
