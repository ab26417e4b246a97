"""Record and replay HTTP sessions with vcrpy, so a whole run can be checked offline.

`cassette(path, "record")` records every HTTP interaction (httpx for litellm's file and job
calls, httpx2 for the openai SDK, aiohttp for litellm's async chat); `cassette(path,
"replay")` answers them from the file with the network blocked. Requests match on method,
path, query and a normalised body, never on scheme, host or port: a cassette recorded
against the simulator on some port replays under any base URL. Each recorded interaction
answers once, in order, so polling replays the same GETs it recorded.

vcrpy is imported only inside `cassette()`: `harness --help` must stay fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Miss detection lives with the backends (which must not import harness); re-exported here.
from backends.errors import ReplayNetworkBlocked, exception_chain, is_cassette_miss, miss_request  # noqa: F401
from harness import redact

MODES = ("record", "replay")
# Request headers that carry credentials or identify the account.
FILTER_HEADERS = (
    "authorization",
    "api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
    "x-api-key",
)
# Response headers that identify the account or set cookies.
DROP_RESPONSE_HEADERS = frozenset({"set-cookie", "openai-organization", "openai-project"})
SIMULATED_SOURCES = ("simulator", "mock")
MATCH_ON = ("method", "path", "query_and_body")
_KEY_ATTR = "_harness_match_key"
REDACTED = redact.REDACTED
BOUNDARY_TOKEN = b"HARNESS-BOUNDARY"
_SK_TOKEN = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")


# --- body normalisation (matching) ----------------------------------------------------


def _body_bytes(request: Any) -> bytes:
    from vcr.util import read_body

    body = read_body(request)
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def normalize_body(body: bytes, content_type: str | None = None) -> Any:
    """A comparable form of a request body: JSON parsed (key order and spacing ignored),
    multipart boundaries (random per request) replaced by a fixed token, else the bytes."""
    if not body:
        return b""
    boundary = None
    if content_type and "boundary=" in content_type:
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip().strip('"')
    if not boundary:
        first = re.match(rb"--([^\r\n]{1,200})\r?\n", body)
        boundary = first.group(1).decode("latin-1") if first else None
    if boundary:
        return body.replace(boundary.encode("latin-1"), BOUNDARY_TOKEN)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body


def _match_key(request: Any) -> tuple:
    """(query, canonical body) of a request, cached on the request object: vcrpy compares
    each request with every recorded one, so uncached matching makes replay quadratic in
    JSON parsing (measured: 67 ms per chat at 300 interactions)."""
    uri, raw = request.uri, request.body
    cached = request.__dict__.get(_KEY_ATTR)
    if cached is not None and cached[0] is uri and cached[1] is raw:
        return cached[2]
    body = normalize_body(_body_bytes(request), request.headers.get("Content-Type"))
    if not isinstance(body, bytes):
        body = json.dumps(body, sort_keys=True, separators=(",", ":"))
    key = (tuple(request.query), body)
    request.__dict__[_KEY_ATTR] = (uri, raw, key)
    return key


def _full_key(request: Any) -> tuple:
    """Everything MATCH_ON compares, as one hashable value."""
    return (request.method, request.path or "/", *_match_key(request))


def _index_replay(cas: Any) -> None:
    """Look recorded requests up by key instead of vcrpy's scan of all of them per request
    (which makes a long replay quadratic). Replay only: the recorded data never changes.
    Same answers as the scan: the matching interactions, in recorded order."""
    data, scrub = getattr(cas, "data", None), getattr(cas, "_before_record_request", None)
    if not isinstance(data, list) or not callable(scrub) or not hasattr(cas, "_responses"):
        return  # another vcrpy layout: keep its own (slower, equivalent) lookup
    index: dict[tuple, list[int]] = {}
    for i, (request, _) in enumerate(data):
        index.setdefault(_full_key(request), []).append(i)

    def responses(request: Any) -> Iterator[tuple[int, Any]]:
        request = scrub(request)
        if request:
            for i in index.get(_full_key(request), ()):
                yield i, data[i][1]

    cas._responses = responses


def query_and_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: same query parameters and same normalised body."""
    if _match_key(r1) != _match_key(r2):
        raise AssertionError("query or body differs (after normalising JSON and multipart boundaries)")


# --- scrubbing (nothing secret reaches the file) ---------------------------------------


def backend_secrets(backend: Any) -> list[str]:
    """The values of the environment variables a backend (class or instance) names in its
    `secret_env`: its credentials, to be redacted from what is recorded."""
    return [v for v in (os.environ.get(name) for name in getattr(backend, "secret_env", ())) if v]


def recorded_against(backend: Any, api_base: str | None) -> str:
    """What a cassette was recorded against, from what the backend saw (the openai backend
    notices our simulator's signature in the bodies), not from a guess at the host name."""
    if getattr(backend, "simulated", False):
        return "simulator"
    return getattr(backend, "api_base", None) or api_base or "https://api.openai.com/v1"


def _scrub_text(value: Any, secrets: list[str]) -> Any:
    """A recorded string or bytes with the secrets gone in every spelling (redact.scrub_encoded)."""
    if isinstance(value, str):
        return redact.scrub_encoded(value, secrets)
    if isinstance(value, (bytes, bytearray)):
        return redact.scrub_encoded(bytes(value), secrets)
    return value


def _request_scrubber(secrets: list[str]):
    def scrub(request: Any) -> Any:
        request.uri = _scrub_text(request.uri, secrets)
        body = request.body
        if isinstance(body, (str, bytes, bytearray)):
            request.body = _scrub_text(body, secrets)
        request.headers = {k: _scrub_text(v, secrets) for k, v in request.headers.items()}
        return request

    return scrub


def _response_scrubber(secrets: list[str]):
    def scrub(response: dict) -> dict:
        headers = response.get("headers") or {}
        response["headers"] = {
            k: [_scrub_text(v, secrets) for v in (vs if isinstance(vs, list) else [vs])]
            for k, vs in headers.items()
            if k.lower() not in DROP_RESPONSE_HEADERS
        }
        body = response.get("body") or {}
        if "string" in body:
            body["string"] = _scrub_text(body["string"], secrets)
        return response

    return scrub


# --- the network guard (replay) --------------------------------------------------------


@contextlib.contextmanager
def network_blocked() -> Iterator[None]:
    """Refuse every non-unix socket connection (asyncio's own plumbing uses unix sockets)."""
    cls = socket.socket
    saved = {name: cls.__dict__.get(name) for name in ("connect", "connect_ex")}
    original_connect, original_connect_ex = cls.connect, cls.connect_ex

    def connect(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return original_connect(sock, address)
        raise ReplayNetworkBlocked(f"network connection to {address!r} blocked during replay")

    def connect_ex(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return original_connect_ex(sock, address)
        raise ReplayNetworkBlocked(f"network connection to {address!r} blocked during replay")

    cls.connect, cls.connect_ex = connect, connect_ex  # type: ignore[method-assign]  # restored below
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                delattr(cls, name)
            else:
                setattr(cls, name, value)


# --- the cassette ----------------------------------------------------------------------


@contextlib.contextmanager
def cassette(
    path: str | os.PathLike, mode: str, secrets: Iterable[str | None] = (), block_network: bool = True
) -> Iterator[Any]:
    """Record (`mode="record"`) or replay (`mode="replay"`) every HTTP call made inside.

    Record starts the file afresh. Replay needs the file, answers each recorded interaction
    once, and raises vcrpy's miss (see `is_cassette_miss`) for anything else. `secrets`
    (plus $OPENAI_API_KEY) are replaced by <REDACTED> wherever they appear.
    """
    if mode not in MODES:
        raise ValueError(f"cassette mode must be one of {', '.join(MODES)}, got {mode!r}")
    path = Path(path)
    if mode == "replay" and not path.is_file():
        raise FileNotFoundError(f"cassette not found: {path}")
    if mode == "record":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a re-recording replaces the old file, never merges with it
    import vcr

    hidden = redact.secrets(secrets)
    recorder = vcr.VCR(
        record_mode="all" if mode == "record" else "none",
        match_on=MATCH_ON,
        filter_headers=FILTER_HEADERS,
        before_record_request=_request_scrubber(hidden),
        before_record_response=_response_scrubber(hidden),
        decode_compressed_response=True,  # readable bodies, and a key hidden in gzip is still scrubbed
        # Never drop_unused_requests: vcrpy then rewrites the file on exit even in replay,
        # so a replay that stopped early (a miss) would delete the rest of the cassette.
    )
    recorder.register_matcher("query_and_body", query_and_body)
    with contextlib.ExitStack() as stack:
        if mode == "replay" and block_network:
            stack.enter_context(network_blocked())
        cas = stack.enter_context(recorder.use_cassette(str(path), allow_playback_repeats=False))
        if mode == "replay":
            _index_replay(cas)
        yield cas


# --- the sidecar -----------------------------------------------------------------------


def sidecar_path(cassette_path: str | os.PathLike) -> Path:
    p = Path(cassette_path)
    stem = p.name[: -len(p.suffix)] if p.suffix in (".yaml", ".yml") else p.name
    return p.with_name(stem + ".meta.yaml")


def _version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


def write_sidecar(
    cassette_path: str | os.PathLike,
    command: list[str],
    scenario_hash: str | None,
    recorded_against: str,
    extra: dict | None = None,
    note: str | None = None,
    secrets: Iterable[str | None] = (),
) -> Path:
    """Write NAME.meta.yaml beside NAME.yaml: how, when, with what and against what it was
    recorded. `recorded_against` is "simulator" or the real API base URL."""
    import yaml

    from harness import __version__

    simulated = recorded_against in SIMULATED_SOURCES
    if not simulated and not recorded_against.startswith(("http://", "https://")):
        raise ValueError(f'recorded_against must be "simulator", "mock" or the API base URL, got {recorded_against!r}')
    if note is None:
        note = (
            f"Recorded against the {recorded_against} (simulated responses from the mock), "
            "not evidence about any real model."
            if simulated
            else f"Recorded against {recorded_against}."
        )
    secrets = redact.secrets(secrets)
    if command and Path(command[0]).name in ("harness", "cli.py"):
        command = ["harness", *command[1:]]  # the command a reader types, not a local path
    data = {
        "command": [_SK_TOKEN.sub("sk-***", _scrub_text(str(a), secrets)) for a in command],
        "scenario_hash": scenario_hash,
        "recorded_against": recorded_against,
        "simulated": simulated,
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "harness_version": __version__,
        "litellm_version": _version("litellm"),
        "openai_version": _version("openai"),
        "vcrpy_version": _version("vcrpy"),
        "note": note,
    }
    for key, value in (extra or {}).items():
        data.setdefault(key, value)
    from harness.store.files import write_atomic

    out = sidecar_path(cassette_path)
    write_atomic(out, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return out


def read_sidecar(path: str | os.PathLike) -> dict | None:
    """The sidecar of a cassette (pass the cassette or the .meta.yaml itself); None when
    there is none; ValueError when it is not a sidecar."""
    from harness.domain.yamlfile import read_yaml  # size, depth and alias limits, as for scenarios

    p = Path(path)
    if not p.name.endswith(".meta.yaml"):
        p = sidecar_path(p)
    if not p.exists():
        return None
    _, data, _ = read_yaml(p, ValueError, "cassette sidecar")
    if "recorded_against" not in data:
        raise ValueError(f"{p}: not a cassette sidecar (no recorded_against)")
    return data


def recorded_requests(path: str | os.PathLike) -> Counter:
    """How many interactions a cassette holds per (METHOD, path), hosts ignored."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return Counter(
        (i["request"]["method"].upper(), urlsplit(i["request"]["uri"]).path) for i in data.get("interactions", [])
    )


def check_complete(path: str | os.PathLike, chat_calls: int) -> None:
    """A recording that missed calls would replay as a cassette miss much later, on
    someone else's machine: refuse it now."""
    chats = sum(
        n for (method, p), n in recorded_requests(path).items() if method == "POST" and p.endswith("/chat/completions")
    )
    if chats < chat_calls:
        raise RecordingIncomplete(
            f"{path}: {chat_calls} chat answers were received but only {chats} "
            "were recorded; this cassette would not replay the run (record again)"
        )


class RecordingIncomplete(Exception):
    """Traffic went past the recorder."""
