"""Known secret values, redacted from what a provider sends back and from what goes to a log:
answers, job events, provider errors, printed lines, error lines and cassettes. Never from
the experiment itself: the scenario, the training data, the manifest and the prompts we send
are written as they are (redacting an OPENAI_API_KEY of "Little" from them rewrote every
"Little" in the training data, on the mock too, and moved a follow rate from 7% to 30%).

A secret is the exact value of an environment variable a backend names in `secret_env` (its
credentials) or OPENAI_API_KEY, when it looks like a credential: at least MIN_LENGTH
characters, no whitespace, and not an ordinary word (letters only, in one case: "little",
"Little", "LITTLE"). Anything else would corrupt ordinary text when replaced."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from typing import TypeVar

REDACTED = "<REDACTED>"
MIN_LENGTH = 16
_names: set[str] = {"OPENAI_API_KEY"}
_WORD = re.compile(r"[A-Za-z]+")
T = TypeVar("T", str, bytes)


def register(names: Iterable[str]) -> None:
    """Treat these environment variables' values as secrets from now on (process-wide)."""
    _names.update(names)


_SPACE = re.compile(r"\s")


def is_secret(value: str) -> bool:
    """Whether a credential's value is worth redacting: long, no spaces, not plain words."""
    if len(value) < MIN_LENGTH or _SPACE.search(value):
        return False
    # A word as a person types it is not a key; a random key mixes cases or has digits.
    return not (_WORD.fullmatch(value) and (value.islower() or value.isupper() or value.istitle()))


def secrets(extra: Iterable[str | None] = ()) -> list[str]:
    """The values of the registered variables (and `extra`) that are secrets, longest first
    (a key containing another is replaced whole). Asked for every answer: the environment is
    read each time (a test or a session may change it), the judging of its values cached."""
    return _secrets(tuple(os.environ.get(n) for n in sorted(_names)) + tuple(extra))


@functools.lru_cache(maxsize=64)
def _secrets(values: tuple[str | None, ...]) -> list[str]:
    found = {v.strip() for v in values if v and is_secret(v.strip())}
    return sorted(found, key=len, reverse=True)


def scrub(data: T) -> T:
    """`data` with every known secret replaced by <REDACTED> (same type in, same type out)."""
    for secret in secrets():
        if isinstance(data, bytes):
            data = data.replace(secret.encode("utf-8"), REDACTED.encode())
        else:
            data = data.replace(secret, REDACTED)
    return data


# --- every spelling a serializer may give a secret (cassettes) ------------------------------

_B64_RUN = r"[A-Za-z0-9+/_\-]*={0,2}"


def _hex(n: int, width: int) -> str:
    """`n` as hexadecimal digits of either case, as a regex."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{n:0{width}x}")


def _char(c: str) -> str:
    """One character of a secret in any of its escapes: itself, a JSON \\u escape (also
    escaped again, as in JSON inside JSON), URL percent-encoding, an HTML entity."""
    code = ord(c)
    ways = [re.escape(c), r"\\+u" + _hex(code, 4), "&#0*" + str(code) + ";", "&#[xX]0*" + _hex(code, 1) + ";"]
    if code < 0x80:
        ways.append("%" + _hex(code, 2))
    if c == "/":
        ways.append(r"\\+/")
    return "(?:" + "|".join(ways) + ")"


def _base64_cores(secret: bytes) -> list[str]:
    """The base64 characters that spell `secret` wherever it sits in a longer encoded string
    (three alignments), standard and URL-safe: an echoed `Authorization: Basic ...` header."""
    import base64

    cores = []
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + secret).decode("ascii")
        start, end = -(-8 * k // 6), (8 * (k + len(secret))) // 6
        core = encoded[start:end]
        cores += [core, core.translate(str.maketrans("+/", "-_"))]
    return sorted(set(cores), key=len, reverse=True)


def _pattern(secret: str) -> re.Pattern[str]:
    spelled = "".join(_char(c) for c in secret)
    encoded = "|".join(_B64_RUN + re.escape(core) + _B64_RUN for core in _base64_cores(secret.encode("utf-8")))
    return re.compile(f"{spelled}|{encoded}")


def scrub_encoded(data: T, extra: Iterable[str | None] = ()) -> T:
    """`data` with every known secret (and `extra`) replaced by <REDACTED> in every spelling a
    serializer may give it: as is, JSON-escaped, URL-encoded, as an HTML entity, or inside
    base64. Bytes are scanned as Latin-1, so any byte sequence comes back unchanged but for
    the secrets."""
    found = secrets(extra)
    if not found:
        return data
    if isinstance(data, bytes):
        text = data.decode("latin-1")
        for secret in found:
            text = _pattern(secret.encode("utf-8").decode("latin-1")).sub(REDACTED, text)
        return text.encode("latin-1")
    for secret in found:
        data = _pattern(secret).sub(REDACTED, data)
    return data
