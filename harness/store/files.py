"""Bytes on disk, safely: atomic whole-file writes, and append-only JSONL whose torn last
line (a process killed mid-write) is dropped instead of breaking the file.

A run's files are regular files inside its directory: a symbolic link, a FIFO or a device
in their place is refused (never read through, never appended through: a responses.jsonl
linked elsewhere had records appended to its target), and so is a file over
limits.MAX_RUN_FILE_BYTES or a JSON line nested deeper than limits.MAX_DEPTH."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from backends._files import write_atomic as _write_atomic
from harness import crash, limits
from harness.errors import StoreError

__all__ = [
    "write_atomic",
    "dump_json",
    "read_jsonl_lines",
    "append_jsonl",
    "Appender",
    "write_jsonl",
    "jsonl_line",
    "read_run_file",
    "iter_jsonl",
    "write_atomic_lines",
    "atomic_output",
]

# Opening a run file never follows a link, and never waits on a FIFO without a writer.
_SAFE = os.O_NOFOLLOW | os.O_NONBLOCK


def write_atomic(path: Path | str, data: bytes | str) -> None:
    """The one atomic writer (backends._files). Nothing is redacted here: what came back
    from a provider was redacted where it entered (harness.calls.boundary), and the run's
    own data (scenario, training file, prompts) is written as it is."""
    _write_atomic(path, data.encode("utf-8") if isinstance(data, str) else data)


def dump_json(obj: Any) -> bytes:
    """A JSON document as the run files hold it: indented, UTF-8, a final newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def jsonl_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def _refused(path: Path, e: OSError) -> StoreError | None:
    if e.errno == errno.ELOOP:
        return StoreError(f"{path}: is a symbolic link; a run's files must be regular files in its directory")
    if e.errno == errno.ENXIO:  # a FIFO nobody reads
        return StoreError(f"{path}: is not a regular file")
    return None


def _check_regular(path: Path, fd: int) -> int:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path}: is not a regular file")
    if st.st_size > limits.MAX_RUN_FILE_BYTES:
        raise StoreError(f"{path}: {st.st_size} bytes is over the limit of {limits.MAX_RUN_FILE_BYTES >> 20} MB")
    return st.st_size


def open_run_file(path: Path) -> tuple[BinaryIO, int] | None:
    """A run file open for reading and its size, None when it does not exist; StoreError for
    a link, a FIFO, a device or an oversized file (checked on the open file, before reading)."""
    try:
        fd = os.open(path, os.O_RDONLY | _SAFE)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _refused(path, e) or e from None
    f = os.fdopen(fd, "rb")
    try:
        return f, _check_regular(path, fd)
    except BaseException:
        f.close()
        raise


def read_run_file(path: Path) -> bytes | None:
    """A run file's bytes, None when it does not exist (see open_run_file)."""
    opened = open_run_file(path)
    if opened is None:
        return None
    f, size = opened
    with f:
        return f.read(size + 1)


def _parse_line(path: Path, number: int, line: bytes) -> dict | None:
    """A JSONL line's object, None when it is torn or corrupt (not JSON, or not an object)."""
    try:
        obj = limits.load_json(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    except limits.LimitError as e:
        raise StoreError(f"{path}:{number}: {e}") from None
    return obj if isinstance(obj, dict) else None


def iter_jsonl(path: Path) -> Iterator[tuple[int, int, dict | None]]:
    """(line number, byte offset, object) for each non-blank line of a JSONL file, read as a
    stream (the file is never held whole); object is None for a torn or corrupt line, which
    readers drop. A missing file is empty; the same checks as read_run_file."""
    opened = open_run_file(path)
    if opened is None:
        return
    f, _ = opened
    with f:
        offset = 0
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, offset, _parse_line(path, number, line)
            offset += len(line)


def read_line_at(f: BinaryIO, path: Path, offset: int) -> dict:
    """The object of the JSONL line at `offset` of an open file (one iter_jsonl found whole)."""
    f.seek(offset)
    obj = _parse_line(path, 0, f.readline())
    if obj is None:
        raise StoreError(f"{path}: changed while it was read (the line at byte {offset} is no longer a record)")
    return obj


def read_jsonl_lines(path: Path) -> tuple[list[tuple[int, dict]], int]:
    """(line number, object) for each JSON object line of a JSONL file, and how many lines
    were dropped as torn or corrupt (not JSON, or not an object). A missing file is empty.
    A line nested too deeply was not torn: StoreError naming it."""
    out, dropped = [], 0
    for number, _, obj in iter_jsonl(path):
        if obj is None:
            dropped += 1
        else:
            out.append((number, obj))
    return out, dropped


def _open_append(path: Path) -> int:
    """An append descriptor on a regular file (never through a link), whose torn last line, if
    a killed process left one, is ended so that it cannot swallow the next record."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _SAFE, 0o644)
    except OSError as e:
        raise _refused(path, e) or e from None
    try:
        size = _check_regular(path, fd)
        if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_record(fd: int, data: bytes) -> None:
    if crash.armed("mid_record"):  # die with half a line written, as a kill -9 can
        os.write(fd, data[: len(data) // 2])
        crash.kill()
    view = memoryview(data)
    while view:  # a regular file takes it whole; the loop is for a short write all the same
        view = view[os.write(fd, view) :]


def append_jsonl(path: Path, record: dict) -> None:
    """One line, written and fsynced before returning (one-off appends; a run's records go
    through an Appender, which fsyncs them in groups)."""
    fd = _open_append(path)
    try:
        _write_record(fd, jsonl_line(record).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


class Appender:
    """An append-only JSONL file held open while a run writes it, with group commit.

    Each record is one write() before append() returns: from then on the kernel has it, so a
    kill -9 of the harness cannot lose it (a kill in the middle of the write leaves a torn
    line, which readers drop and the next open ends). fsync, which made every answer wait
    ~1.5 ms for the disk, is shared: it runs when SYNC_SECONDS have passed since the last one or
    SYNC_RECORDS records wait for it, and always in sync() (before the run's state is written,
    so the state never claims what the disk may not hold) and close(). What a power failure can
    take is therefore the answers of the last fraction of a second, which a resume asks again;
    no path duplicates a record.
    """

    SYNC_SECONDS = 0.2
    SYNC_RECORDS = 256

    def __init__(self, path: Path, clock=time.monotonic):
        self.path = path
        self.clock = clock
        self._fd = _open_append(path)
        self._size = os.fstat(self._fd).st_size
        self._pending = 0
        self._synced_at = clock()
        self.syncs = 0  # fsyncs done, for tests and the benchmark

    def append(self, record: dict) -> None:
        self.append_line(jsonl_line(record))

    def append_line(self, line: str) -> None:
        data = line.encode("utf-8")  # what came back was redacted where it entered
        if self._size + len(data) > limits.MAX_RUN_FILE_BYTES:
            raise StoreError(f"{self.path}: would grow over the limit of {limits.MAX_RUN_FILE_BYTES >> 20} MB")
        _write_record(self._fd, data)
        self._size += len(data)
        self._pending += 1
        if self._pending >= self.SYNC_RECORDS or self.clock() - self._synced_at >= self.SYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        if self._pending and self._fd >= 0:
            os.fsync(self._fd)
            self.syncs += 1
        self._pending = 0
        self._synced_at = self.clock()

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1


def write_jsonl(path: Path, records: list[dict]) -> None:
    """The whole file at once, atomically (a canonical rewrite)."""
    write_atomic(path, "".join(jsonl_line(r) for r in records).encode("utf-8"))


def write_atomic_lines(path: Path, lines: Iterable[str]) -> None:
    """write_atomic for a file too large to hold: the lines stream into it (atomic_output)."""
    with atomic_output(path) as f:
        for line in lines:
            f.write(line.encode("utf-8"))


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A file written in a temporary beside `path`, fsynced and renamed over it when the block
    ends without error (a crash or an error leaves the old file, never half a new one). A
    path that is not a regular file (/dev/stdout, a FIFO) is written in place."""
    if path.exists() and not path.is_file():
        with open(path, "wb") as direct:
            yield direct
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
