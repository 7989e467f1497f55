"""Procedures that run, through tencentcloud-sdk-python on both fronts: a ProcedureTaskId at CommitUpload,
WAITING → PROCESSING → FINISH on the emulator clock, ProcedureStateChanged with per-task results, outputs the
media host serves, injected task failures, DescribeTaskDetail and DescribeMediaInfos TranscodeInfo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.conftest import MODES, open_endpoint
from tests.emulator.test_vod_api import Env, error_code, upload

TASKS = [
    ("Transcode", 100010),
    ("Transcode", 100020),
    ("SnapshotByTimeOffset", 10),
    ("ImageSprites", 10),
    ("AdaptiveDynamicStreaming", 10),
]
BODY = b"\x00\x00\x00\x18ftypmp42 pretend video " * 50


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for endpoint in open_endpoint(request.param, tmp_path_factory.mktemp("vod-proc")):
        endpoint.cloud.vod.long_poll_s = 0.1
        endpoint.cloud.vod.add_procedure("Full", tasks=TASKS)
        yield Env(endpoint.cloud, endpoint.server)


def pull_all(env: Env) -> list:
    out = []
    while True:
        events = env.call("PullEvents").EventSet
        if not events:
            return out
        env.call("ConfirmEvents", EventHandles=[e.EventHandle for e in events])
        out.extend(events)


def test_a_procedure_runs_on_the_clock_and_reports_its_results(env: Env) -> None:
    env.call("ModifyEventConfig", Mode="PULL", UploadMediaCompleteEventSwitch="ON")
    _, committed = upload(env, body=BODY, Procedure="Full", SessionContext="job-7")
    (uploaded,) = pull_all(env)
    task_id = uploaded.FileUploadEvent.ProcedureTaskId
    assert task_id and env.cloud.vod.media(committed.FileId).procedure_task_id == task_id

    detail = env.call("DescribeTaskDetail", TaskId=task_id)
    assert (detail.TaskType, detail.Status) == ("Procedure", "WAITING")
    env.cloud.vod.advance(env.cloud.vod.task_start_s)
    assert env.call("DescribeTaskDetail", TaskId=task_id).Status == "PROCESSING"
    assert not pull_all(env)
    env.cloud.vod.advance(env.cloud.vod.task_delay_s)

    detail = env.call("DescribeTaskDetail", TaskId=task_id)
    assert detail.Status == "FINISH" and detail.FinishTime and detail.BeginProcessTime
    (changed,) = pull_all(env)
    assert changed.EventType == "ProcedureStateChanged"
    task = changed.ProcedureStateChangeEvent
    assert (task.TaskId, task.Status, task.ErrCode, task.FileId) == (task_id, "FINISH", 0, committed.FileId)
    assert task.SessionContext == "job-7" and task.FileUrl == committed.MediaUrl
    types = [r.Type for r in task.MediaProcessResultSet]
    assert types == [t for t, _ in TASKS]
    transcodes = [r.TranscodeTask for r in task.MediaProcessResultSet if r.Type == "Transcode"]
    assert [t.Status for t in transcodes] == ["SUCCESS", "SUCCESS"]
    out = transcodes[1].Output
    assert (out.Definition, out.Container, out.Width, out.Height) == (100020, "mp4", 960, 540)
    assert out.Size == len(BODY) and out.Bitrate > 0 and out.Md5
    assert env.get(out.Url).content == BODY  # the media host serves the output
    snap = task.MediaProcessResultSet[2].SnapshotByTimeOffsetTask
    assert snap.Status == "SUCCESS" and env.get(snap.Output.PicInfoSet[0].Url).status_code == 200
    sprite = task.MediaProcessResultSet[3].ImageSpriteTask.Output
    assert env.get(sprite.ImageUrlSet[0]).status_code == 200 and env.get(sprite.WebVttUrl).status_code == 200
    ads = task.MediaProcessResultSet[4].AdaptiveDynamicStreamingTask.Output
    assert ads.Package == "HLS" and env.get(ads.Url).text.startswith("#EXTM3U")

    info = env.call("DescribeMediaInfos", FileIds=[committed.FileId]).MediaInfoSet[0]
    assert sorted(t.Definition for t in info.TranscodeInfo.TranscodeSet) == [100010, 100020]
    assert info.AdaptiveDynamicStreamingInfo.AdaptiveDynamicStreamingSet[0].Url == ads.Url
    # The detail carries the same ProcedureTask.
    assert env.call("DescribeTaskDetail", TaskId=task_id).ProcedureTask.MediaProcessResultSet[0].TranscodeTask.Output


def test_an_injected_failure_fails_its_task_and_the_procedure(env: Env) -> None:
    env.call("ModifyEventConfig", Mode="PULL")
    env.cloud.vod.fail_task("Full", "Transcode", 30010, "Unsupported codec.", definition=100020, err_code_ext="X.Y")
    upload(env, Procedure="Full")
    env.cloud.vod.settle()

    (changed,) = pull_all(env)
    task = changed.ProcedureStateChangeEvent
    assert (task.Status, task.ErrCode, task.Message) == ("FINISH", 30010, "Unsupported codec.")
    first, second = (r.TranscodeTask for r in task.MediaProcessResultSet[:2])
    assert (first.Status, first.ErrCode) == ("SUCCESS", 0)
    assert (second.Status, second.ErrCode, second.ErrCodeExt, second.Output) == ("FAIL", 30010, "X.Y", None)


def test_a_failure_for_the_next_run_only(env: Env) -> None:
    env.call("ModifyEventConfig", Mode="PULL")
    env.cloud.vod.add_procedure("Small")  # the default: one Transcode 100010
    env.cloud.vod.fail_task("Small", "Transcode", times=1)
    upload(env, Procedure="Small")
    upload(env, Procedure="Small")
    moved = env.cloud.vod.settle()
    assert moved == pytest.approx(env.cloud.vod.task_start_s + env.cloud.vod.task_delay_s, abs=0.5)

    results = sorted(e.ProcedureStateChangeEvent.ErrCode for e in pull_all(env))
    assert results == [0, 60000]


def test_without_a_procedure_or_with_an_empty_one_no_task_starts(env: Env) -> None:
    env.call("ModifyEventConfig", Mode="PULL", UploadMediaCompleteEventSwitch="ON")
    env.cloud.vod.add_procedure("Nothing", tasks=[])
    upload(env)
    upload(env, Procedure="Nothing")
    env.cloud.vod.settle()
    events = pull_all(env)
    assert [e.EventType for e in events] == ["NewFileUpload", "NewFileUpload"]
    assert [e.FileUploadEvent.ProcedureTaskId for e in events] == ["", ""]


def test_describe_task_detail_refuses_unknown_and_old_tasks(env: Env) -> None:
    assert error_code(lambda: env.call("DescribeTaskDetail", TaskId="nope")) == "InvalidParameterValue.TaskId"
    upload(env, Procedure="Full")
    task_id = next(iter(env.cloud.vod.runs))
    env.cloud.vod.add_sub_app(1500000009)
    assert (
        error_code(lambda: env.call("DescribeTaskDetail", TaskId=task_id, SubAppId=1500000009))
        == "InvalidParameterValue.TaskId"
    )
    env.cloud.clock.advance(3 * 24 * 3600 + 1)
    assert error_code(lambda: env.call("DescribeTaskDetail", TaskId=task_id)) == "InvalidParameterValue.TaskId"


def test_add_procedure_validates_task_types() -> None:
    from tencent_emulator.vod.procedures import TaskSpec

    assert TaskSpec.of("Transcode:100030") == TaskSpec("Transcode", 100030)
    assert TaskSpec.of({"Type": "ImageSprites", "Definition": 10}) == TaskSpec("ImageSprites", 10)
    with pytest.raises(ValueError):
        TaskSpec.of(("Transcoding", 1))
