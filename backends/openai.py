"""OpenAI (and OpenAI-compatible servers such as our simulator) through litellm.

litellm does files, job retrieval, cancellation and chat. The openai SDK (a litellm
dependency) does what litellm lacks: creating a job with `metadata` and `method` (litellm
drops both), job events, and listing jobs by metadata. Both are imported lazily: importing
litellm takes seconds, and `harness --help` must not pay for it.

Retries are ours, not the libraries' (theirs are switched off), so they are bounded,
counted and replayable: exponential backoff with full jitter from a seeded generator,
honouring Retry-After, with the sleep injected (0 in replay). The API key never appears
in a message, a repr or a log line of ours.
"""
from __future__ import annotations

import email.utils
import os
import random
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from backends.base import (
    CHAT,
    FINE_TUNE,
    BackendError,
    CassetteMiss,
    ChatRequest,
    Completion,
    ConfigError,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
)
from backends.errors import exception_chain, miss_request

DEFAULT_API_BASE = "https://api.openai.com/v1"
BACKOFF_BASE = 1.0      # seconds before the first retry (upper bound of its jitter)
BACKOFF_CAP = 60.0      # no computed wait exceeds this
RETRY_AFTER_CAP = 600.0  # a server asking for more than 10 minutes is not waited for blindly
PAGE_LIMIT = 100
MAX_PAGES = 50          # listing stops here: loops stay bounded even if a server misbehaves
REDACTED = "sk-***"

T = TypeVar("T")


def _litellm():
    # Without this litellm fetches its price map from the internet at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Provider List" banners on stdout
    # When a run stops probing (a cassette miss, a refusal, Ctrl-C) the calls still in flight
    # are cancelled; litellm had already built their inner coroutine, and Python warns about
    # it on stderr. Nothing is lost: those samples are simply not asked.
    warnings.filterwarnings("ignore", message="coroutine 'OpenAIChatCompletion.acompletion' was never awaited",
                            category=RuntimeWarning)
    return litellm


def backoff_delay(attempt: int, retry_after: float | None, token: str, seed: int = 0) -> float:
    """Seconds to wait before retry number `attempt` (0-based) of the call named `token`.

    Retry-After wins when the server sent it. Otherwise full jitter: uniform in
    [0, min(cap, base * 2**attempt)], drawn from a generator seeded by (seed, token,
    attempt) so the delay does not depend on which concurrent call failed first.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
    return random.Random(f"{seed}:{token}:{attempt}").uniform(0.0, ceiling)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), else None."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000.0
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Read a field of a provider object or of a plain dict."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


# How our simulator signs its bodies (backends/simulator.py). A run that sees them, live or
# replayed from a cassette, is reported as simulated whatever backend name it used.
SIMULATOR_ORGANIZATION = "org-simulator"
SIMULATOR_FINGERPRINT = "fp_simulator"


def _job(obj: Any) -> Job:
    error = _get(obj, "error")
    if error is not None and not isinstance(error, str):
        parts = [_get(error, "code"), _get(error, "message")]
        error = ": ".join(str(p) for p in parts if p) or None
    return Job(
        id=_get(obj, "id"),
        status=_get(obj, "status"),
        base_model=_get(obj, "model"),
        fine_tuned_model=_get(obj, "fine_tuned_model"),
        trained_tokens=_get(obj, "trained_tokens"),
        error=error,
        metadata=dict(_get(obj, "metadata") or {}),
    )


def _event(obj: Any) -> JobEvent:
    return JobEvent(id=_get(obj, "id"), created_at=int(_get(obj, "created_at") or 0),
                    level=_get(obj, "level") or "info", message=_get(obj, "message") or "")


def _completion(response: Any) -> Completion:
    choice = _get(response, "choices")[0]
    usage = _get(response, "usage")
    return Completion(
        text=_get(_get(choice, "message"), "content") or "",
        model=_get(response, "model") or "",
        prompt_tokens=int(_get(usage, "prompt_tokens") or 0) if usage is not None else 0,
        completion_tokens=int(_get(usage, "completion_tokens") or 0) if usage is not None else 0,
        finish_reason=_get(choice, "finish_reason") or "stop",
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


class OpenAIBackend:
    name = "openai"
    capabilities = frozenset({FINE_TUNE, CHAT})
    simulated = False
    secret_env = ("OPENAI_API_KEY",)
    min_training_examples = 10  # OpenAI refuses smaller fine-tuning files
    OPTIONS = ("api_key", "api_base", "max_retries", "sleep")

    def __init__(self, api_key: str | None = None, api_base: str | None = None, max_retries: int = 6,
                 sleep: Callable[[float], Any] = time.sleep,
                 async_sleep: Callable[[float], Awaitable[Any]] | None = None,
                 timeout: float = 120.0, retry_seed: int = 0):
        key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        if not key.strip():
            raise ConfigError("the openai backend needs an API key: set OPENAI_API_KEY "
                              "(or pass api_key); none was found")
        base = (api_base or os.environ.get("OPENAI_BASE_URL") or DEFAULT_API_BASE).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"api base must be an http(s) URL, got {base!r}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        self._api_key = key.strip()
        self.api_base = base
        self.max_retries = max_retries
        self.sleep = sleep
        # A sleep injected for replay or tests (not time.sleep) also governs async waits,
        # so one option makes every wait 0 in replay.
        if async_sleep is None:
            import asyncio  # here, not at module level: importing this module stays instant

            async_sleep = asyncio.sleep if sleep is time.sleep else self._sync_as_async
        self.async_sleep = async_sleep
        self.timeout = timeout
        self.retry_seed = retry_seed
        self.retries = 0   # retries performed so far (all calls), for reports and tests
        self.on_retry: Callable[[str], None] | None = None  # told of each retry (the run's UI)
        self._client = None

    def __repr__(self) -> str:
        return f"OpenAIBackend(api_base={self.api_base!r}, max_retries={self.max_retries})"

    def _seen(self, convert: Callable[[Any], T], obj: Any) -> T:
        """Convert a provider object, noticing whether it came from our simulator."""
        if (_get(obj, "organization_id") == SIMULATOR_ORGANIZATION
                or _get(obj, "system_fingerprint") == SIMULATOR_FINGERPRINT):
            self.simulated = True
        return convert(obj)

    async def _sync_as_async(self, seconds: float) -> None:
        self.sleep(seconds)

    # --- errors and retries -------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, REDACTED) if self._api_key else text

    def _error(self, op: str, exc: BaseException) -> Exception:
        """Our exception for a provider's: CassetteMiss, or BackendError with retryability."""
        miss = cassette_miss(exc)
        if miss is not None:
            return miss
        if isinstance(exc, (BackendError, ConfigError)):
            return exc
        status = getattr(exc, "status_code", None)
        status = status if isinstance(status, int) else None
        body = getattr(exc, "body", None)
        message = body.get("message") if isinstance(body, dict) else None
        message = str(message or getattr(exc, "message", None) or str(exc) or type(exc).__name__)
        response = getattr(exc, "response", None)
        retry_after = parse_retry_after(getattr(response, "headers", None))
        if retry_after is None:
            retry_after = parse_retry_after(getattr(exc, "litellm_response_headers", None))
        transport = _transport_error(exc)
        if transport is not None:
            # litellm labels a refused connection 500; it is a transport failure, not an answer.
            what = "timed out" if _is_timeout(exc) else "connection failed"
            detail = str(transport) or message
            return BackendError(self._scrub(f"{op}: {what}: {detail}"), status=None,
                                retryable=True, retry_after=retry_after)
        if status is None:
            return BackendError(self._scrub(f"{op}: {type(exc).__name__}: {message}"), retryable=False)
        retryable = status in (408, 409, 429) or status >= 500
        return BackendError(self._scrub(f"{op}: HTTP {status}: {message}"), status=status,
                            retryable=retryable, retry_after=retry_after)

    def _give_up(self, err: Exception, attempt: int) -> bool:
        return not isinstance(err, BackendError) or not err.retryable or attempt >= self.max_retries

    def _next_wait(self, err: BackendError, attempt: int, token: str) -> float:
        """Count a retry, tell on_retry (the run's UI) about it, and return the wait."""
        self.retries += 1
        delay = backoff_delay(attempt, err.retry_after, token, self.retry_seed)
        if self.on_retry is not None:
            self.on_retry(f"{err} (retry {attempt + 1} of {self.max_retries} in {delay:.1f} s)")
        return delay

    def _call(self, op: str, token: str, fn: Callable[[], T]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:  # every provider failure is mapped below, none is swallowed
                err = self._error(op, exc)
            if self._give_up(err, attempt):
                raise err
            self.sleep(self._next_wait(err, attempt, f"{op}:{token}"))
        raise AssertionError("unreachable: the loop returns or raises")

    async def _acall(self, op: str, token: str, fn: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                return await fn()
            except Exception as exc:  # CancelledError is a BaseException: it passes through
                err = self._error(op, exc)
            if self._give_up(err, attempt):
                raise err
            await self.async_sleep(self._next_wait(err, attempt, f"{op}:{token}"))
        raise AssertionError("unreachable: the loop returns or raises")

    # --- clients ------------------------------------------------------------------------

    def _sdk(self):
        if self._client is None:
            import openai

            extra = {}
            if self.api_base.startswith("http://"):
                # Plain http (the simulator on loopback) needs no TLS context; building one costs ~0.2 s.
                extra["http_client"] = openai.DefaultHttpxClient(verify=False, timeout=self.timeout)
            self._client = openai.OpenAI(base_url=self.api_base, api_key=self._api_key,
                                         max_retries=0, timeout=self.timeout, **extra)
        return self._client

    def _litellm_args(self) -> dict[str, Any]:
        return {"custom_llm_provider": "openai", "api_base": self.api_base, "api_key": self._api_key,
                "max_retries": 0, "timeout": self.timeout}

    # --- files and jobs -----------------------------------------------------------------

    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        litellm = _litellm()

        def call():
            return litellm.create_file(file=(filename, data), purpose="fine-tune", **self._litellm_args())

        for attempt in range(self.max_retries + 1):
            try:
                obj = call()
                return FileRef(id=_get(obj, "id"), filename=_get(obj, "filename") or filename,
                               bytes=int(_get(obj, "bytes") or len(data)))
            except Exception as exc:  # mapped below, none swallowed
                err = self._error("upload_training_file", exc)
            if self._give_up(err, attempt):
                raise err
            # The upload may have landed although its response was lost: look for the
            # file by its name (the run makes names unique) before sending it again.
            if err.status != 429:
                existing = [f for f in self.find_files(filename) if f.bytes == len(data)]
                if existing:
                    return existing[0]
            self.sleep(self._next_wait(err, attempt, f"upload:{filename}"))
        raise AssertionError("unreachable: the loop returns or raises")

    def find_files(self, filename: str) -> list[FileRef]:
        """Fine-tuning files with this name, newest first."""
        client = self._sdk()
        page = self._call("find_files", filename, lambda: client.files.list(purpose="fine-tune"))
        return [FileRef(id=f.id, filename=f.filename, bytes=int(f.bytes or 0))
                for f in page.data if f.filename == filename]

    def create_job(self, spec: JobSpec) -> Job:
        client = self._sdk()
        args: dict[str, Any] = {"model": spec.base_model, "training_file": spec.training_file}
        if spec.suffix:
            args["suffix"] = spec.suffix
        if spec.seed is not None:
            args["seed"] = spec.seed
        if spec.metadata:
            args["metadata"] = dict(spec.metadata)
        if spec.hyperparameters:
            # `hyperparameters` at the top level is deprecated; `method` is the current form.
            args["method"] = {"type": "supervised",
                              "supervised": {"hyperparameters": dict(spec.hyperparameters)}}
        token = spec.training_file
        for attempt in range(self.max_retries + 1):
            try:
                return self._seen(_job, client.fine_tuning.jobs.create(**args))
            except Exception as exc:
                err = self._error("create_job", exc)
            if self._give_up(err, attempt):
                raise err
            # A failure after sending (5xx, timeout, dropped connection) may still have
            # created the job: look for it by its metadata before paying for a second one.
            if spec.metadata and err.status != 429:
                existing = self.find_jobs(spec.metadata)
                if existing:
                    return existing[0]
            self.sleep(self._next_wait(err, attempt, f"create_job:{token}"))
        raise AssertionError("unreachable: the loop returns or raises")

    def get_job(self, job_id: str) -> Job:
        litellm = _litellm()
        # litellm builds a new HTTP client (and TLS context) per call unless given one:
        # ~50 ms per poll; our one SDK client is reused.
        return self._seen(_job, self._call("get_job", job_id, lambda: litellm.retrieve_fine_tuning_job(
            fine_tuning_job_id=job_id, client=self._sdk(), **self._litellm_args())))

    def cancel_job(self, job_id: str) -> Job:
        litellm = _litellm()
        return _job(self._call("cancel_job", job_id, lambda: litellm.cancel_fine_tuning_job(
            fine_tuning_job_id=job_id, client=self._sdk(), **self._litellm_args())))

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events oldest first; with `after`, only those newer than that event id.

        OpenAI lists newest first and its `after` cursor pages towards older events, so
        pages are read until the `after` event (or the oldest) is reached, then reversed.
        """
        client = self._sdk()
        newest_first: list[JobEvent] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"limit": PAGE_LIMIT}
            if cursor is not None:
                kwargs["after"] = cursor
            page = self._call("list_events", f"{job_id}:{cursor}",
                              lambda: client.fine_tuning.jobs.list_events(job_id, **kwargs))
            data = [_event(e) for e in page.data]
            for event in data:
                if after is not None and event.id == after:
                    return newest_first[::-1]
                newest_first.append(event)
            if not data or not getattr(page, "has_more", False):
                break
            cursor = data[-1].id
        if after is not None:
            raise BackendError(f"list_events: event {after} not found in job {job_id}", status=400)
        return newest_first[::-1]

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]:
        """Jobs whose metadata holds every given pair, newest first (the server filters;
        we check again, so a server that ignores the filter cannot return strangers)."""
        client = self._sdk()
        found: list[Job] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"limit": PAGE_LIMIT, "metadata": dict(metadata)}
            if cursor is not None:
                kwargs["after"] = cursor
            page = self._call("find_jobs", str(cursor),
                              lambda: client.fine_tuning.jobs.list(**kwargs))
            jobs = [_job(j) for j in page.data]
            found += [j for j in jobs if all(j.metadata.get(k) == v for k, v in metadata.items())]
            if not jobs or not getattr(page, "has_more", False):
                break
            cursor = jobs[-1].id
        return found

    # --- chat ---------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        litellm = _litellm()
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "num_retries": 0,
            **self._litellm_args(),
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        token = f"{request.model}:{request.seed}:{len(request.messages)}"
        response = await self._acall("complete", token, lambda: litellm.acompletion(**kwargs))
        return self._seen(_completion, response)

    async def aclose(self) -> None:
        """Close litellm's cached aiohttp sessions (bound to the running event loop)."""
        if "litellm" in sys.modules:
            close = getattr(_litellm(), "close_litellm_async_clients", None)  # litellm >= 1.7x
            if close is not None:
                await close()


def _transport_error(exc: BaseException) -> BaseException | None:
    """The innermost transport failure in the chain, or None (litellm reports a refused
    connection as InternalServerError 500 wrapping openai's and aiohttp's errors)."""
    import asyncio

    import openai

    connection_types: tuple[type, ...] = (openai.APIConnectionError, ConnectionError, TimeoutError,
                                          asyncio.TimeoutError)
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


def _is_timeout(exc: BaseException) -> bool:
    import asyncio

    import openai

    timeouts = (openai.APITimeoutError, TimeoutError, asyncio.TimeoutError)
    return any(isinstance(e, timeouts) for e in exception_chain(exc))
