"""The run directory: atomic JSON state, append-only JSONL records, and a lock so that two
processes never drive one run at once."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

from backends._files import write_atomic  # noqa: F401  (the one atomic writer; re-exported)
from harness import crash

LOCK_TRIES = 5  # over ~0.2 s: outlasts a status probe, still refuses a live run at once
MANIFEST = "manifest.json"
STATE = "state.json"
TRAIN = "train.jsonl"
EVENTS = "events.jsonl"
RESPONSES = "responses.jsonl"
SUMMARY = "summary.json"


class StoreError(Exception):
    """The run directory is missing, unreadable or locked by another process."""


def dump_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_jsonl(path: Path) -> tuple[list[dict], int]:
    """Records of a JSONL file and the number of torn or corrupt lines dropped. A process
    killed mid-write leaves at most a torn last line; it is dropped, not fatal."""
    if not path.exists():
        return [], 0
    records, dropped = [], 0
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            dropped += 1
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            dropped += 1
    return records, dropped


class RunStore:
    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir)
        self._lock_fd: int | None = None

    def path(self, name: str) -> Path:
        return self.dir / name

    # -- lifetime ------------------------------------------------------------------------
    def lock(self) -> None:
        """Hold an exclusive lock for the life of the process (released by the OS on exit,
        even on kill -9)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        # A few tries: `harness status` (in_use) holds the lock for an instant to probe it.
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_TRIES - 1:
                    os.close(fd)
                    raise StoreError(f"{self.dir}: another harness process is using this run") from None
                time.sleep(0.05)
        self._lock_fd = fd

    @contextlib.contextmanager
    def locked(self) -> Iterator["RunStore"]:
        self.lock()
        try:
            yield self
        finally:
            self.unlock()

    def in_use(self) -> bool:
        """True while another process holds this run's lock (a live run, not a dead one)."""
        try:  # read-only: flock needs no write access, so another user's status works too
            fd = os.open(self.dir / ".lock", os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also drops the lock if we got it
        return False

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def exists(self) -> bool:
        return self.path(MANIFEST).exists()

    def interrupted_at_creation(self) -> bool:
        """Nothing but the lock, a state file and write_atomic's temporary files: the process
        died inside run.create_run, before any call was made, so the directory may be
        started afresh."""
        try:
            names = {p.name for p in self.dir.iterdir()}
        except OSError:
            return False
        kept = {n for n in names if not (n.startswith(".") and n.endswith(".tmp"))} - {".lock"}
        return bool(names) and kept <= {STATE}

    # -- JSON documents ------------------------------------------------------------------
    def read_json(self, name: str) -> dict:
        path = self.path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"{path}: not found (is {self.dir} a run directory?)") from None
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            raise StoreError(f"{path}: unreadable: {e}") from None

    def write_json(self, name: str, obj: Any) -> None:
        write_atomic(self.path(name), dump_json(obj))

    def write_bytes(self, name: str, data: bytes) -> None:
        write_atomic(self.path(name), data)

    # -- append-only records -------------------------------------------------------------
    def append(self, name: str, record: dict) -> None:
        """One line, flushed and fsynced before returning: an answer paid for is kept."""
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        path = self.path(name)
        with open(path, "ab") as f:
            if f.tell() > 0 and not _ends_with_newline(path):
                f.write(b"\n")  # a torn line from a killed process must not swallow this one
            data = line.encode("utf-8")
            if crash.armed("mid_record"):  # die with half a line written, as a kill -9 can
                f.write(data[: len(data) // 2])
                f.flush()
                crash.kill()
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def records(self, name: str) -> tuple[list[dict], int]:
        return read_jsonl(self.path(name))

    def rewrite_jsonl(self, name: str, records: list[dict]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        write_atomic(self.path(name), data.encode("utf-8"))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
