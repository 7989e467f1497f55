"""API Gateway: requests become the documented event, the function's integrated response the HTTP reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.server import EmulatorServer

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}


@dataclass
class Gateway:
    cloud: Cloud
    url: str  # the stage's base URL, as a client would use it

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kw)


@pytest.fixture(params=["in-process", "server"])
def gw(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    if request.param == "in-process":
        with mock_tencent() as cloud:
            app = cloud.deploy_app(str(FIXTURE), VARS)
            yield Gateway(cloud, app.api_url)
        return
    cloud = Cloud(mode="server")
    server = EmulatorServer(cloud).start()
    cloud.base_url = server.url
    try:
        cloud.deploy_app(str(FIXTURE), VARS)
        yield Gateway(cloud, cloud.apigw.local_url)  # http://127.0.0.1:PORT/release, no Host header needed
    finally:
        server.stop()
        cloud.close()


def event_of(resp: requests.Response) -> dict[str, Any]:
    event: dict[str, Any] = resp.json()["event"]
    return event


def test_a_route_with_a_path_parameter_gets_the_documented_event(gw: Gateway) -> None:
    resp = gw.get("/jobs/job-42?verbose=1&tag=a&tag=b&flag", headers={"X-Custom-Thing": "v1"})

    assert resp.status_code == 200
    assert resp.headers["X-Route"] == "/jobs/{id}"
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["X-Api-RequestId"]
    event = event_of(resp)
    ctx = event["requestContext"]
    svc = gw.cloud.apigw.services[0]
    assert ctx == {
        "serviceId": svc.service_id,
        "path": "/jobs/{id}",
        "httpMethod": "GET",
        "requestId": resp.headers["X-Api-RequestId"],
        "identity": {},
        "sourceIp": "127.0.0.1",
        "stage": "release",
    }
    assert event["path"] == "/jobs/job-42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "job-42"}
    assert event["queryString"] == {"verbose": "1", "tag": ["a", "b"], "flag": True}
    assert event["queryStringParameters"] == {}  # only parameters configured in the gateway
    assert event["headerParameters"] == {}
    assert event["stageVariables"] == {"stage": "release"}
    assert event["body"] == ""
    assert event["headers"]["x-custom-thing"] == "v1"  # names lower-cased
    assert event["headers"]["requestsource"] == "APIGW"
    assert all(k == k.lower() for k in event["headers"])


def test_a_post_body_arrives_as_a_string_and_the_status_code_is_the_functions(gw: Gateway) -> None:
    resp = gw.post("/jobs", json={"bucket": "b", "key": "k"})

    assert resp.status_code == 201
    event = event_of(resp)
    assert json.loads(event["body"]) == {"bucket": "b", "key": "k"}
    assert event["headers"]["content-type"] == "application/json"
    assert "isBase64Encoded" not in event


def test_a_binary_body_is_base64_encoded_and_flagged(gw: Gateway) -> None:
    resp = gw.post("/jobs", data=b"\xff\x00\xfe")

    event = event_of(resp)
    assert event["isBase64Encoded"] == "true"
    assert event["body"] == "/wD+"


def test_a_base64_integrated_response_is_decoded(gw: Gateway) -> None:
    resp = gw.get("/hello?binary=1")

    assert resp.status_code == 200
    assert resp.content == b"\x00\x01\xff"
    assert resp.headers["Content-Type"] == "application/octet-stream"


def test_a_reply_not_in_the_integrated_shape_is_the_documented_403(gw: Gateway) -> None:
    resp = gw.get("/hello?shape=bad")

    assert resp.status_code == 403
    assert resp.json() == {
        "errno": 403,
        "error": "Invalid scf response format. please check your scf response format.",
    }


def test_without_integrated_response_the_return_value_is_passed_through_as_json(gw: Gateway) -> None:
    resp = gw.get("/passthrough")

    assert resp.status_code == 200
    body = resp.json()
    assert body["event"]["requestContext"]["path"] == "/passthrough"
    assert body["context"]["function_name"] == "emu-echo"


def test_no_matching_route_or_method_is_a_404_in_the_gateways_shape(gw: Gateway) -> None:
    host = urlsplit(gw.url).hostname
    missing = gw.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"message": f"There is no api match uri '/nowhere' host '{host}'"}

    wrong_method = gw.post("/hello")
    assert wrong_method.status_code == 404
    assert wrong_method.json()["message"].startswith("There is no api match uri '/hello'")
    assert gw.cloud.scf.invocations == []  # nothing reached a function


def test_a_function_error_comes_back_as_scfs_error_json(gw: Gateway) -> None:
    resp = gw.get("/boom")

    assert resp.status_code == 200
    err = resp.json()
    assert (err["errorCode"], err["errorMessage"], err["statusCode"]) == (-1, "user code exception caught", 430)
    assert [r.status for r in gw.cloud.scf.invocations] == ["error"]  # API Gateway calls are never retried


def test_a_backend_slower_than_the_service_timeout_is_a_504(gw: Gateway) -> None:
    route = next(r for r in gw.cloud.apigw.services[0].routes if r.path == "/hello")
    route.service_timeout_s = 0.1
    resp = gw.get("/hello?sleep=0.5")

    assert resp.status_code == 504


def test_a_request_body_over_6mb_is_refused(gw: Gateway) -> None:
    resp = gw.post("/jobs", data=b"x" * (6 * 1024 * 1024 + 1))

    assert resp.status_code == 413
    assert gw.cloud.scf.invocations == []
