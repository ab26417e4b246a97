"""The harness's input limits, in one place: what a file, an option or a document may hold
before it is refused with exit 2. Each one is far above any real experiment and far below
what would exhaust memory or hang (docs/bad-input.md lists them). Pure: no harness imports."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

# Options and scenario fields.
MAX_SAMPLES = 10_000  # samples per probe and condition
MAX_REPLICATES = 20  # fine-tuning jobs per trained condition (each one is paid for)
MAX_PROBES = 200  # probes in one scenario
MAX_EXAMPLES = 50_000  # training examples in one scenario (inline or examples_file)
MAX_NEW_EXAMPLES = 1_000  # `harness new --examples` (the question bank holds fewer anyway)
MAX_WORD_LETTERS = 64  # letters of an acrostic word (one unit per letter)
MAX_CONCURRENCY = 256  # requests in flight at once
MAX_RETRIES = 20  # `harness new --retries`
MAX_POLL_INTERVAL = 3600.0  # seconds between job polls
MAX_SEED = 2**63 - 1  # seeds travel as 64-bit integers to providers
MAX_SWEEP_CELLS = 1_000  # cells in one sweep's matrix

# Files.
MAX_YAML_BYTES = 10 * 1024 * 1024  # a scenario, sweep or sidecar file
MAX_DATA_BYTES = 200 * 1024 * 1024  # a chat JSONL file; text to score
MAX_RUN_FILE_BYTES = 2 * 1024 * 1024 * 1024  # one file of a run directory
MAX_DEPTH = 64  # nesting of YAML collections and JSON arrays/objects
MAX_YAML_NODES = 1_000_000  # nodes of a YAML document with its aliases expanded

ECHO_CHARS = 60  # an error quotes at most this much of the input it refuses


class LimitError(ValueError):
    """An input over one of the limits above (the message says which and how to fix it)."""


def clip(text: object, limit: int = ECHO_CHARS, quote: bool = True) -> str:
    """repr() of a value (str() with quote=False) for an error message, cut to `limit`
    characters with a note of the full length: an error stays one short line whatever it
    quotes (a 100,000-letter word printed a 100 kB line)."""
    shown = repr(text) if isinstance(text, str) and quote else str(text)
    if len(shown) <= limit:
        return shown
    size = f" ({len(text)} characters)" if isinstance(text, str) else ""
    return shown[: limit - 1] + "…" + size


def check_regular_file(path: Path, cap: int) -> int:
    """The size of `path` if it is a regular file no bigger than `cap` bytes; LimitError for a
    FIFO, a device (/dev/zero), a folder or an oversized file, before a byte is read (reading
    any of those could hang or exhaust memory). FileNotFoundError passes through."""
    try:
        st = os.stat(path)
    except ValueError:  # os.stat's "embedded null byte": no such file can exist
        raise LimitError(f"{clip(str(path))}: a path cannot contain a NUL byte") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "a pipe"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )
        raise LimitError(f"{path}: is {kind}; give a regular file")
    if st.st_size > cap:
        raise LimitError(f"{path}: {st.st_size} bytes is over the limit of {cap // (1024 * 1024)} MB")
    return st.st_size


def read_bytes_capped(path: Path, cap: int) -> bytes:
    """A regular file's bytes (check_regular_file first, and never more than cap + 1 read, in
    case the file grew in between)."""
    check_regular_file(path, cap)
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise LimitError(f"{path}: over the limit of {cap // (1024 * 1024)} MB")
    return data


def json_depth(value: object) -> int:
    """How deeply JSON arrays and objects nest in a parsed value (iterative: no recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, dict):
            children: list = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth  # deep enough to refuse; no need to walk further
        todo.extend((child, depth + 1) for child in children)
    return deepest


def check_json_depth(value: object) -> None:
    if json_depth(value) > MAX_DEPTH:
        raise LimitError(f"nested more than {MAX_DEPTH} levels deep")


def load_json(data: str | bytes) -> object:
    """json.loads, with nesting bounded: LimitError instead of a RecursionError (or a value
    too deep for the code that walks it); json.JSONDecodeError passes through."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise LimitError(f"nested more than {MAX_DEPTH} levels deep") from None
    # A text with at most MAX_DEPTH opening brackets in all (those inside strings counted too)
    # cannot nest deeper: the walk is skipped for every ordinary record, read many times a run.
    opening = data.count("{") + data.count("[") if isinstance(data, str) else data.count(b"{") + data.count(b"[")
    if opening > MAX_DEPTH:
        check_json_depth(value)
    return value
