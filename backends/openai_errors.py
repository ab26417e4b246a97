"""How the openai backend reads what went wrong: a replay's cassette miss, a transport
failure (refused, timed out, dropped), a base URL that cannot work, and OpenAI's error
answers, classified by their code and type (not the HTTP status alone) into what the
harness does next: retry after the wait the answer asks for, wait for a free fine-tuning
slot, or stop at once saying what to do. Messages say what the harness was doing in a
user's words, never a method name."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from backends.base import AccountError, BackendError, CassetteMiss, ConfigError, JobLimitReached
from backends.errors import exception_chain, miss_request
from backends.retry import parse_go_duration, parse_retry_after

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


# -- OpenAI's error answers ----------------------------------------------------------------

# "Please try again in 1.2s." / "try again in 7m12s": OpenAI's wait, a Go duration, when a 429
# carries no retry-after header (recorded chat 429s carry none).
_TRY_AGAIN = re.compile(r"(?:try again|retry) in ((?:(?:\d+(?:\.\d+)?)(?:ns|us|\u00b5s|ms|s|m|h))+)", re.I)
# "... reached the maximum of 3 active requests (2 running, 1 pending) for the model ..."
_ACTIVE = re.compile(r"\bactive\b", re.I)
_ACTIVE_COUNT = re.compile(r"maximum of (\d+) active|(\d+) active (?:requests|jobs|fine-tun)", re.I)
# A code quoted inside a wrapper's text, when the wrapper dropped the body.
_QUOTED_CODE = re.compile(r"""['"]code['"]\s*:\s*['"]([A-Za-z0-9_]+)['"]""")
BILLING = "https://platform.openai.com/settings/organization/billing"
API_KEYS = "https://platform.openai.com/api-keys"


@dataclass(frozen=True)
class Answer:
    """What an error answer said: HTTP status, OpenAI's error code and type, its message."""

    status: int | None
    code: str | None
    type: str | None
    message: str


def read_answer(exc: BaseException) -> Answer:
    """The parts of an openai SDK or litellm exception. litellm's own `code` and `type` are
    its labels ("429", "throttling_error"): OpenAI's are read from the body it keeps."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]  # a whole envelope (and the files API's sibling "detail")
    body = body if isinstance(body, dict) else {}
    message = body.get("message")
    message = str(message or getattr(exc, "message", None) or str(exc) or type(exc).__name__)
    code, kind = body.get("code"), body.get("type")
    if not isinstance(code, str):
        found = _QUOTED_CODE.search(message) or _QUOTED_CODE.search(str(exc))
        code = found.group(1) if found else None
    return Answer(
        status=status if isinstance(status, int) else None,
        code=code or None,
        type=kind if isinstance(kind, str) else None,
        message=message,
    )


def suggested_wait(headers: Any, message: str) -> float | None:
    """Seconds the answer asks us to wait: retry-after(-ms), else "Please try again in 1.2s"
    in its message, else the x-ratelimit-reset-* header (a Go duration) of each limit whose
    remaining count is 0; None when it asks for nothing."""
    after = parse_retry_after(headers)
    if after is not None:
        return after
    said = _TRY_AGAIN.search(message)
    if said is not None:
        return parse_go_duration(said.group(1))
    if headers is None:
        return None
    waits = []
    for limit in ("requests", "tokens"):
        try:
            remaining, reset = headers.get(f"x-ratelimit-remaining-{limit}"), headers.get(f"x-ratelimit-reset-{limit}")
        except (AttributeError, TypeError):
            return None
        if reset is not None and (remaining is None or str(remaining).strip() == "0"):
            wait = parse_go_duration(str(reset))
            if wait is not None:
                waits.append(wait)
    return max(waits) if waits else None


def classify_answer(op: str, doing: str, answer: Answer, wait: float | None) -> BackendError:
    """Our error for an answer of OpenAI's, by its code and type first: the errors no retry
    can fix stop at once with what to do; a full set of fine-tuning slots is waited out by
    the training loop; the rest retry when their status says a retry can help."""
    status, code, said = answer.status, (answer.code or "").lower(), answer.message[:300]
    kind = (answer.type or "").lower()
    creating = op == "create_job"
    cause = f"HTTP {status}" + (f" {answer.code}" if answer.code else "") + f": {said}"
    if code == "daily_rate_limit_exceeded" or (creating and status == 429 and "per day" in said):
        return AccountError(
            f"{doing}: OpenAI's daily limit of fine-tuning jobs is reached ({cause}); "
            "no retry can help today: resume tomorrow",
            status=status,
            code=answer.code,
            resume_later=True,
        )
    if code == "insufficient_quota" or kind == "insufficient_quota":
        return AccountError(
            f"{doing}: the OpenAI account has no quota left ({cause}); "
            f"add credit or raise its limits at {BILLING}, then resume the run",
            status=status,
            code=answer.code,
        )
    if status == 401 or code == "invalid_api_key":
        return AccountError(
            f"{doing}: OpenAI refused the API key ({cause}); "
            f"set OPENAI_API_KEY to a valid key (see {API_KEYS}), then resume the run",
            status=status,
            code=answer.code,
        )
    if code == "model_not_available":
        return BackendError(
            f"{doing}: OpenAI cannot fine-tune this model ({cause}); choose a base model that supports "
            "fine-tuning (fine_tune.base_model in the scenario, or --base-model) and start a new run",
            status=status,
            code=answer.code,
        )
    if creating and status == 429 and _ACTIVE.search(said):
        count = _ACTIVE_COUNT.search(said)
        active = int(count.group(1) or count.group(2)) if count else None
        return JobLimitReached(f"{doing}: {said}", active=active, status=status, code=answer.code)
    retryable = status is not None and (status in (408, 409, 429) or status >= 500)
    return BackendError(
        f"{doing}: HTTP {status}: {answer.message}",
        status=status,
        retryable=retryable,
        retry_after=wait,
        code=answer.code,
    )


# What to do about a job that failed, by OpenAI's error code (recorded codes).
JOB_FAILURES = {
    "invalid_training_file": "OpenAI found the training file invalid: check the run's train.jsonl with "
    "`harness validate-data` and the scenario's examples, then start a new run",
    "invalid_n_examples": "OpenAI needs more training examples (at least 10): add examples to the scenario "
    "and start a new run",
    "deleted_training_file": "the training file was deleted before the job read it: start a new run "
    "(it uploads the file again)",
}


def file_at_fault(error: str) -> bool:
    """Whether a failed job's "code: message" blames its training file (every code above):
    a new job on the same file fails the same way."""
    return error.partition(":")[0].strip() in JOB_FAILURES


def explain_job_error(error: str) -> str:
    """A failed job's "code: message", followed by what to do when the code is known."""
    code = error.partition(":")[0].strip()
    advice = JOB_FAILURES.get(code)
    return f"{error}; {advice}" if advice else error


def classify(op: str, exc: BaseException, api_base: str, *, reached: bool) -> BackendError:
    """Our error for any failure of call `op` (not a cassette miss): a transport failure,
    retried unless nothing ever answered at `api_base` (`reached`), or OpenAI's answer."""
    answer = read_answer(exc)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "litellm_response_headers", None)
    retry_after = suggested_wait(headers, answer.message)
    doing = DOING.get(op, op)
    transport = transport_error(exc)
    if transport is not None:
        # litellm labels a refused connection 500; it is a transport failure, not an answer.
        if is_refused(exc) and not reached:
            # Nothing ever answered at this address: a stopped server or a wrong URL, which
            # minutes of retries would not fix (a dead port took 42 s to report).
            return BackendError(
                f"{doing}: cannot reach {api_base} (connection refused); is the server running and the api base right?"
            )
        what = "timed out" if is_timeout(exc) else "connection failed"
        detail = str(transport) or answer.message
        return BackendError(f"{doing}: {what} ({api_base}): {detail}", retryable=True, retry_after=retry_after)
    if answer.status is None:
        return BackendError(f"{doing}: {type(exc).__name__}: {answer.message}")
    return classify_answer(op, doing, answer, retry_after)
