"""What the openai SDK and litellm return, as the backend's own types: a job, a job event, a
completion. Fields are read from provider objects or plain dicts alike.

A server's answer is input: a body whose shape is wrong (no choices, an answer that is not
text, usage that is not an object) is a MalformedResponse, never an IndexError, and never a
retry: asking again gets the same body. Numbers are passed on as sent; the harness checks
them where a provider's data enters (harness.calls.boundary). litellm reports a body it
cannot read as a retryable HTTP 500; `unreadable` tells that apart from a real 500."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from backends.base import Completion, FileRef, Job, JobEvent, MalformedResponse
from backends.errors import exception_chain, is_cassette_miss
from backends.openai_errors import DOING

T = TypeVar("T")
_SCALARS = (str, int, float, bool, type(None))


def get(obj: Any, name: str, default: Any = None) -> Any:
    """Read a field of a provider object or of a plain dict (a scalar or a list has none)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    if isinstance(obj, (*_SCALARS, list, tuple)):
        return default
    return getattr(obj, name, default)


def _object(obj: Any, what: str) -> Any:
    if isinstance(obj, (*_SCALARS, list, tuple)):
        raise MalformedResponse(f"the provider's {what} is {type(obj).__name__}, not an object")
    return obj


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedResponse(f"the provider's {what} is {type(value).__name__}, not a string")


def page(obj: Any, what: str) -> list:
    """The items of a listed page."""
    data = get(obj, "data")
    if not isinstance(data, list):
        raise MalformedResponse(f"the provider's {what} has no list of items (data: {_shown(data)})")
    return data


def file_ref(obj: Any, filename: str = "", size: int = 0) -> FileRef:
    obj = _object(obj, "file")
    return FileRef(
        id=_text(get(obj, "id"), "file id") or "",
        filename=_text(get(obj, "filename"), "file name") or filename,
        bytes=get(obj, "bytes") or size,  # checked by the harness
    )


def job(obj: Any) -> Job:
    obj = _object(obj, "job")
    error = get(obj, "error")
    if error is not None and not isinstance(error, str):
        parts = [get(error, "code"), get(error, "message")]
        error = ": ".join(str(p) for p in parts if p) or None
    metadata = get(obj, "metadata")
    return Job(
        id=_text(get(obj, "id"), "job id") or "",
        status=_text(get(obj, "status"), "job status") or "",
        base_model=_text(get(obj, "model"), "job model") or "",
        fine_tuned_model=_text(get(obj, "fine_tuned_model"), "fine-tuned model id"),
        trained_tokens=get(obj, "trained_tokens"),  # checked by the harness (a count, or None)
        error=error,
        metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
    )


def event(obj: Any) -> JobEvent:
    obj = _object(obj, "job event")
    return JobEvent(
        id=_text(get(obj, "id"), "event id") or "",
        created_at=get(obj, "created_at") or 0,  # checked by the harness
        level=str(get(obj, "level") or "info"),
        message=str(get(obj, "message") or ""),
    )


def completion(response: Any) -> Completion:
    try:
        return _completion(response)
    except MalformedResponse as e:
        raise MalformedResponse(f"{DOING['complete']}: {e}") from None


def _completion(response: Any) -> Completion:
    response = _object(response, "answer")
    choices = get(response, "choices")
    if not isinstance(choices, (list, tuple)) or not choices:
        raise MalformedResponse(f"the provider's answer has no choices (choices: {_shown(choices)})")
    choice = _object(choices[0], "choice")
    message = _object(get(choice, "message"), "choice's message")
    usage = get(response, "usage")
    if usage is not None:
        _object(usage, "usage")
    return Completion(
        text=_text(get(message, "content"), "answer text") or "",
        model=str(get(response, "model") or ""),
        prompt_tokens=get(usage, "prompt_tokens") or 0,  # checked by the harness (harness.calls.boundary)
        completion_tokens=get(usage, "completion_tokens") or 0,
        finish_reason=str(get(choice, "finish_reason") or "stop"),
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# --- the body as the server sent it ------------------------------------------------------------

# The chat answers' bodies as they came off the wire, for the call running in this context:
# litellm's own reading keeps only what fits its types (a NaN count, usage as a string: a
# "500"), so the backend reads the server's JSON itself (`completion(raw_body(...))`).
_BODIES: contextvars.ContextVar[list[bytes] | None] = contextvars.ContextVar("harness_chat_bodies", default=None)


def chat_client(api_base: str, api_key: str, timeout: float) -> Any:
    """The async client the backend hands litellm for chat: the openai SDK's, whose response
    hook keeps each answer's body as sent (keep_body)."""
    import openai

    http = openai.DefaultAsyncHttpxClient(timeout=timeout, event_hooks={"response": [keep_body]})
    return openai.AsyncOpenAI(base_url=api_base, api_key=api_key, max_retries=0, timeout=timeout, http_client=http)


async def keep_body(response: Any) -> None:
    """httpx response hook of the chat client: keep the body for the call waiting on it."""
    kept = _BODIES.get()
    if kept is not None:
        await response.aread()
        kept.append(response.content)


def capturing() -> list[bytes]:
    """Start keeping the chat bodies of the calling task; returns where they go."""
    kept: list[bytes] = []
    _BODIES.set(kept)
    return kept


def raw_body(kept: list[bytes], fallback: Any) -> Any:
    """The last body kept, parsed (NaN and huge numbers kept as sent), or `fallback` when
    none was (a client without the hook). A body that is not JSON is a MalformedResponse."""
    if not kept:
        return fallback
    try:
        return json.loads(kept[-1])
    except (ValueError, RecursionError) as e:
        raise MalformedResponse(
            f"{DOING['complete']}: the provider's answer is not JSON ({type(e).__name__})"
        ) from None


class Unread:
    """An answer litellm received but could not read: the body is read here instead."""


UNREAD = Unread()


# --- what litellm could not read ---------------------------------------------------------------

_TRANSPORT = ("httpx", "httpcore", "aiohttp", "anyio", "h11", "socket", "ssl")


def unreadable(op: str, exc: BaseException) -> MalformedResponse | None:
    """litellm's "500" for an answer it received but could not read (an IndexError, a
    pydantic error or a JSON error inside, no HTTP error and no transport error anywhere in
    the chain), as a MalformedResponse; None for anything else (a real 5xx, a dropped
    connection, a cassette miss)."""
    if getattr(exc, "status_code", None) != 500 or not type(exc).__module__.startswith("litellm"):
        return None
    if is_cassette_miss(exc):
        return None
    chain = list(exception_chain(exc))
    for e in chain:  # the openai SDK's own errors are HTTP answers or transport failures
        home = type(e).__module__.split(".")[0]
        if home == "openai" or home in _TRANSPORT or isinstance(e, (OSError, TimeoutError)):
            return None
    inner = chain[-1]
    detail = (str(inner).strip().splitlines() or [type(inner).__name__])[0][:200]
    return MalformedResponse(
        f"{DOING.get(op, op)}: the provider's answer could not be read ({type(inner).__name__}: {detail})"
    )


def guarded(op: str, call: Callable[[], T]) -> T:
    """`call()`, with an answer litellm could not read raised as a MalformedResponse."""
    try:
        return call()
    except Exception as exc:
        err = unreadable(op, exc)
        if err is None:
            raise
        raise err from None


async def guarded_async(op: str, call: Awaitable[T], kept: list[bytes] | None = None) -> T | Unread:
    """`await call`; an answer litellm could not read is UNREAD when its body was kept
    (`kept`: the backend reads the body itself), else a MalformedResponse."""
    try:
        return await call
    except Exception as exc:
        err = unreadable(op, exc)
        if err is None:
            raise
        if kept:
            return UNREAD
        raise err from None
