"""Function URLs (SCF ``http`` triggers), in process and through the server: both host forms, the
documented event, the documented return forms, CORS from CorsConfig, CAM, and the loopback alias."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from tencent_emulator.core.cloud import Cloud
from tests.emulator.conftest import Endpoint
from tests.emulator.test_scf_management import b64zip, call, client

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}
ORIGIN = "https://app.example.com"
# http-entry-and-deploy.md §1 (doc 583/96099): the documented event, key for key.
SAMPLE = {
    "body": '{"test":"hello world"}',
    "headers": {"accept": "*/*", "content-length": "17", "x-scf-remote-addr": "111.206.96.145"},
    "httpMethod": "POST",
    "path": "/",
    "queryString": {"a": "1", "b": "2"},
}


@dataclass
class Url:
    ep: Endpoint
    base: str

    @property
    def cloud(self) -> Cloud:
        return self.ep.cloud

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base + path, proxies=self.ep.proxies, timeout=30, **kwargs)


@pytest.fixture
def url(cloud_and_endpoint: Endpoint) -> Iterator[Url]:
    app = cloud_and_endpoint.cloud.deploy_app(str(FIXTURE), VARS)
    assert app.api_url is not None
    yield Url(cloud_and_endpoint, app.api_url)


def legacy(u: Url) -> str:
    """The other documented host form of the same function URL (``...-<region>.scf.tencentcs.com``)."""
    m = re.fullmatch(r"(https?)://(\d+)-([a-z0-9]+)\.([a-z0-9-]+)\.tencentscf\.com", u.base)
    assert m, u.base
    scheme, app, url_id, region = m.groups()
    return f"{scheme}://{app}-{url_id}-{region}.scf.tencentcs.com"


def test_the_request_becomes_the_documented_event(url: Url) -> None:
    resp = url.request("POST", "/?a=1&b=2", data=SAMPLE["body"], headers={"Accept": "*/*"})

    assert resp.status_code == 201  # the fixture function answers a POST with 201
    event = resp.json()["event"]
    assert list(event) == list(SAMPLE)  # body, headers, httpMethod, path, queryString: nothing else
    assert all(k == k.lower() for k in event["headers"])
    assert event["headers"]["content-length"] == str(len(SAMPLE["body"]))
    assert event["headers"]["x-scf-remote-addr"] == "127.0.0.1"
    assert "host" not in event["headers"]
    volatile = {"content-length": "17", "x-scf-remote-addr": "111.206.96.145"}
    seen = {**{k: event["headers"][k] for k in SAMPLE["headers"]}, **volatile}
    assert json.dumps({**event, "headers": seen}) == json.dumps(SAMPLE)  # byte for byte, modulo volatile values


def test_both_host_forms_and_every_path_reach_the_function(url: Url) -> None:
    for base in (url.base, legacy(url)):
        resp = requests.get(base + "/jobs/abc%20d?x=1&x=2&flag", proxies=url.ep.proxies, timeout=30)
        assert resp.status_code == 200, base
        event = resp.json()["event"]
        assert (event["httpMethod"], event["path"]) == ("GET", "/jobs/abc d")
        assert event["queryString"] == {"x": ["1", "2"], "flag": True}
        assert resp.headers["X-Route"] == "/jobs/abc d"
    assert url.request("PUT", "/anything", data="x").status_code == 200


def test_the_documented_return_forms(url: Url) -> None:
    created = url.request("POST", "/jobs", json={"k": 1})
    assert created.status_code == 201 and created.headers["Content-Type"] == "application/json"

    plain = url.request("GET", "/?shape=plain")
    assert (plain.status_code, plain.headers["Content-Type"], plain.json()) == (
        200,
        "application/json",
        {"hello": "world"},
    )
    text = url.request("GET", "/?shape=string")
    assert (text.status_code, text.text) == (200, '"Hello, world!"')
    binary = url.request("GET", "/?binary=1")
    assert (binary.content, binary.headers["Content-Type"]) == (b"\x00\x01\xff", "application/octet-stream")

    failed = url.request("GET", "/?shape=boom")
    assert failed.status_code == 502
    assert failed.json()["errorMessage"] == "user code exception caught" and "boom" in failed.json()["stackTrace"]


def test_cors_preflight_is_answered_from_the_cors_config(url: Url) -> None:
    before = len(url.cloud.scf.invocations)
    ok = url.request(
        "OPTIONS",
        "/jobs",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "X-Api-Token",
        },
    )
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert ok.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT"
    assert ok.headers["Access-Control-Allow-Headers"] == "content-type, x-api-token"
    assert ok.headers["Access-Control-Max-Age"] == "600"

    for headers in (
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"},
        {"Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-other"},
    ):
        refused = url.request("OPTIONS", "/jobs", headers=headers)
        assert refused.status_code == 403, headers
        assert "Access-Control-Allow-Origin" not in refused.headers
    assert len(url.cloud.scf.invocations) == before  # the platform answered; the function never ran

    actual = url.request("GET", "/jobs/1", headers={"Origin": ORIGIN})
    assert actual.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert actual.headers["Access-Control-Expose-Headers"] == "x-route"
    assert (
        "Access-Control-Allow-Origin" not in url.request("GET", "/", headers={"Origin": "https://evil.example"}).headers
    )


def test_a_function_url_made_through_the_api_is_listed_with_its_url(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    ep.cloud.scf.settle_s = 0
    c = client(ep)
    handler = "def main_handler(event, context):\n    return {'statusCode': 200, 'body': event['path']}\n"
    call(
        c,
        "CreateFunction",
        FunctionName="api",
        Runtime="Python3.10",
        Handler="index.main_handler",
        Code={"ZipFile": b64zip({"index.py": handler})},
    )
    desc = {"AuthType": "NONE", "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}}
    call(
        c,
        "CreateTrigger",
        FunctionName="api",
        Type="http",
        TriggerName="url-trigger",
        TriggerDesc=json.dumps(desc),
        Qualifier="$DEFAULT",
    )

    (listed,) = call(c, "ListTriggers", FunctionName="api").Triggers
    shown = json.loads(listed.TriggerDesc)
    extranet = shown["NetConfig"]["ExtranetUrl"]
    # https in process (the real form); http:// in server mode, which speaks no TLS (reached as a proxy)
    scheme = "http" if cloud_and_endpoint.cloud.base_url else "https"
    assert re.fullmatch(scheme + r"://1250000000-[a-z0-9]+\.ap-guangzhou\.tencentscf\.com", extranet)
    assert "IntranetUrl" not in shown["NetConfig"]
    (from_get,) = call(c, "GetFunction", FunctionName="api").Triggers
    assert json.loads(from_get.TriggerDesc)["NetConfig"]["ExtranetUrl"] == extranet
    public = ep.cloud.scf.function_url("api")
    assert public == (extranet if ep.server is None else extranet.replace("https://", "http://"))
    resp = requests.get(public + "/v1/x", proxies=ep.proxies, timeout=30)
    assert (resp.status_code, resp.text) == (200, "/v1/x")

    again = json.dumps({**desc, "CorsConfig": {"Origins": ["*"], "Methods": ["GET"]}})
    call(c, "UpdateTrigger", FunctionName="api", Type="http", TriggerName="url-trigger", TriggerDesc=again)
    assert ep.cloud.scf.function_url("api") == public  # the endpoint never changes once created
    second = json.dumps(desc)
    with pytest.raises(TencentCloudSDKException, match=r"ResourceInUse\.Trigger"):
        call(
            c,
            "CreateTrigger",
            FunctionName="api",
            Type="http",
            TriggerName="second",
            TriggerDesc=second,
            Qualifier="$DEFAULT",
        )

    call(c, "DeleteTrigger", FunctionName="api", Type="http", TriggerName="url-trigger", Qualifier="$DEFAULT")
    assert ep.cloud.scf.function_url("api") is None
    assert requests.get(public + "/", proxies=ep.proxies, timeout=30).status_code == 404


def test_cam_auth_refuses_unsigned_requests_and_no_extranet_means_no_public_url(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    ep.cloud.scf.settle_s = 0
    c = client(ep)
    handler = "def main_handler(event, context):\n    return 'ran'\n"
    call(
        c,
        "CreateFunction",
        FunctionName="guarded",
        Runtime="Python3.10",
        Code={"ZipFile": b64zip({"index.py": handler})},
    )
    desc = {"AuthType": "CAM", "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}}
    call(c, "CreateTrigger", FunctionName="guarded", Type="http", TriggerName="u", TriggerDesc=json.dumps(desc))
    public = ep.cloud.scf.function_url("guarded")
    resp = requests.get(public + "/", proxies=ep.proxies, timeout=30)
    assert resp.status_code == 403 and ep.cloud.scf.invocations == []

    call(
        c,
        "CreateFunction",
        FunctionName="private",
        Runtime="Python3.10",
        Code={"ZipFile": b64zip({"index.py": handler})},
    )
    desc = {"AuthType": "NONE", "NetConfig": {"EnableIntranet": True, "EnableExtranet": False}}
    call(c, "CreateTrigger", FunctionName="private", Type="http", TriggerName="u", TriggerDesc=json.dumps(desc))
    assert ep.cloud.scf.function_url("private") is None


def test_the_server_answers_a_loopback_alias_without_a_proxy(server_endpoint: Endpoint) -> None:
    app = server_endpoint.cloud.deploy_app(str(FIXTURE), VARS)
    local = server_endpoint.cloud.scf.local_function_url("emu-web")
    assert local == app.local_api_url
    assert local is not None and local.startswith(f"{server_endpoint.server.url}/_function-url/")

    resp = requests.get(local + "/jobs/7?a=1", timeout=30)  # no proxy, no Host header games
    event = resp.json()["event"]
    assert (event["path"], event["queryString"]) == ("/jobs/7", {"a": "1"})  # the alias prefix is not in path
    assert requests.get(local, timeout=30).json()["event"]["path"] == "/"
    assert app.api_url is not None and app.api_url.startswith("http://1250000000-")  # the proxy form


def test_a_body_over_6_mb_is_refused(url: Url) -> None:
    resp = url.request("POST", "/", data=b"x" * (6 * 1024 * 1024 + 1))
    assert resp.status_code == 413
