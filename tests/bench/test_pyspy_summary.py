"""bench.pyspy's reading of py-spy's raw output (``record --subprocesses --format raw``, py-spy 0.4).

The sample below is in the format py-spy wrote for a recording of a process tree: every record starts with
the chain of processes from the recorded command (shown with an empty command line) down to the sampled
one, then the thread's frames, then the count. A command line keeps its quotes and semicolons (bench.child's
JSON argument) and its newlines (``python -c``), so a record can span lines.
"""

from __future__ import annotations

from pathlib import Path

from bench import pyspy

PY = ".venv/bin/python"
DRIVER = 'process 100:""'
SERVER = f'process 101:"{PY} -m bench.server --info-file /tmp/s/info.json --bandwidth-mbps 50.0"'


def instance(pid: int, function: str) -> str:
    """A warm function instance as the emulator starts it: ``child.py --serve SPEC HANDLER_FILE``."""
    handler = f"/x/functions/{function}/index.py"
    return f'process {pid}:"{PY} /x/tencent_emulator/scf/child.py --serve /tmp/i{pid}/spec.json {handler}"'


COPY_A, COPY_B, INGEST, FINAL = (
    instance(110, "part_copy"),
    instance(111, "part_copy"),
    instance(112, "ingest"),
    instance(113, "finalize"),
)
RAW = f'process 120:"{PY} -m bench.child raw {{"info_file": "/tmp/s/info.json", "key": "a;b", "sep": ";", "size": 5}}"'
SCRIPT = f'process 130:"{PY} -c import time\nt = time.time()\nwhile 1: pass"'

PACE = "NetworkModel.pace (tencent_emulator/core/server.py:63)"
SERVE = "serve_forever (socketserver.py:235);_handle_request_noblock (socketserver.py:316)"
CHILD = "main (tencent_emulator/scf/child.py:90)"
SEND = "copy_part (vodflow/flow.py:210);_put (vodflow/clients.py:88);send (http/client.py:1009)"

SAMPLE = "\n".join(
    [
        f"{DRIVER};<module> (bench/run.py:1);main (bench/run.py:700);make_source (bench/run.py:233) 30",
        f"{DRIVER} 1",
        f"{DRIVER};{SERVER};<module> (bench/server.py:1);{SERVE};{PACE} 40",
        f"{DRIVER};{SERVER};thread (0x7f00);<module> (bench/server.py:1);crc64 (tencent_emulator/cos/crc64.py:24) 20",
        f"{DRIVER};{SERVER};{COPY_A};{CHILD};handler (part_copy/index.py:9);{SEND} 12",
        f"{DRIVER};{SERVER};{COPY_B};{CHILD};handler (part_copy/index.py:9);{SEND} 6",
        f"{DRIVER};{SERVER};{COPY_B};{CHILD};_read_line (socket.py:706) 2",
        f"{DRIVER};{SERVER};{INGEST};{CHILD};dispatch (vodflow/pipeline/dispatch.py:70) 5",
        f"{DRIVER};{SERVER};{FINAL};{CHILD} 3",
        f"{DRIVER};{RAW};main (bench/child.py:50);copy (bench/contenders.py:120) 8",
        f"{DRIVER};{SCRIPT};<module> (<string>:3) 4",
    ]
)


def test_records_keep_command_lines_with_newlines_whole() -> None:
    records = list(pyspy.records(SAMPLE))

    assert len(records) == 11
    assert records[-1].count("\n") == 2  # the python -c script's two newlines, in one record


def test_the_sampled_process_is_the_last_of_the_chain() -> None:
    samples = list(pyspy.parse(SAMPLE))

    assert sum(s.count for s in samples) == 131
    copy = samples[4]
    assert [pid for pid, _ in copy.chain] == [100, 101, 110]
    assert copy.chain[-1][1].endswith("/functions/part_copy/index.py")
    assert copy.frames[-1] == "send (http/client.py:1009)"
    raw = samples[9]
    assert raw.chain[-1][1].endswith('"key": "a;b", "sep": ";", "size": 5}')
    assert raw.frames == ("main (bench/child.py:50)", "copy (bench/contenders.py:120)")
    assert samples[3].frames[0] == "<module> (bench/server.py:1)"  # a --threads frame is dropped
    assert samples[1].frames == ()


def test_kinds() -> None:
    kinds = {pyspy.sample_kind(s.chain, "driver"): 0 for s in pyspy.parse(SAMPLE)}

    assert set(kinds) == {
        "driver",
        "emulator server",
        "function part_copy",
        "function ingest",
        "function finalize",
        "contender raw",
        "other: .venv/bin/python -c import time t = time.time() while 1: pass",
    }
    one_shot = f"{PY} /x/tencent_emulator/scf/child.py /tmp/c/spec.json /tmp/c/out.json"
    assert pyspy.kind_of(one_shot) == "function instance"
    assert pyspy.kind_of(f"{PY} -m bench.child part_copy_rss {{}}") == "contender part_copy_rss"
    assert pyspy.kind_of(f"{PY} -m bench.run --sizes 1GiB") == "driver"
    assert pyspy.kind_of(f"{PY} -m vodflow plan 1000 --json") == "vodflow CLI"


def test_summary_splits_samples_per_process_kind(tmp_path: Path) -> None:
    raw = tmp_path / "stacks.txt"
    raw.write_text(SAMPLE + "\n")

    text = pyspy.summarize(raw, top=4)
    table = text.split("\n\n")[1].splitlines()

    assert table[1:] == [
        "      60   45.8 %          1  emulator server",
        "      31   23.7 %          1  driver",
        "      20   15.3 %          2  function part_copy",
        "       8    6.1 %          1  contender raw",
        "       5    3.8 %          1  function ingest",
        "       4    3.1 %          1  other: .venv/bin/python -c import time t = time.time() while 1: pass",
        "       3    2.3 %          1  function finalize",
        "     131  100.0 %          8  all",
    ]
    part_copy = text.split("== function part_copy (20 samples): top frames by own samples\n\n")[1]
    assert part_copy.splitlines()[:2] == [
        "      18   90.0 %  send (http/client.py:1009)",
        "       2   10.0 %  _read_line (socket.py:706)",
    ]
    assert "      18   90.0 %  _put (vodflow/clients.py:88)" in part_copy  # the project's frame that sent
    server = text.split("== emulator server (60 samples)")[1]
    assert f"      40   66.7 %  {PACE}" in server
    assert "== driver (31 samples)" in text and "(no Python frame)" in text
    assert "\n==  (" not in text  # no kind is empty
