"""Bytes on disk, safely: atomic whole-file writes, and append-only JSONL whose torn last
line (a process killed mid-write) is dropped instead of breaking the file."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from backends._files import write_atomic  # the one atomic writer, shared with the backends
from harness import crash

__all__ = ["write_atomic", "dump_json", "read_jsonl_lines", "append_jsonl", "write_jsonl", "jsonl_line"]


def dump_json(obj: Any) -> bytes:
    """A JSON document as the run files hold it: indented, UTF-8, a final newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def jsonl_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def read_jsonl_lines(path: Path) -> tuple[list[tuple[int, dict]], int]:
    """(line number, object) for each JSON object line of a JSONL file, and how many lines
    were dropped as torn or corrupt (not JSON, or not an object). A missing file is empty."""
    if not path.exists():
        return [], 0
    out, dropped = [], 0
    for number, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            dropped += 1
            continue
        if isinstance(obj, dict):
            out.append((number, obj))
        else:
            dropped += 1
    return out, dropped


def append_jsonl(path: Path, record: dict) -> None:
    """One line, flushed and fsynced before returning: an answer paid for is kept."""
    data = jsonl_line(record).encode("utf-8")
    with open(path, "ab") as f:
        if f.tell() > 0 and not _ends_with_newline(path):
            f.write(b"\n")  # a torn line from a killed process must not swallow this one
        if crash.armed("mid_record"):  # die with half a line written, as a kill -9 can
            f.write(data[: len(data) // 2])
            f.flush()
            crash.kill()
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: Path, records: list[dict]) -> None:
    """The whole file at once, atomically (a canonical rewrite)."""
    write_atomic(path, "".join(jsonl_line(r) for r in records).encode("utf-8"))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
