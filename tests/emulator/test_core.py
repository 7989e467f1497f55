"""The emulator's machinery, exercised through a tiny echo service: routing, faults, the request log, both fronts."""

from __future__ import annotations

import json
from typing import Optional

import pytest
import requests

from tencent_emulator import FunctionKilled, mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.http import Request, Response
from tencent_emulator.core.server import EmulatorServer, NetworkModel


class EchoFront:
    """Answers ``echo.myqcloud.com`` with what it received."""

    service = "echo"

    def match(self, req: Request) -> bool:
        return req.host == "echo.myqcloud.com"

    def classify(self, req: Request) -> str:
        return req.params.get("action", "Echo")

    def handle(self, req: Request, action: str) -> Response:
        body = req.read_body()
        payload = {"method": req.method, "path": req.key_path, "query": req.query, "len": len(body)}
        return Response(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        return Response(status, {"Content-Type": "application/json"}, json.dumps({"code": code}).encode())


def with_echo(cloud: Cloud) -> Cloud:
    cloud.register_front(EchoFront())
    return cloud


def test_requests_to_tencent_hosts_reach_the_cloud_and_are_logged() -> None:
    with mock_tencent() as cloud:
        with_echo(cloud)
        r = requests.put("https://echo.myqcloud.com/a%20b/c?x=1&uploads", data=b"hello")
        assert r.status_code == 200
        assert r.json() == {"method": "PUT", "path": "/a b/c", "query": [["x", "1"], ["uploads", ""]], "len": 5}
        assert [(x.service, x.action, x.status) for x in cloud.requests] == [("echo", "Echo", 200)]


def test_unknown_tencent_host_is_a_404_not_a_passthrough() -> None:
    with mock_tencent() as cloud:
        r = requests.get("https://nothing-here.tencentcloudapi.com/")
        assert r.status_code == 404
        assert cloud.requests[-1].service == "unknown"


def test_error_fault_fires_the_given_number_of_times() -> None:
    with mock_tencent() as cloud:
        with_echo(cloud)
        fault = cloud.faults.inject("echo", "Echo", code="SlowDown", status=503, times=2)
        statuses = [requests.get("https://echo.myqcloud.com/").status_code for _ in range(3)]
        assert statuses == [503, 503, 200]
        assert fault.fired == 2


def test_drop_and_timeout_faults_surface_as_requests_errors() -> None:
    with mock_tencent() as cloud:
        with_echo(cloud)
        cloud.faults.inject("echo", "*", drop=True)
        with pytest.raises(requests.ConnectionError):
            requests.get("https://echo.myqcloud.com/")
        cloud.faults.inject("echo", "*", timeout=True)
        with pytest.raises(requests.Timeout):
            requests.get("https://echo.myqcloud.com/")
        assert requests.get("https://echo.myqcloud.com/").status_code == 200


def test_probabilistic_faults_replay_from_their_seed() -> None:
    def run() -> list[int]:
        with mock_tencent() as cloud:
            with_echo(cloud)
            cloud.faults.inject("echo", "*", code="InternalError", status=500, times=None, probability=0.5, seed=42)
            return [requests.get("https://echo.myqcloud.com/").status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 500 in first
    assert 200 in first


def test_kill_fault_only_hits_the_named_function() -> None:
    with mock_tencent() as cloud:
        with_echo(cloud)
        cloud.faults.inject("echo", "Echo", kill="after", function="finalize")
        assert requests.get("https://echo.myqcloud.com/").status_code == 200  # not inside finalize
        cloud.caller.function = "finalize"
        try:
            with pytest.raises(FunctionKilled) as info:
                requests.get("https://echo.myqcloud.com/")
        finally:
            cloud.caller.function = None
        assert info.value.point == "after:echo:Echo"
        # "after" means the request was handled before the kill.
        assert [r.status for r in cloud.requests] == [200, 200]


def test_decorator_passes_the_cloud() -> None:
    seen: list[str] = []

    @mock_tencent(app_id="1251111111")
    def body(cloud: Cloud) -> None:
        seen.append(cloud.app_id)

    body()
    assert seen == ["1251111111"]


def test_server_front_routes_by_host_header_and_by_proxy_request() -> None:
    cloud = with_echo(Cloud(mode="server"))
    server = EmulatorServer(cloud, net=NetworkModel()).start()
    try:
        direct = requests.post(f"{server.url}/k?action=Direct", data=b"x" * 1000, headers={"Host": "echo.myqcloud.com"})
        assert direct.json()["len"] == 1000
        proxied = requests.put(
            "http://echo.myqcloud.com/p", data=iter([b"ab", b"cd"]), proxies={"http": server.url}
        )  # a chunked body through the proxy form
        assert proxied.json() == {"method": "PUT", "path": "/p", "query": [], "len": 4}
        assert [r.action for r in cloud.requests] == ["Direct", "Echo"]
    finally:
        server.stop()


def test_server_network_model_caps_bandwidth() -> None:
    cloud = with_echo(Cloud(mode="server"))
    server = EmulatorServer(cloud, net=NetworkModel(bandwidth=2_000_000)).start()
    try:
        r = requests.post(f"{server.url}/", data=b"x" * 500_000, headers={"Host": "echo.myqcloud.com"})
        assert r.json()["len"] == 500_000
        # The pacing itself is measured in benchmarks, not asserted here as a wall-clock time.
    finally:
        server.stop()


def test_functions_see_their_own_environment_overlay() -> None:
    import os
    import threading

    with mock_tencent():
        seen: dict[str, str] = {}

        def worker() -> None:
            os.environ.set_overlay({"TENCENTCLOUD_SECRETID": "role-key"})  # type: ignore[attr-defined]
            seen["worker"] = os.environ.get("TENCENTCLOUD_SECRETID", "")

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert seen["worker"] == "role-key"
        assert os.environ.get("TENCENTCLOUD_SECRETID") != "role-key"


def test_over_http_the_caller_is_known_by_its_role_key() -> None:
    cloud = with_echo(Cloud(mode="server"))
    role = cloud.iam.issue_temporary("scf-role:vodflow-finalize", 600)
    other = cloud.iam.issue_temporary("sts:someone", 600)
    fault = cloud.faults.inject("echo", "Echo", code="SlowDown", status=503, function="vodflow-finalize", times=None)
    server = EmulatorServer(cloud).start()
    try:

        def send(key_id: str, token: str) -> int:
            auth = f"q-sign-algorithm=sha1&q-ak={key_id}&q-sign-time=1;2&q-key-time=1;2&q-signature=x"
            headers = {"Host": "echo.myqcloud.com", "Authorization": auth, "x-cos-security-token": token}
            return requests.get(f"{server.url}/", headers=headers, timeout=10).status_code

        assert send(other.secret_id, other.token or "") == 200
        assert send(role.secret_id, role.token or "") == 503
        assert fault.fired == 1
        first, second = cloud.requests
        assert (first.principal, first.function, first.token) == ("sts:someone", None, True)
        assert (second.principal, second.function) == ("scf-role:vodflow-finalize", "vodflow-finalize")
    finally:
        server.stop()


def test_the_emulator_crc64_is_the_one_the_cos_sdk_checks() -> None:
    import os

    import crcmod

    from tencent_emulator.cos.crc64 import combine, crc64

    sdk = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
    a, b = os.urandom(100_003), os.urandom(7)
    assert crc64(a + b) == sdk(a + b)
    assert crc64(b, crc64(a)) == sdk(a + b)  # streaming
    assert combine(crc64(a), crc64(b), len(b)) == sdk(a + b)
