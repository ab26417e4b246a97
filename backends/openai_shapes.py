"""What the openai SDK and litellm return, as the backend's own types: a job, a job event, a
completion. Fields are read from provider objects or plain dicts alike."""

from __future__ import annotations

from typing import Any

from backends.base import Completion, Job, JobEvent


def get(obj: Any, name: str, default: Any = None) -> Any:
    """Read a field of a provider object or of a plain dict."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def job(obj: Any) -> Job:
    error = get(obj, "error")
    if error is not None and not isinstance(error, str):
        parts = [get(error, "code"), get(error, "message")]
        error = ": ".join(str(p) for p in parts if p) or None
    return Job(
        id=get(obj, "id"),
        status=get(obj, "status"),
        base_model=get(obj, "model"),
        fine_tuned_model=get(obj, "fine_tuned_model"),
        trained_tokens=get(obj, "trained_tokens"),
        error=error,
        metadata=dict(get(obj, "metadata") or {}),
    )


def event(obj: Any) -> JobEvent:
    return JobEvent(
        id=get(obj, "id"),
        created_at=int(get(obj, "created_at") or 0),
        level=get(obj, "level") or "info",
        message=get(obj, "message") or "",
    )


def completion(response: Any) -> Completion:
    choice = get(response, "choices")[0]
    usage = get(response, "usage")
    return Completion(
        text=get(get(choice, "message"), "content") or "",
        model=get(response, "model") or "",
        prompt_tokens=int(get(usage, "prompt_tokens") or 0) if usage is not None else 0,
        completion_tokens=int(get(usage, "completion_tokens") or 0) if usage is not None else 0,
        finish_reason=get(choice, "finish_reason") or "stop",
    )
