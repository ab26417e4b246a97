"""Known secret values, redacted from everything the harness writes: run files, reports,
sweep files and error lines, not only cassettes (a completion that quoted the API key was
stored and reported verbatim).

A secret is the value of an environment variable a backend names in `secret_env` (its
credentials) or OPENAI_API_KEY; sessions register their backend's variables when they open
it. Values shorter than MIN_LENGTH are not treated as secrets: replacing them would corrupt
ordinary text."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

REDACTED = "<REDACTED>"
MIN_LENGTH = 6
_names: set[str] = {"OPENAI_API_KEY"}
T = TypeVar("T", str, bytes)


def register(names: Iterable[str]) -> None:
    """Treat these environment variables' values as secrets from now on (process-wide)."""
    _names.update(names)


def secrets() -> list[str]:
    """The current values of the registered variables, longest first (a key containing
    another is replaced whole)."""
    found = {v.strip() for v in (os.environ.get(n) for n in _names) if v and len(v.strip()) >= MIN_LENGTH}
    return sorted(found, key=len, reverse=True)


def scrub(data: T) -> T:
    """`data` with every known secret replaced by <REDACTED> (same type in, same type out)."""
    for secret in secrets():
        if isinstance(data, bytes):
            data = data.replace(secret.encode("utf-8"), REDACTED.encode())
        else:
            data = data.replace(secret, REDACTED)
    return data
