"""Small file helpers shared by backends (which must not depend on harness infrastructure;
harness.store.run_dir re-exports write_atomic so the project has one atomic writer)."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_atomic(path: Path | str, data: bytes | str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target:
    a crash leaves either the old file or the new one, never half of one. The temporary
    name is unique (pid + random), so two writers never share it; it is opened normally
    (not mkstemp) so the umask applies, as for any other file."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno is None:
            raise
        # The error names the user's path, never the temporary one ("summary.json: Is a
        # directory", not ".summary.json.4242.tmp: Is a directory").
        raise type(e)(e.errno, e.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


STATE_FILE_CAP = 512 * 1024 * 1024  # a provider's saved files and jobs, never more


def read_state_json(path: Path, defaults: dict[str, Any], what: str) -> dict[str, Any]:
    """A backend's saved state: a JSON object whose keys have the types of `defaults` (missing
    keys take their default). Anything else (not a regular file, not JSON, `{"jobs": 5}`)
    is a ConfigError naming the file, never a KeyError later."""
    from backends.base import ConfigError  # here: base imports nothing from this module

    state = {k: (type(v)() if isinstance(v, (dict, list)) else v) for k, v in defaults.items()}
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > STATE_FILE_CAP:
            raise ConfigError(f"{path}: not a {what} (not a regular file under {STATE_FILE_CAP >> 20} MB)")
        data = json.loads(Path(path).read_bytes())
    except ConfigError:
        raise
    except (OSError, ValueError, RecursionError) as e:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise ConfigError(f"{path}: cannot read the {what}: {type(e).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a {what}: expected a JSON object")
    for key, value in data.items():
        if key not in defaults:
            raise ConfigError(f"{path}: not a {what}: unknown field {key[:40]!r}")
        default = defaults[key]
        if not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(
                f"{path}: not a {what}: {key}: expected {type(default).__name__}, got {type(value).__name__}"
            )
        state[key] = value
    return state


def chat_examples(data: bytes, where: str) -> Iterator[tuple[int, list[dict]]]:
    """(line number, messages) for each example of a chat JSONL training file, checked as a
    provider checks it: UTF-8, one JSON object per line with a non-empty `messages` list of
    system/user/assistant messages with text content, the last from the assistant. `where`
    starts each error ("training file line", "line"); BackendError 400 on the first fault."""
    from backends.base import BackendError

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BackendError(f"training file is not UTF-8: {e}", status=400) from None
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise BackendError(f"{where} {no}: invalid JSON ({e.msg})", status=400) from None
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not messages:
            raise BackendError(f"{where} {no}: expected an object with a non-empty 'messages' list", status=400)
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
                raise BackendError(f"{where} {no}: message {i} needs role system, user or assistant", status=400)
            if not isinstance(m.get("content"), str):
                raise BackendError(f"{where} {no}: message {i} has no text content", status=400)
        if messages[-1]["role"] != "assistant":
            raise BackendError(f"{where} {no}: the last message must be from the assistant", status=400)
        yield no, messages
