"""Recognise a replay cassette's miss inside whatever a provider library wrapped it in.

Backends need this (a miss is never retried) and so does harness.running.recording; it lives here
so that backends do not depend on harness infrastructure. It looks only at exception types,
names and messages: vcrpy is never imported (its exception is recognised by class name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

# vcrpy's exception for a request the cassette cannot answer (vcr.errors).
VCR_MISS_TYPE = "CannotOverwriteExistingCassetteException"
# Texts of vcrpy's miss and of our network guard, for wrappers that dropped the chain.
_MISS_MARKERS = (
    "Can't play back this request",
    "Can't overwrite existing cassette",
    VCR_MISS_TYPE,
    "blocked during replay",
)
_METHOD_LINE = re.compile(r"^\s*(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)", re.M)


class ReplayNetworkBlocked(ConnectionRefusedError):
    """A replayed run tried to open a real connection that the cassette could not answer."""


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or during (cycle-safe, bounded)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 32:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def _is_vcr_miss(e: BaseException) -> bool:
    return any(cls.__name__ == VCR_MISS_TYPE and cls.__module__.split(".")[0] == "vcr" for cls in type(e).__mro__)


def miss_request(exc: BaseException) -> tuple[str, str] | None:
    """(METHOD, PATH) of the request a cassette could not answer, if `exc` is such a miss
    (vcrpy's error itself, or a library's wrapper around it), else None."""
    for e in exception_chain(exc):
        if _is_vcr_miss(e):
            request = getattr(e, "failed_request", None)
            if request is None:
                return ("?", "?")
            return (request.method, urlsplit(request.uri).path or "/")
        if isinstance(e, ReplayNetworkBlocked):
            return ("CONNECT", str(e))
    for e in exception_chain(exc):
        text = str(e)
        if any(marker in text for marker in _MISS_MARKERS):
            line = _METHOD_LINE.search(text)
            if line:
                return (line.group(1), urlsplit(line.group(2)).path or line.group(2))
            return ("?", "?")
    return None


def is_cassette_miss(exc: BaseException) -> bool:
    return miss_request(exc) is not None
