"""Credentials come from SCF's environment names and never show their secret parts."""

from __future__ import annotations

import logging

import pytest

from vodflow.credentials import Credentials, from_scf_environment
from vodflow.errors import VodValidationError

KEY = "K3yThatMustNeverAppear"
TOKEN = "T0kenThatMustNeverAppear"


def test_scf_environment_names_are_read() -> None:
    creds = from_scf_environment(
        {"TENCENTCLOUD_SECRETID": "AKIDexample123", "TENCENTCLOUD_SECRETKEY": KEY, "TENCENTCLOUD_SESSIONTOKEN": TOKEN}
    )
    assert (creds.secret_id, creds.secret_key, creds.token) == ("AKIDexample123", KEY, TOKEN)


def test_token_is_optional() -> None:
    creds = from_scf_environment({"TENCENTCLOUD_SECRETID": "AKIDexample123", "TENCENTCLOUD_SECRETKEY": KEY})
    assert creds.token is None


def test_missing_variable_is_named() -> None:
    with pytest.raises(VodValidationError) as caught:
        from_scf_environment({"TENCENTCLOUD_SECRETKEY": KEY})
    assert caught.value.field == "TENCENTCLOUD_SECRETID"


def test_repr_and_logs_never_show_key_or_token(caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials("AKIDexample123", KEY, TOKEN)
    logging.getLogger("test").warning("creds %s %r", creds, creds)
    text = repr(creds) + str(creds) + caplog.text
    assert KEY not in text
    assert TOKEN not in text
    assert "AKIDexample123" not in text
    assert "AKID****" in text


@pytest.mark.parametrize("bad", ["", "with space", " lead"])
def test_bad_secret_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(VodValidationError) as caught:
        Credentials("AKIDexample123", bad)
    assert caught.value.field == "secret_key"
    assert bad.strip() == "" or bad not in str(caught.value)


def test_bad_keys_fail_at_upload_with_tencentclouds_code_before_any_request() -> None:
    from vodflow import VodUploadClient, VodUploadRequest

    request = VodUploadRequest()
    request.MediaFilePath = __file__
    request.MediaType = "mp4"
    with pytest.raises(VodValidationError) as caught:
        VodUploadClient("", KEY).upload("ap-guangzhou", request)
    assert caught.value.code == "InvalidCredential"
    assert caught.value.field == "secret_id"
