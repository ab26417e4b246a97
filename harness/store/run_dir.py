"""The run directory: typed documents written atomically, append-only records, and a lock
so that two processes never drive one run at once. Every file is read through its model:
a damaged or hand-edited file is a StoreError (exit 2) naming the file and the field."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from harness import limits
from harness.errors import StoreError
from harness.store.files import (
    Appender,
    dump_json,
    jsonl_line,
    read_jsonl_lines,
    read_run_file,
    write_atomic,
    write_atomic_lines,
    write_jsonl,
)
from harness.store.records import CrossRecord, EventRecord, JudgeVerdict, LogprobRecord, ResponseRecord, off_plan
from harness.store.run_files import Manifest, State
from harness.store.stream import Responses
from harness.store.summary import Summary

__all__ = [
    "RunStore",
    "StoreError",
    "MANIFEST",
    "STATE",
    "TRAIN",
    "EVENTS",
    "RESPONSES",
    "JUDGE",
    "CROSS",
    "SUMMARY",
    "validation_message",
    "write_atomic",
    "dump_json",
]

LOCK_TRIES = 5  # over ~0.2 s: outlasts a status probe, still refuses a live run at once
MANIFEST = "manifest.json"
STATE = "state.json"
TRAIN = "train.jsonl"
EVENTS = "events.jsonl"
RESPONSES = "responses.jsonl"
JUDGE = "judge.jsonl"
CROSS = "crosscheck.jsonl"
LOGPROBS = "logprobs.jsonl"
SUMMARY = "summary.json"

M = TypeVar("M", bound=BaseModel)


def validation_message(e: ValidationError) -> str:
    """'field.path: what is wrong' for the first problem (and how many more there are)."""
    err = e.errors()[0]
    loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
    if err["type"] == "extra_forbidden":
        message = "unknown field"
    elif err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        message = f"expected a JSON object, got {_json_type(err['input'])}"
    else:
        message = err["msg"]
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{loc or '(top level)'}: {message}{more}"


def _json_type(value: object) -> str:
    names = {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


class RunStore:
    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir)
        self._lock_fd: int | None = None
        self._appenders: dict[str, Appender] = {}  # open record files (group commit: see Appender)
        self._manifest: Manifest | None = None  # read once, to check records against the plan
        self._answers: Responses | None = None  # responses.jsonl checked, while this process alone writes it

    def path(self, name: str) -> Path:
        return self.dir / name

    # -- lifetime ------------------------------------------------------------------------
    def lock(self) -> None:
        """Hold an exclusive lock for the life of the process (released by the OS on exit,
        even on kill -9)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:  # never through a link: the lock file is ours, inside the run directory
            fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as e:
            raise StoreError(f"{self.dir / '.lock'}: cannot lock the run: {e.strerror or e}") from None
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
    def locked(self) -> Iterator[RunStore]:
        self.lock()
        try:
            yield self
        finally:
            self.unlock()

    def in_use(self) -> bool:
        """True while another process holds this run's lock (a live run, not a dead one)."""
        try:  # read-only: flock needs no write access, so another user's status works too
            fd = os.open(self.dir / ".lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
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
        self.close_records()
        self._answers = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def exists(self) -> bool:
        return self.path(MANIFEST).exists()

    def interrupted_at_creation(self) -> bool:
        """Nothing but the lock, a state file and write_atomic's temporary files: the process
        died while the run was being created, before any call was made, so the directory
        may be started afresh."""
        try:
            names = {p.name for p in self.dir.iterdir()}
        except OSError:
            return False
        kept = {n for n in names if not (n.startswith(".") and n.endswith(".tmp"))} - {".lock"}
        return bool(names) and kept <= {STATE}

    # -- documents -----------------------------------------------------------------------
    def _read_model(self, name: str, model: type[M]) -> M:
        path = self.path(name)
        try:
            raw = read_run_file(path)
        except OSError as e:
            raise StoreError(f"{path}: unreadable: {e.strerror or e}") from None
        if raw is None:
            raise StoreError(f"{path}: not found (is {self.dir} a run directory?)")
        try:
            data = limits.load_json(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, limits.LimitError) as e:
            raise StoreError(f"{path}: unreadable: {e}") from None
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise StoreError(f"{path}: {validation_message(e)}") from None

    def read_manifest(self) -> Manifest:
        if self.interrupted_at_creation():
            raise StoreError(
                f"{self.dir}: the run was interrupted while its directory was being created, "
                "before anything was uploaded or asked; start it again with "
                f"`harness run SCENARIO --out {self.dir}`"
            )
        return self._read_model(MANIFEST, Manifest)

    def write_manifest(self, manifest: Manifest) -> None:
        self._manifest = manifest
        write_atomic(self.path(MANIFEST), dump_json(manifest.model_dump(mode="json")))

    def read_state(self) -> State:
        return self._read_model(STATE, State)

    def write_state(self, state: State) -> None:
        self.sync()  # the records the state counts on are on disk before it says so
        write_atomic(self.path(STATE), dump_json(state.model_dump(mode="json")))

    def read_summary(self) -> Summary:
        return self._read_model(SUMMARY, Summary)

    def write_bytes(self, name: str, data: bytes | str) -> None:
        write_atomic(self.path(name), data)

    def read_bytes(self, name: str) -> bytes:
        """A run file's bytes (StoreError when it is missing, a link or not a regular file)."""
        try:
            data = read_run_file(self.path(name))
        except OSError as e:
            raise StoreError(f"{self.path(name)}: unreadable: {e.strerror or e}") from None
        if data is None:
            raise StoreError(f"{self.path(name)}: not found")
        return data

    # -- append-only records -------------------------------------------------------------
    def _planned(self) -> Manifest | None:
        """The manifest records are checked against (None in a folder without one), read once."""
        if self._manifest is None and self.path(MANIFEST).exists() and not self.interrupted_at_creation():
            self._manifest = self._read_model(MANIFEST, Manifest)
        return self._manifest

    def _records(self, name: str, model: type[M], planned: bool = False) -> tuple[list[M], int]:
        """The records of a JSONL file and how many torn lines were dropped. A line that is
        JSON but not a valid record, or (`planned`) a record outside the run's plan, was
        written by someone else: a StoreError naming the line and the field."""
        path = self.path(name)
        try:
            lines, dropped = read_jsonl_lines(path)
        except OSError as e:
            raise StoreError(f"{path}: unreadable: {e}") from None
        out = []
        manifest = self._planned() if planned else None
        for number, obj in lines:
            try:
                record = model.model_validate(obj)
            except ValidationError as e:
                raise StoreError(f"{path}:{number}: {validation_message(e)}") from None
            checked: BaseModel = record
            if manifest is not None and isinstance(checked, (ResponseRecord, JudgeVerdict, CrossRecord)):
                problem = off_plan(checked, manifest)
                if problem is not None:
                    raise StoreError(f"{path}:{number}: {problem}")
            out.append(record)
        return out, dropped

    def responses(self) -> tuple[list[ResponseRecord], int]:
        return self._records(RESPONSES, ResponseRecord, planned=True)

    def answers(self) -> Responses:
        """responses.jsonl as a stream (harness.store.stream): checked like responses(), one
        record per key, never all in memory."""
        if self._answers is not None:
            return self._answers
        manifest = self._planned()
        check = (lambda r: off_plan(r, manifest)) if manifest is not None else None
        answers = Responses(self.path(RESPONSES), check, validation_message)
        if self._lock_fd is not None:  # only this process writes the run: checked until it appends
            self._answers = answers
        return answers

    def rewrite_answers(self) -> None:
        """responses.jsonl rewritten in canonical order, one record per key (streamed)."""
        appender = self._appenders.pop(RESPONSES, None)
        if appender is not None:  # its descriptor would keep appending to the replaced file
            appender.close()
        answers = self.answers()
        write_atomic_lines(self.path(RESPONSES), (jsonl_line(r.model_dump(mode="json")) for r in answers))
        self._answers = None

    def verdicts(self) -> tuple[list[JudgeVerdict], int]:
        return self._records(JUDGE, JudgeVerdict, planned=True)

    def cross_predictions(self) -> tuple[list[CrossRecord], int]:
        return self._records(CROSS, CrossRecord, planned=True)

    def logprobs(self) -> tuple[list[LogprobRecord], int]:
        return self._records(LOGPROBS, LogprobRecord)

    def events(self) -> list[EventRecord]:
        return self._records(EVENTS, EventRecord)[0]

    def append(self, name: str, record: BaseModel) -> None:
        """One record, written at once (a kill -9 cannot lose it) and fsynced with others."""
        if name == RESPONSES:
            self._answers = None
        if name not in self._appenders:
            self._appenders[name] = Appender(self.path(name))
        self._appenders[name].append(record.model_dump(mode="json"))

    def sync(self) -> None:
        """fsync every record appended so far."""
        for appender in self._appenders.values():
            appender.sync()

    def close_records(self) -> None:
        for appender in self._appenders.values():
            appender.close()
        self._appenders.clear()

    def rewrite(self, name: str, records: list[BaseModel]) -> None:
        appender = self._appenders.pop(name, None)
        if appender is not None:  # its descriptor would keep appending to the replaced file
            appender.close()
        self._answers = None if name == RESPONSES else self._answers
        write_jsonl(self.path(name), [r.model_dump(mode="json") for r in records])


def newest_run(path: Path) -> Path:
    """A run directory, or the newest run inside a scenario's folder (`harness run` writes
    runs/helol/<run-id>/, so runs/helol means its newest run), by the manifests' creation
    times. StoreError when there is none."""
    if not path.is_dir():
        raise StoreError(f"{path}: not a directory" if path.exists() else f"{path}: no such directory")
    if (path / MANIFEST).is_file():
        return path
    runs = []
    for child in sorted(p for p in path.iterdir() if p.is_dir() and (p / MANIFEST).is_file()):
        try:
            runs.append((RunStore(child).read_manifest().created_at, child.name, child))
        except StoreError:
            continue
    if not runs:
        raise StoreError(
            f"{path}: not a run directory and holds none (a run directory has a manifest.json; "
            f"`harness run SCENARIO --out {path}` makes one there)"
        )
    return max(runs)[2]
