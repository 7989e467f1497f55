"""Class 7 of issue 13 as a property: whatever body, headers, method and path a client sends to any route,
``Api.handle`` (with the api function's own runtime, against the deployed emulator) answers JSON: a 2xx,
or a 4xx ``{code, message, request_id}``; never a 500 for client input; and a refused request opens
nothing in COS (no multipart upload, no grant, no staged object)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, TOKEN, deploy, function_runtime
from vodflow.pipeline.api import ROUTES, Api

# Text with everything a JSON string can carry: control characters and lone surrogates included.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(JSON_VALUES, st.sampled_from([0, 1, -1, 10**20, 5 * 1024**3 * 10_000 + 1, "a.mp4", ""]))
UPLOAD_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "filename": st.one_of(FIELD_VALUES, st.sampled_from(["a.mp4", "../x.mp4", "a\u0000.mp4", "\ud800.mp4"])),
        "size": FIELD_VALUES,
        "expires_in": FIELD_VALUES,
        "content_type": st.one_of(FIELD_VALUES, st.sampled_from(["video/mp4\r\nX: y", "vidéo/mp4"])),
        "options": st.one_of(
            JSON_VALUES,
            st.dictionaries(
                st.sampled_from(["procedure", "class_id", "cover", "media_name", "expire_time", "sub_app_id", "x"]),
                FIELD_VALUES,
                max_size=3,
            ),
        ),
        "key": FIELD_VALUES,
    },
)
RAW_BODIES = st.one_of(
    UPLOAD_BODIES.map(lambda b: json.dumps(b, ensure_ascii=False, allow_nan=True)),
    JSON_VALUES.map(lambda b: json.dumps(b, allow_nan=True)),
    ANY_TEXT,
    st.integers(1, 200).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 6000).map(lambda n: '{"filename": "a.mp4", "size": ' + "9" * n + "}"),
)
ROUTE_CALLS = st.sampled_from([(r.template, m) for r in ROUTES for m in r.methods]).map(
    lambda tm: (tm[1], tm[0].replace("{job_id}", "0" * 32).replace("{upload_id}", "0" * 32))
)
ODD_CALLS = st.tuples(
    st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"]),
    st.one_of(
        st.sampled_from([r.template for r in ROUTES]).flatmap(
            lambda t: ANY_TEXT.map(lambda seg: t.replace("{job_id}", seg).replace("{upload_id}", seg))
        ),
        ANY_TEXT.map(lambda p: "/" + p),
    ),
)
CALLS = st.one_of(ROUTE_CALLS, ROUTE_CALLS, ROUTE_CALLS, ODD_CALLS)  # mostly real routes, some anything
HEADERS = st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=4)


def _opened(app: Any) -> tuple[int, int, int]:
    cos = app.cloud.cos
    return (
        len(cos.list_multipart_uploads(BUCKET)),
        len(cos.list_objects(BUCKET, prefix=".vodflow/uploads/").contents),
        len(cos.list_objects(BUCKET, prefix="incoming/").contents),
    )


def test_any_request_to_any_route_gets_json_never_a_500_and_a_refusal_opens_nothing(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud)
        rt = function_runtime(app, "vodflow-api")
        api = Api(runtime=lambda: rt, token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
        seen: dict[int, int] = {}

        @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(
            call=CALLS,
            body=RAW_BODIES,
            headers=HEADERS,
            query=st.dictionaries(st.sampled_from(["limit", "marker", "x"]), ANY_TEXT, max_size=2),
            authorized=st.sampled_from([True, True, True, False]),
        )
        def check(
            call: tuple[str, str], body: str, headers: dict[str, str], query: dict[str, str], authorized: bool
        ) -> None:
            method, path = call
            if authorized:
                headers = {**headers, "authorization": f"Bearer {TOKEN}"}
            before = _opened(app)
            event = {"httpMethod": method, "path": path, "headers": headers, "queryString": query, "body": body}
            reply = api.handle(event, "prop-1")
            status = reply["statusCode"]
            seen[status] = seen.get(status, 0) + 1
            assert status < 500, (method, path, body[:200], reply["body"])
            if status == 204:
                return
            if status == 200 and reply["headers"].get("Content-Type", "").startswith(
                ("text/", "application/javascript")
            ):
                assert method == "GET" and (path.rstrip("/") == "" or path.startswith("/static/")), path
                return  # the upload page and its assets: the one non-JSON success
            text = reply["body"]
            text.encode("utf-8")  # every other reply is valid UTF-8 JSON
            parsed = json.loads(text)
            if status >= 400:
                assert set(parsed) == {"code", "message", "request_id"}, parsed
                assert "Traceback" not in text and ".py" not in parsed["message"]
                assert _opened(app) == before, (method, path, body[:200], parsed)

        check()
        assert seen.get(400, 0) > 20 and seen.get(404, 0) > 0, seen
