"""Security: no access without the token, presigned URLs scoped and expiring, VOD certificates scoped to
their session, the execution role's policy sufficient and minimal, and the leak scanner itself able to fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError
from tencentcloud.common import credential
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator import mock_tencent
from tests.conftest import LeakScan
from tests.pipeline.harness import (
    BUCKET,
    ROOT,
    SMALL_PLAN,
    TOKEN,
    Deployed,
    deploy,
    function_runtime,
    media_bytes,
    only_result,
    open_uploads,
)
from tests.reliability.report import REPORT
from vodflow.pipeline.config import MIB, Config, deployment_variables
from vodflow.pipeline.sweeper import sweep
from vodflow_ops.deploy import render_role_policy


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Deployed]:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        yield deploy(cloud)


def api(app: Deployed, method: str, path: str, token: Any = TOKEN, **kwargs: Any) -> requests.Response:
    headers = {} if token is None else {"Authorization": token if " " in str(token) else f"Bearer {token}"}
    return requests.request(method, app.api_url + path, headers=headers, timeout=30, **kwargs)


# -- the API token ----------------------------------------------------------------------------------
def one_char_off(token: str) -> list[str]:
    """The token with one character changed at the start, the middle and the end; one longer, one shorter."""
    out = []
    for i in (0, len(token) // 2, len(token) - 1):
        c = "x" if token[i] != "x" else "y"
        out.append(token[:i] + c + token[i + 1 :])
    return [*out, token + "0", token[:-1]]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/jobs", None),
        ("POST", "/jobs", {"key": "incoming/a.mp4"}),
        ("POST", "/uploads", {"filename": "a.mp4", "size": 9}),
        ("GET", "/jobs/0123456789abcdef0123456789abcdef", None),
    ],
)
def test_every_private_route_refuses_a_missing_wrong_or_almost_right_token(
    app: Deployed, method: str, path: str, body: Any
) -> None:
    wrong = [
        None,
        "",
        "Bearer",
        "Basic " + TOKEN,
        "Bearer wrong",
        TOKEN.upper(),
        *one_char_off(TOKEN),
        f"Bearer {TOKEN} x",
    ]
    for token in wrong:
        resp = api(app, method, path, token=token, json=body)
        assert resp.status_code == 401, (token, resp.status_code, resp.text)
        reply = resp.json()
        assert reply["code"] == "AuthFailure.Token"
        assert TOKEN not in resp.text
    assert app.jobs() == [] and app.all_media() == []
    assert api(app, method, path, json=body).status_code != 401  # and the right token does get through
    REPORT.count("security: requests with a bad token refused", len(wrong))


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every token, right or wrong, long or short, is reduced to a SHA-256 digest and compared with
    hmac.compare_digest: equal lengths, no early exit on the first wrong character."""
    import hashlib
    import hmac

    from vodflow.pipeline import api as api_module
    from vodflow.pipeline.events import parse_http_event

    compared: list[tuple[int, int]] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((len(a), len(b)))
        return original(a, b)

    monkeypatch.setattr(api_module.hmac, "compare_digest", spy)
    handler = api_module.Api(runtime=lambda: None, token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())  # type: ignore[arg-type,return-value]
    for token in [TOKEN, *one_char_off(TOKEN), "x", "y" * 500]:
        req = parse_http_event({"httpMethod": "GET", "path": "/jobs", "headers": {"Authorization": f"Bearer {token}"}})
        try:
            handler.authenticate(req)
            assert token == TOKEN
        except api_module.ApiError as exc:
            assert exc.status == 401 and token != TOKEN
    assert compared and all(pair == (64, 64) for pair in compared)


# -- presigned URLs ---------------------------------------------------------------------------------
def test_a_presigned_put_allows_only_its_key_and_expires(app: Deployed) -> None:
    resp = api(app, "POST", "/uploads", json={"filename": "clip.mp4", "size": 1000, "expires_in": 60})
    assert resp.status_code == 201, resp.text
    grant = resp.json()
    url, key = grant["url"], grant["key"]
    other = url.replace(key.rsplit("/", 1)[1], "other.mp4")
    refused = requests.put(other, data=b"x" * 1000, headers=grant["headers"], timeout=30)
    assert refused.status_code == 403, refused.text
    refused_get = requests.get(url, timeout=30)  # a PUT grant is not a read
    assert refused_get.status_code == 403
    app.cloud.clock.advance(120)  # past its 60 s
    late = requests.put(url, data=b"x" * 1000, headers=grant["headers"], timeout=30)
    assert late.status_code == 403, late.text
    assert app.cloud.cos.head_object(BUCKET, key) is None
    REPORT.count("security: presigned misuse refused", 3)


# -- VOD's temporary certificate --------------------------------------------------------------------
def test_a_vod_certificate_writes_only_its_sessions_paths(app: Deployed) -> None:
    app.stage("incoming/cert.mp4", media_bytes(5 * MIB, seed=61))
    app.drain()
    job, _ = only_result(app)
    session = app.record(job["job_id"], "g1/session.json")
    assert session is not None
    cert = session["certificate"]
    cos = CosS3Client(
        CosConfig(
            Region=session["storage_region"],
            SecretId=cert["secret_id"],
            SecretKey=cert["secret_key"],
            Token=cert["token"],
        )
    )
    bucket = session["storage_bucket"]
    media_key = session["media_storage_path"].lstrip("/")
    attempts = [
        lambda: cos.put_object(Bucket=bucket, Key=media_key.rsplit("/", 2)[0] + "/other/f0.mp4", Body=b"x"),
        lambda: cos.put_object(Bucket=bucket, Key="elsewhere.mp4", Body=b"x"),
        lambda: cos.put_object(Bucket=BUCKET, Key="incoming/planted.mp4", Body=b"x"),
        lambda: cos.get_object(Bucket=BUCKET, Key="incoming/cert.mp4"),
        lambda: cos.delete_object(Bucket=bucket, Key=media_key),
    ]
    for attempt in attempts:
        with pytest.raises(CosServiceError) as err:
            attempt()
        assert err.value.get_status_code() == 403, err.value.get_error_msg()
    REPORT.count("security: certificate misuse refused", len(attempts))


def deploy_under(cloud: Any, env: dict[str, str], policy: dict[str, Any]) -> Deployed:
    """The harness's deploy, with the functions' role keys scoped to ``policy`` (a versioned staging bucket
    and a separate state bucket when ``env`` asks for them, as the harness does)."""
    cloud.cos.create_bucket(BUCKET)
    cos = CosS3Client(CosConfig(Region=cloud.region, SecretId=cloud.secret_id, SecretKey=cloud.secret_key))
    state = env.get("VODFLOW_STATE_BUCKET") or BUCKET
    cloud.cos.create_bucket(state)
    if env.get("VODFLOW_STAGING_VERSIONED") == "true":
        cos.put_bucket_versioning(Bucket=BUCKET, Status="Enabled")
    variables = deployment_variables(env)
    cloud.deploy_app(str(ROOT / "serverless.yml"), variables=variables, role_policy=policy)
    vod = VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), cloud.region)
    return Deployed(cloud, cos, vod, variables, state)


# -- the execution role's policy --------------------------------------------------------------------
STATE = "state-1250000000"
VERSIONED = {"VODFLOW_STAGING_VERSIONED": "true", "VODFLOW_STATE_BUCKET": STATE}
CONDITIONAL = {
    # Listed for paths this story does not take, each named: a staging policy of "tag", HLS/DASH packages.
    "cos:PutObjectTagging": "VODFLOW_STAGING_POLICY=tag (the job's version only, with versionId)",
    "cos:ListParts": "GET /uploads/{id} of a multipart upload (the parts uploaded so far, on the staging bucket)",
    "scf:InvokeFunction": "the CAM name of Invoke in some consoles",
    # After the commit (issue 14): VODFLOW_EVENTS_MODE=pull reads VOD's queue; imports pull URLs; the sweeper
    # asks DescribeTaskDetail for a flow whose event is late. This story has events off and no import.
    "vod:PullEvents": "VODFLOW_EVENTS_MODE=pull (the sweeper reads VOD's event queue)",
    "vod:ConfirmEvents": "VODFLOW_EVENTS_MODE=pull (events confirmed once recorded)",
    "vod:DescribeTaskDetail": "a Procedure or PullUpload whose end event is late",
    "vod:PullUpload": "POST /jobs with a url (import)",
    # The sweeper aborts staging multipart uploads abandoned past VODFLOW_MAX_UPLOAD_AGE_S (none in this story).
    "cos:AbortMultipartUpload": "abandoned POST /uploads multipart uploads (the sweeper, after the maximum age)",
    # The staging bucket's multipart actions serve POST /uploads over 64 MiB (the API initiates, the
    # uploader's presigned part and complete URLs are signed by the role).
    **{
        f"cos:{a}": "presigned multipart uploads into staging (POST /uploads over 64 MiB)"
        for a in ("InitiateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
    },
}


def test_the_role_policy_suffices_for_the_whole_story_and_lists_nothing_unused(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        # delete acts on the job's own version (versionId): a versioned staging bucket, job records elsewhere.
        env = {**SMALL_PLAN, "VODFLOW_STAGING_POLICY": "delete", **VERSIONED}
        config = Config.from_environment(deployment_variables(env))
        policy = json.loads(render_role_policy(config))
        app = deploy_under(cloud, env, policy)
        small, large = media_bytes(3000, seed=71), media_bytes(9 * MIB + 5, seed=72)
        app.stage("incoming/role-small.mp4", small)
        app.stage("incoming/role-large.mp4", large)
        cloud.faults.inject("cos", "UploadPart", kill="before", function="vodflow-part-copy", times=3)
        cloud.faults.inject("vod", "CommitUpload", kill="after", function="vodflow-finalize", times=1)  # → SearchMedia
        app.drain()
        sweep(function_runtime(app), now=cloud.clock.wall() + 10_000)  # the sweeper under the role, too
        app.drain()
        resp = api(app, "GET", "/jobs")
        assert resp.status_code == 200
        denied = [r for r in cloud.requests if r.function and r.status == 403]
        assert denied == [], [(r.function, r.service, r.action) for r in denied]
        assert sorted(app.fetch(m.media_url) for m in app.all_media()) == sorted([small, large])
        assert open_uploads(app) == []
        # The role's calls: every VOD and SCF call, and COS calls on the staging bucket (VOD's bucket is
        # written with VOD's certificate, not the role).
        used = {
            f"{r.service}:{r.action}"
            for r in cloud.requests
            if r.function and (r.service != "cos" or r.host.startswith((BUCKET + ".", STATE + ".")))
        }
    listed = {a.removeprefix("name/") for st in policy["statement"] for a in st["action"]}
    unused = sorted(listed - used - set(CONDITIONAL))
    assert unused == [], f"the role policy lists actions the pipeline never calls: {unused}"
    REPORT.note(f"role policy: {len(listed)} actions listed, {len(used & listed)} used in the story, none denied")


# -- the leak scanner can fail ------------------------------------------------------------------------
def test_the_leak_scanner_finds_a_secret_in_a_log_line_and_a_record() -> None:
    scan = LeakScan()
    secret = "s3cr3tK3yValue0123456789abcdef"
    scan.add('{"msg": "calling", "note": "' + secret + '"}')
    scan.scan({secret, "unrelated-secret-value-000"}, ['{"file_id": "1", "leaked": "' + secret + '"}'])
    assert len(scan.leaks) == 1 and secret not in scan.leaks[0]
    clean = LeakScan()
    clean.add('{"msg": "fine"}')
    clean.scan({secret}, [])
    assert clean.leaks == []
