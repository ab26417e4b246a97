"""How the openai backend reads what went wrong: a replay's cassette miss, a transport
failure (refused, timed out, dropped), and a base URL that cannot work; messages say what
the harness was doing in a user's words, never a method name."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from backends.base import CassetteMiss, ConfigError
from backends.errors import exception_chain, miss_request

# What each call is doing, in a user's words: errors say this, not our method names.
DOING = {
    "upload_training_file": "uploading the training file",
    "find_files": "looking for the uploaded file",
    "create_job": "creating the fine-tuning job",
    "get_job": "checking the fine-tuning job",
    "cancel_job": "cancelling the fine-tuning job",
    "list_events": "reading the job's events",
    "find_jobs": "looking for the run's fine-tuning job",
    "complete": "asking the model",
}


def check_api_base(base: str, given_as: str) -> None:
    """An http(s) URL with a path: OpenAI-compatible servers (the simulator too) answer under
    /v1, and a base without it failed later with a bare 404, after the run directory was made."""
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"{given_as} must be an http(s) URL, got {base[:100]!r}")
    try:
        path = urlsplit(base).path
    except ValueError as e:
        raise ConfigError(f"{given_as} is not a valid URL: {e}") from None
    if path in ("", "/"):
        raise ConfigError(
            f"{given_as} {base[:100]} has no path, but OpenAI-compatible APIs (and `harness simulate`) "
            f"are served under /v1: use {given_as} {base[:100]}/v1"
        )


def cassette_miss(exc: BaseException) -> CassetteMiss | None:
    """A CassetteMiss if `exc` is (or wraps) vcrpy's unmatched-request error, else None.

    litellm wraps it (InternalServerError -> OpenAIError -> vcrpy's exception), so the
    chain is walked; the message is the fallback when a wrapper dropped the chain.
    """
    found = miss_request(exc)
    if found is None:
        return None
    method, path = found
    return CassetteMiss(f"cassette miss: {method} {path}")


def transport_error(exc: BaseException) -> BaseException | None:
    """The innermost transport failure in the chain, or None (litellm reports a refused
    connection as InternalServerError 500 wrapping openai's and aiohttp's errors)."""
    import asyncio

    import openai

    connection_types: tuple[type, ...] = (
        openai.APIConnectionError,
        ConnectionError,
        TimeoutError,
        asyncio.TimeoutError,
    )
    for name in ("httpx", "httpx2"):  # litellm uses httpx, the openai SDK httpx2
        module = sys.modules.get(name)
        if module is not None:
            connection_types += (module.TransportError,)
    try:
        import aiohttp

        connection_types += (aiohttp.ClientConnectionError, aiohttp.ServerTimeoutError)
    except ImportError:
        pass
    found = [e for e in exception_chain(exc) if isinstance(e, connection_types)]
    return found[-1] if found else None


def is_refused(exc: BaseException) -> bool:
    return any(isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e) for e in exception_chain(exc))


def is_timeout(exc: BaseException) -> bool:
    import asyncio

    import openai

    timeouts = (openai.APITimeoutError, TimeoutError, asyncio.TimeoutError)
    return any(isinstance(e, timeouts) for e in exception_chain(exc))
