"""OpenAI (and OpenAI-compatible servers such as our simulator) through litellm.

litellm does file uploads and chat. The openai SDK (a litellm dependency) does what litellm
lacks or gets wrong: creating a job with `metadata` and `method` (litellm drops both), reading
and cancelling a job (litellm refuses a status it does not know, such as a paused job's), job
events, and listing files and jobs by metadata. Both are imported lazily: importing
litellm takes seconds, and `harness --help` must not pay for it.

Retries are ours, not the libraries' (theirs are switched off): backends.retry's one
policy, bounded, counted and replayable, with the sleep injected (0 in replay). The API
key never appears in a message, a repr or a log line of ours.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from backends import openai_lean
from backends import openai_shapes as shapes
from backends.base import (
    CHAT,
    FINE_TUNE,
    Backend,
    BackendError,
    ChatRequest,
    Completion,
    ConfigError,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
    ModelPrice,
)
from backends.openai_errors import cassette_miss, check_api_base, classify, explain_job_error, file_at_fault
from backends.prices import openai_price
from backends.retry import RetryPolicy

DEFAULT_API_BASE = "https://api.openai.com/v1"
PAGE_LIMIT = 100
MAX_PAGES = 50  # listing stops here: loops stay bounded even if a server misbehaves
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
    warnings.filterwarnings(
        "ignore", message="coroutine 'OpenAIChatCompletion.acompletion' was never awaited", category=RuntimeWarning
    )
    # An answer litellm cannot fit its types (a NaN count) is read from its body instead
    # (openai_shapes); pydantic's complaint about it is not for the person watching.
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
    # litellm logs its own internal failures with their tracebacks (a provider's answer whose
    # "model" is not a string broke its cost logging); what matters reaches us as exceptions.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        if logging.getLogger(name).level == logging.NOTSET:  # unless someone chose a level
            logging.getLogger(name).setLevel(logging.CRITICAL)
    openai_lean.configure(litellm)  # no pricing by litellm for the calls the harness prices
    return litellm


# How our simulator signs its bodies (backends/simulator/wire.py). A run that sees them, live or
# replayed from a cassette, is reported as simulated whatever backend name it used.
SIMULATOR_ORGANIZATION = "org-simulator"
SIMULATOR_FINGERPRINT = "fp_simulator"
# The simulator's jobs advance one state per poll (a few polls in all): waiting OpenAI's 10 s
# between them spent 50 of a 60 s run asleep.
SIMULATOR_POLL_INTERVAL = 0.2


def _job(obj: Any) -> Job:
    """A job, its failure said with what to do about it when OpenAI's code is one we know."""
    job = shapes.job(obj)
    if not job.error:
        return job
    return dataclasses.replace(job, error=explain_job_error(job.error), data_at_fault=file_at_fault(job.error))


class OpenAIBackend(Backend):
    name = "openai"
    capabilities = frozenset({FINE_TUNE, CHAT})
    simulated = False
    secret_env = ("OPENAI_API_KEY",)
    min_training_examples = 10  # OpenAI refuses smaller fine-tuning files
    OPTIONS = ("api_key", "api_base", "max_retries", "sleep")
    HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")  # supervised fine-tuning

    @classmethod
    def price(cls, model: str) -> ModelPrice | None:
        return openai_price(model)

    def __init__(
        self,
        api_key: str | None = None,
        api_base: str | None = None,
        max_retries: int = 6,
        sleep: Callable[[float], Any] = time.sleep,
        async_sleep: Callable[[float], Awaitable[Any]] | None = None,
        timeout: float = 120.0,
        retry_seed: int = 0,
    ):
        key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        if not key.strip():
            raise ConfigError(
                "the openai backend needs an API key: set the environment variable "
                "OPENAI_API_KEY (a --replay needs none); none was found"
            )
        base = (api_base or os.environ.get("OPENAI_BASE_URL") or DEFAULT_API_BASE).rstrip("/")
        check_api_base(
            base,
            "--api-base" if api_base else "OPENAI_BASE_URL" if os.environ.get("OPENAI_BASE_URL") else "the api base",
        )
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        self._api_key = key.strip()
        self.api_base: str = base
        self.timeout = timeout
        # One policy for every call; a sleep injected for replay or tests (not time.sleep)
        # also governs async waits, so one option makes every wait 0 in replay.
        self.retry = RetryPolicy(
            max_retries=max_retries, seed=retry_seed, sleep=sleep, async_sleep=async_sleep, notify=lambda: self.on_retry
        )
        self._client: Any = None
        self._aclient: Any = None  # the chat client of the running event loop (closed by aclose)
        self._reached = False  # whether the provider ever answered (a refused connection then is transient)

    @property
    def max_retries(self) -> int:
        return self.retry.max_retries

    @property
    def retries(self) -> int:
        """Retries performed so far (all calls), for reports and tests."""
        return self.retry.retries

    def __repr__(self) -> str:
        return f"OpenAIBackend(api_base={self.api_base!r}, max_retries={self.max_retries})"

    def _seen(self, convert: Callable[[Any], T], obj: Any) -> T:
        """Convert a provider object, noticing whether it came from our simulator."""
        if (
            shapes.get(obj, "organization_id") == SIMULATOR_ORGANIZATION
            or shapes.get(obj, "system_fingerprint") == SIMULATOR_FINGERPRINT
        ):
            self.simulated = True
            self.poll_interval = min(self.poll_interval, SIMULATOR_POLL_INTERVAL)
        return convert(obj)

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
        err = classify(op, exc, self.api_base, reached=self._reached)
        err.args = (self._scrub(str(err)),)  # the key never reaches a message of ours
        return err

    def _retry_call(
        self, op: str, token: str, fn: Callable[[], T], recover: Callable[[BackendError], T | None] | None = None
    ) -> T:
        result = self.retry.call(op, token, fn, self._error, recover)
        self._reached = True
        return result

    async def _retry_acall(self, op: str, token: str, fn: Callable[[], Awaitable[T]]) -> T:
        result = await self.retry.acall(op, token, fn, self._error)
        self._reached = True
        return result

    # --- clients ------------------------------------------------------------------------

    def _sdk(self) -> Any:
        if self._client is None:
            import openai

            # Plain http (the simulator on loopback) needs no TLS context; building one costs ~0.2 s.
            http_client = (
                openai.DefaultHttpxClient(verify=False, timeout=self.timeout)
                if self.api_base.startswith("http://")
                else None
            )
            self._client = openai.OpenAI(
                base_url=self.api_base,
                api_key=self._api_key,
                max_retries=0,
                timeout=self.timeout,
                http_client=http_client,
            )
        return self._client

    def _litellm_args(self) -> dict[str, Any]:
        return {
            "custom_llm_provider": "openai",
            "api_base": self.api_base,
            "api_key": self._api_key,
            "max_retries": 0,
            "timeout": self.timeout,
        }

    # --- files and jobs -----------------------------------------------------------------

    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        litellm = _litellm()

        def call() -> FileRef:
            obj = shapes.guarded(
                "upload_training_file",
                lambda: litellm.create_file(file=(filename, data), purpose="fine-tune", **self._litellm_args()),
            )
            return shapes.file_ref(obj, filename, len(data))

        def landed(err: BackendError) -> FileRef | None:
            # The upload may have landed although its response was lost: look for the
            # file by its name (the run makes names unique) before sending it again.
            if err.status == 429:
                return None
            return next((f for f in self.find_files(filename) if f.bytes == len(data)), None)

        return self._retry_call("upload_training_file", filename, call, recover=landed)

    def find_files(self, filename: str) -> list[FileRef]:
        """Fine-tuning files with this name, newest first."""
        client = self._sdk()
        page = self._retry_call("find_files", filename, lambda: client.files.list(purpose="fine-tune"))
        return [f for f in (shapes.file_ref(obj) for obj in shapes.page(page, "file list")) if f.filename == filename]

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
            args["method"] = {"type": "supervised", "supervised": {"hyperparameters": dict(spec.hyperparameters)}}

        def created(err: BackendError) -> Job | None:
            # A failure after sending (5xx, timeout, dropped connection) may still have
            # created the job: look for it by its metadata before paying for a second one.
            if not spec.metadata or err.status == 429:
                return None
            return next(iter(self.find_jobs(spec.metadata)), None)

        return self._retry_call(
            "create_job",
            spec.training_file,
            lambda: self._seen(_job, client.fine_tuning.jobs.create(**args)),
            recover=created,
        )

    def get_job(self, job_id: str) -> Job:
        # The openai SDK, not litellm: litellm validates the status against the six it knows
        # and fails on a job paused at OpenAI ("paused": the spec's pause example), which
        # the run simply keeps polling. One SDK client is reused across polls.
        client = self._sdk()
        return self._seen(_job, self._retry_call("get_job", job_id, lambda: client.fine_tuning.jobs.retrieve(job_id)))

    def cancel_job(self, job_id: str) -> Job:
        client = self._sdk()
        return _job(self._retry_call("cancel_job", job_id, lambda: client.fine_tuning.jobs.cancel(job_id)))

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
            page = self._retry_call(
                "list_events",
                f"{job_id}:{cursor}",
                functools.partial(client.fine_tuning.jobs.list_events, job_id, **kwargs),
            )
            data = [shapes.event(e) for e in shapes.page(page, "event list")]
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
            page = self._retry_call("find_jobs", str(cursor), functools.partial(client.fine_tuning.jobs.list, **kwargs))
            jobs = [_job(j) for j in shapes.page(page, "job list")]
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
        if self._aclient is None:  # one per event loop (aclose ends it), keeping the bodies as sent
            self._aclient = shapes.chat_client(self.api_base, self._api_key, self.timeout)
        kwargs["client"] = self._aclient
        token = f"{request.model}:{request.seed}:{len(request.messages)}"
        kept = shapes.capturing()  # the body as sent, whatever litellm makes of it
        with openai_lean.priced_by_harness():  # the boundary and the ledger price and record it
            response = await self._retry_acall(
                "complete", token, lambda: shapes.guarded_async("complete", litellm.acompletion(**kwargs), kept)
            )
        return self._seen(shapes.completion, shapes.raw_body(kept, response))

    async def aclose(self) -> None:
        """Close the chat client and litellm's cached aiohttp sessions (bound to the running
        event loop)."""
        if self._aclient is not None:
            client, self._aclient = self._aclient, None
            await client.close()
        if "litellm" in sys.modules:
            close = getattr(_litellm(), "close_litellm_async_clients", None)  # litellm >= 1.7x
            if close is not None:
                await close()
