"""Endpoints (real hosts by default, one local server on request) and logs without secrets."""

from __future__ import annotations

import json
import logging

import pytest

from vodflow.clients import cos_client, vod_client
from vodflow.credentials import Credentials
from vodflow.endpoints import ENV_VAR, Endpoints
from vodflow.errors import VodValidationError
from vodflow.logs import JsonFormatter

CREDS = Credentials("AKIDexample123", "secretkey-never-logged", "token-never-logged")


def test_default_is_the_real_hosts_over_https() -> None:
    endpoints = Endpoints.from_environment({})
    assert endpoints.is_default
    vod = vod_client(CREDS, "ap-guangzhou", endpoints)
    assert vod._get_endpoint() == "vod.tencentcloudapi.com"
    assert vod.profile.httpProfile.scheme == "https"
    cos = cos_client(CREDS, "ap-guangzhou", endpoints)
    assert (
        cos._conf.uri(bucket="b-1250000000", path="k.mp4") == "https://b-1250000000.cos.ap-guangzhou.myqcloud.com/k.mp4"
    )


def test_the_environment_variable_sends_everything_to_one_local_server() -> None:
    endpoints = Endpoints.from_environment({ENV_VAR: "http://127.0.0.1:8123"})
    vod = vod_client(CREDS, "ap-guangzhou", endpoints)
    assert vod._get_endpoint() == "127.0.0.1:8123"
    assert vod.profile.httpProfile.scheme == "http"
    cos = cos_client(CREDS, "ap-guangzhou", endpoints)
    assert cos._conf.uri(bucket="b-1250000000", path="k.mp4") == "http://127.0.0.1:8123/k.mp4"
    assert cos._conf.get_host(Bucket="b-1250000000") == "b-1250000000.cos.ap-guangzhou.myqcloud.com"


def test_cos_always_gets_the_token() -> None:
    assert cos_client(CREDS, "ap-guangzhou", Endpoints())._conf._token == "token-never-logged"


def test_a_bad_endpoint_is_refused() -> None:
    with pytest.raises(VodValidationError) as caught:
        Endpoints.from_environment({ENV_VAR: "127.0.0.1:8123"})
    assert caught.value.field == ENV_VAR


def test_json_logs_drop_secret_fields(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord("vodflow.test", logging.INFO, __file__, 1, "applied", None, None)
    record.request_id = "rid-1"
    record.token = "token-never-logged"
    record.secret_key = "secretkey-never-logged"
    record.vod_session_key = "session-never-logged"
    record.source_context = "user-data"
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["msg"] == "applied"
    assert data["request_id"] == "rid-1"
    for secret in ("token-never-logged", "secretkey-never-logged", "session-never-logged", "user-data"):
        assert secret not in line


def test_without_a_temp_certificate_cos_still_gets_the_callers_token() -> None:
    from vodflow.flow import Session, storage_client

    session = Session("vod-1250000000", "ap-guangzhou", "/a/f.mp4", None, "sk", certificate=None)
    cos = storage_client(session, CREDS, Endpoints())
    assert cos._conf._token == "token-never-logged"
    assert cos._conf._secret_id == "AKIDexample123"
