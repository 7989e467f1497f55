"""Property tests: any event or metadata gives a valid result or a clear error, never another exception."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.report import REPORT
from vodflow.errors import VodValidationError
from vodflow.pipeline.config import Config, deployment_variables
from vodflow.pipeline.events import RecordError, StagedObject, parse_cos_event
from vodflow.pipeline.options import FIELDS, IngestOptions, parse_options

CONFIG = Config.from_environment(deployment_variables({"VODFLOW_STAGING_BUCKET": "staging-1250000000"}))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.text(alphabet=string.ascii_letters + string.digits + "%/._-~ \x00é", max_size=40)


def records() -> st.SearchStrategy[Any]:
    """Records that look like COS's, with any field swapped for anything."""
    good = st.fixed_dictionaries(
        {
            "event": st.fixed_dictionaries(
                {"eventName": st.sampled_from(["cos:ObjectCreated:Put", "cos:ObjectRemove:Delete", "x"]) | JSON}
            ),
            "cos": st.fixed_dictionaries(
                {
                    "cosBucket": st.fixed_dictionaries(
                        {"appid": st.sampled_from(["1250000000", 1250000000]) | JSON, "name": st.just("staging") | JSON}
                    ),
                    "cosObject": st.fixed_dictionaries(
                        {"key": KEYS.map(lambda k: "/1250000000/staging/" + k) | JSON, "size": st.integers() | JSON},
                        optional={"meta": JSON},
                    ),
                }
            ),
        }
    )
    return good | JSON


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, st.fixed_dictionaries({"Records": st.lists(records(), max_size=3) | JSON})))
def test_any_event_gives_records_or_a_clear_error(event: Any) -> None:
    REPORT.count("properties: events tried")
    try:
        items = parse_cos_event(event)
    except VodValidationError as exc:
        assert exc.field and exc.message
        return
    for item in items:
        if isinstance(item, RecordError):
            assert item.error.field and item.error.field.startswith(f"Records[{item.index}]")
        else:
            assert isinstance(item, StagedObject)
            assert item.key and ".." not in item.key.split("/") and "\x00" not in item.key


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f"x-cos-meta-vod-{s}" for s in [*FIELDS, "cover", "unknown"]]) | st.text(max_size=20),
        st.text(max_size=300),
        max_size=5,
    )
)
def test_any_metadata_gives_options_or_an_error_naming_the_key(metadata: dict[str, str]) -> None:
    REPORT.count("properties: metadata tried")
    try:
        options = parse_options("incoming/a.mp4", metadata, CONFIG)
    except VodValidationError as exc:
        assert exc.field and exc.field.startswith("x-cos-meta-vod-"), (exc.field, exc.message)
        assert exc.field in exc.message
        return
    assert isinstance(options, IngestOptions)
