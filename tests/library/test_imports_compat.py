"""Every import line of code written for qcloud_vod works with the package name changed."""

from __future__ import annotations

import importlib

import pytest

import vodflow


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("vod_upload_client", "VodUploadClient"),
        ("model", "VodUploadRequest"),
        ("model", "VodUploadResponse"),
        ("exception", "VodClientException"),
    ],
)
def test_the_official_module_paths_exist_under_vodflow(module: str, name: str) -> None:
    official = importlib.import_module("qcloud_vod." + module)
    ours = importlib.import_module("vodflow." + module)
    assert hasattr(official, name)
    assert getattr(ours, name) is getattr(vodflow, name)
