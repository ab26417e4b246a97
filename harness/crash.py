"""Deliberate crash points for the resume tests: `HARNESS_CRASH_AT=point[:n]` kills the
process with SIGKILL (no cleanup, like a laptop dying) the n-th time `point` is reached.
Unset (always, for users) it costs one dictionary lookup."""

from __future__ import annotations

import os
import signal

POINTS = (
    "creating_run",
    "upload_unsaved",
    "after_upload",
    "after_create_job",
    "training",
    "slot_wait",
    "probing",
    "mid_record",
)
_seen: dict[str, int] = {}


def armed(point: str) -> bool:
    """True when this call of `point` is the one the environment asks to die at."""
    spec = os.environ.get("HARNESS_CRASH_AT")
    if not spec:
        return False
    name, _, nth = spec.partition(":")
    if name != point:
        return False
    _seen[point] = _seen.get(point, 0) + 1
    return _seen[point] == int(nth or 1)


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def maybe_crash(point: str) -> None:
    if armed(point):
        kill()
