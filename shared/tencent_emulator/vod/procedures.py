"""Task flows (Procedures) that run: templates, per-task failures, and the ProcedureTask they produce.

Shapes follow tencentcloud-sdk-python ``vod/v20180717/models.py``: ``ProcedureTask``, ``MediaProcessTaskResult``
(``Type`` + one ``<Kind>Task`` member), ``MediaProcessTask<Kind>Result`` (``Status`` PROCESSING | SUCCESS | FAIL,
``ErrCodeExt``, ``ErrCode``, ``Message``, ``Input``, ``Output``, ``Progress``, ``BeginProcessTime``, ``FinishTime``),
``MediaTranscodeItem``, ``MediaSnapshotByTimeOffsetItem``, ``MediaImageSpriteItem``,
``AdaptiveDynamicStreamingInfoItem``. Timing, outputs and presets are the emulator's (FIDELITY.md ⚠).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

# Task type (MediaProcessTaskResult.Type) → the member of MediaProcessTaskResult that carries it.
RESULT_MEMBERS = {
    "Transcode": "TranscodeTask",
    "AnimatedGraphics": "AnimatedGraphicTask",
    "SnapshotByTimeOffset": "SnapshotByTimeOffsetTask",
    "SampleSnapshot": "SampleSnapshotTask",
    "ImageSprites": "ImageSpriteTask",
    "CoverBySnapshot": "CoverBySnapshotTask",
    "AdaptiveDynamicStreaming": "AdaptiveDynamicStreamingTask",
}
TASK_TYPES = tuple(RESULT_MEMBERS)

# ⚠ Preset transcode templates (doc 266/33476 lists them; sizes/bitrates here are approximations).
TRANSCODE_PRESETS: dict[int, tuple[str, int, int, int]] = {
    # definition: (container, width, height, bitrate bps)
    100010: ("mp4", 640, 360, 400_000),
    100020: ("mp4", 960, 540, 800_000),
    100030: ("mp4", 1280, 720, 1_500_000),
    100040: ("mp4", 1920, 1080, 3_000_000),
    100210: ("hls", 640, 360, 400_000),
    100220: ("hls", 960, 540, 800_000),
    100230: ("hls", 1280, 720, 1_500_000),
    100240: ("hls", 1920, 1080, 3_000_000),
}
DEFAULT_TASKS: tuple[tuple[str, int], ...] = (("Transcode", 100010),)

TaskLike = Union["TaskSpec", tuple[str, int], dict[str, Any], str]


@dataclass(frozen=True)
class TaskSpec:
    """One task of a template: its type and template Definition."""

    type: str
    definition: int = 10

    @classmethod
    def of(cls, value: TaskLike) -> TaskSpec:
        """From a TaskSpec, ``("Transcode", 100010)``, ``{"Type": ..., "Definition": ...}``, ``"Transcode:100010"``."""
        if isinstance(value, TaskSpec):
            spec = value
        elif isinstance(value, tuple):
            spec = cls(str(value[0]), int(value[1]))
        elif isinstance(value, dict):
            spec = cls(str(value["Type"]), int(value.get("Definition", 10)))
        else:
            kind, _, definition = str(value).partition(":")
            spec = cls(kind, int(definition) if definition else (100010 if kind == "Transcode" else 10))
        if spec.type not in RESULT_MEMBERS:
            raise ValueError(f"unknown task type {spec.type!r} (one of {', '.join(TASK_TYPES)})")
        return spec


@dataclass
class Failure:
    """An injected failure: tasks of ``type`` (and ``definition``, if given) of a template fail."""

    type: str
    definition: Optional[int]
    err_code: int
    err_code_ext: str
    message: str
    times: Optional[int]  # None: every run; n: the next n runs only


@dataclass
class ProcedureTemplate:
    name: str
    sub_app_id: int
    tasks: list[TaskSpec]
    delay_s: Optional[float] = None  # per task; None: the model's ``task_delay_s``
    failures: list[Failure] = field(default_factory=list)

    def failure_for(self, spec: TaskSpec) -> Optional[Failure]:
        for f in self.failures:
            if f.type == spec.type and (f.definition is None or f.definition == spec.definition):
                if f.times is not None:
                    if f.times <= 0:
                        continue
                    f.times -= 1
                return f
        return None


@dataclass
class TaskRun:
    """One task of a running procedure."""

    spec: TaskSpec
    status: str = "PROCESSING"  # PROCESSING | SUCCESS | FAIL
    err_code: int = 0
    err_code_ext: str = ""
    message: str = "SUCCESS"
    output: Optional[dict[str, Any]] = None
    begin: Optional[float] = None
    finish: Optional[float] = None
    due: float = 0.0
    fail: Optional[Failure] = None  # decided when the run starts (a ``times``-limited failure counts runs)


@dataclass
class ProcedureRun:
    """A ProcedureTaskId: the procedure's tasks on one media file."""

    task_id: str
    sub_app_id: int
    procedure: str
    file_id: str
    created: float
    begin_at: float  # WAITING until then, PROCESSING after
    tasks: list[TaskRun]
    session_context: str = ""
    session_id: str = ""
    tasks_priority: int = 0
    tasks_notify_mode: str = "Finish"
    status: str = "WAITING"  # WAITING | PROCESSING | FINISH (DescribeTaskDetail)
    begin: Optional[float] = None
    finish: Optional[float] = None
    err_code: int = 0
    message: str = "SUCCESS"

    @property
    def failed(self) -> Optional[TaskRun]:
        return next((t for t in self.tasks if t.status == "FAIL"), None)


def task_input(spec: TaskSpec) -> dict[str, Any]:
    if spec.type == "Transcode":
        return {"Definition": spec.definition, "WatermarkSet": [], "MosaicSet": [], "HeadTailSet": []}
    if spec.type == "SnapshotByTimeOffset":
        return {"Definition": spec.definition, "ExtTimeOffsetSet": ["0s"], "TimeOffsetSet": [0.0], "WatermarkSet": []}
    return {"Definition": spec.definition}


def task_result(run: TaskRun, iso: Any) -> dict[str, Any]:
    """One ``MediaProcessTaskResult`` item."""
    member = RESULT_MEMBERS[run.spec.type]
    item: dict[str, Any] = {"Type": run.spec.type}
    for m in RESULT_MEMBERS.values():
        item[m] = None
    item[member] = {
        "Status": run.status,
        "ErrCodeExt": run.err_code_ext,
        "ErrCode": run.err_code,
        "Message": run.message,
        "Input": task_input(run.spec),
        "Output": run.output,
        "Progress": 100 if run.status != "PROCESSING" else 0,
        "BeginProcessTime": iso(run.begin) if run.begin is not None else "",
        "FinishTime": iso(run.finish) if run.finish is not None else "",
    }
    return item
