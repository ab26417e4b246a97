"""Group commit: a run's records share fsyncs, and the crash guarantees stay what they were.
A record is written to the kernel before append() returns, so a real kill -9 keeps every record
appended before it (a kill mid-write leaves one torn line, dropped and asked again); the state
file is never written ahead of the records it counts on; a rewrite is never appended to through
a stale descriptor; and no path writes a record twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from harness.store import files
from harness.store.files import Appender, read_jsonl_lines
from harness.store.run_dir import RESPONSES, RunStore
from tests.helpers import ROOT, response


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _child(script: str, tmp_path, env: dict | None = None) -> subprocess.CompletedProcess:
    code = textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=120,
    )


def test_records_share_fsyncs_and_sync_flushes_the_rest(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(files.os, "fsync", lambda fd: synced.append(fd))
    clock = Clock()
    appender = Appender(tmp_path / "r.jsonl", clock=clock)
    for i in range(1000):  # a burst: all within one interval
        appender.append({"i": i})
    assert len(synced) == 1000 // Appender.SYNC_RECORDS
    clock.now += Appender.SYNC_SECONDS  # a slow trickle: the next record is synced at once
    appender.append({"i": 1000})
    assert len(synced) == 1000 // Appender.SYNC_RECORDS + 1
    appender.append({"i": 1001})
    appender.close()
    assert len(synced) == 1000 // Appender.SYNC_RECORDS + 2
    records, dropped = read_jsonl_lines(tmp_path / "r.jsonl")
    assert [obj["i"] for _, obj in records] == list(range(1002)) and dropped == 0


def test_an_appended_record_is_readable_before_any_fsync(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "fsync", lambda fd: pytest.fail("no fsync expected yet"))
    store = RunStore(tmp_path)
    store.append(RESPONSES, response("base", "p", "follow", 0, "Hello"))
    records, dropped = store.responses()  # another reader, through the kernel
    assert [r.text for r in records] == ["Hello"] and dropped == 0


def test_the_state_is_written_only_after_the_records_are_synced(tmp_path, monkeypatch):
    events = []
    monkeypatch.setattr(files.os, "fsync", lambda fd: events.append("fsync"))
    monkeypatch.setattr("harness.store.run_dir.write_atomic", lambda path, data: events.append(f"write {path.name}"))
    store = RunStore(tmp_path)
    store.append(RESPONSES, response("base", "p", "follow", 0, "Hello"))
    from harness.store.run_files import State

    store.write_state(State.model_construct())
    assert events == ["fsync", "write state.json"]


def test_a_real_kill_9_keeps_every_record_appended_before_it(tmp_path):
    """No fsync at all before the kill (a long interval): the kernel still has the lines."""
    done = _child(
        """
        import os, signal, sys
        from pathlib import Path
        from harness.store.files import Appender
        Appender.SYNC_SECONDS, Appender.SYNC_RECORDS = 1e9, 10**9
        a = Appender(Path(sys.argv[1]) / "r.jsonl")
        for i in range(500):
            a.append({"i": i, "text": "x" * 300})
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        tmp_path,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    records, dropped = read_jsonl_lines(tmp_path / "r.jsonl")
    assert [obj["i"] for _, obj in records] == list(range(500)) and dropped == 0


def test_a_kill_in_the_middle_of_a_record_loses_that_record_only(tmp_path):
    done = _child(
        """
        import sys
        from pathlib import Path
        from harness.store.files import Appender
        a = Appender(Path(sys.argv[1]) / "r.jsonl")
        for i in range(10):
            a.append({"i": i})
        """,
        tmp_path,
        env={"HARNESS_CRASH_AT": "mid_record:7"},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    records, dropped = read_jsonl_lines(tmp_path / "r.jsonl")
    assert [obj["i"] for _, obj in records] == list(range(6)) and dropped == 1
    again = Appender(tmp_path / "r.jsonl")  # the next run ends the torn line before appending
    again.append({"i": 6})
    again.close()
    records, dropped = read_jsonl_lines(tmp_path / "r.jsonl")
    assert [obj["i"] for _, obj in records] == list(range(7)) and dropped == 1


def test_a_rewrite_closes_the_open_file_and_later_records_follow_it(tmp_path):
    store = RunStore(tmp_path)
    first = [response("base", "p", "follow", i, f"t{i}") for i in range(3)]
    for r in first:
        store.append(RESPONSES, r)
    store.rewrite(RESPONSES, list(reversed(first)))
    store.append(RESPONSES, response("base", "p", "follow", 3, "t3"))
    store.close_records()
    lines = (tmp_path / RESPONSES).read_text().splitlines()
    assert [json.loads(line)["sample"] for line in lines] == [2, 1, 0, 3]


def test_a_record_file_replaced_by_a_link_is_refused_when_opened(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    (tmp_path / RESPONSES).symlink_to(target)
    from harness.errors import StoreError

    with pytest.raises(StoreError, match="is a symbolic link"):
        RunStore(tmp_path).append(RESPONSES, response("base", "p", "follow", 0, "x"))
    assert target.read_text() == ""
