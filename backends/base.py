"""The backend interface: the whole life of an experiment behind one small protocol.

Data types here are our own; a provider's objects never leak past its backend module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

# Job states, named as OpenAI names them; every backend maps onto these.
VALIDATING = "validating_files"
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})

FINE_TUNE = "fine_tune"
CHAT = "chat"
LOGPROBS = "logprobs"  # continuation_logprobs: exact scores of given replies


class BackendError(Exception):
    """A provider refused or failed a call. `retryable` says whether trying again can help;
    `code` is the provider's own name for the error, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code


class JobLimitReached(BackendError):
    """The provider already has as many fine-tuning jobs active as it allows (per base model
    and organisation), so this one was not created. Not a failure and never retried by the
    backend: the training loop creates it again once a slot is free. `active` is the
    provider's count of active jobs, when its answer says it."""

    def __init__(self, message: str, *, active: int | None = None, status: int | None = 429, code: str | None = None):
        super().__init__(message, status=status, retryable=False, code=code)
        self.active = active


class AccountError(BackendError):
    """Nothing more can be done at this provider until a person acts: a refused key, no
    quota, a daily cap. Never retried; the run stops at once (probing too), saying what to do.
    `resume_later`: the run can be resumed as it is once the limit resets (a daily cap)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, resume_later: bool = False):
        super().__init__(message, status=status, retryable=False, code=code)
        self.resume_later = resume_later


class MalformedResponse(BackendError):
    """A provider answered with a body we cannot read (no choices, fields of the wrong type):
    asking again would get the same, and nothing usable was received, so it is neither
    retried nor charged."""

    def __init__(self, message: str):
        super().__init__(message, status=None, retryable=False)


class ConfigError(Exception):
    """The backend cannot start: missing key, bad base URL. The CLI maps it to exit 2."""


class CassetteMiss(Exception):
    """A replayed run asked for something the cassette does not hold. Never retried."""


@dataclass(frozen=True)
class FileRef:
    id: str
    filename: str
    bytes: int


@dataclass(frozen=True)
class JobSpec:
    base_model: str
    training_file: str
    suffix: str | None = None
    hyperparameters: dict[str, int | float | str] = field(default_factory=dict)
    seed: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    base_model: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # A failed job whose training file is at fault (invalid, too few examples, deleted): a new
    # job on the same file fails too, so the run cannot finish. False: trying again may work.
    data_at_fault: bool = False

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATES


@dataclass(frozen=True)
class JobEvent:
    id: str
    created_at: int
    level: str
    message: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    temperature: float = 1.0
    seed: int | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ModelPrice:
    """What one model id costs on its provider, in USD per 1M tokens."""

    input: float  # prompt tokens
    output: float  # completion tokens
    training: float | None = None  # training tokens (file tokens x epochs) to fine-tune this model; None: unknown


class Backend:
    """The base class of every provider. A subclass sets `name` and `capabilities` and
    implements the calls its capabilities need; every other member has a working default
    here, so the harness reads attributes directly and never probes for them."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # True for mock-like providers: reports must say "simulated". An instance may learn it
    # at run time (the openai backend notices our simulator's signature in its bodies).
    simulated: bool = False
    # False for a provider that runs on the user's own machine (the local one): nothing is
    # billed, so its price() is $0 and the harness shows compute time as the cost instead.
    billed: ClassVar[bool] = True
    # The fewest examples the provider fine-tunes on: a run with fewer is refused before
    # anything is created or uploaded.
    min_training_examples: ClassVar[int] = 1
    # Environment variables holding this provider's credentials: their values are redacted
    # from cassettes, sidecars and everything the harness writes.
    secret_env: ClassVar[tuple[str, ...]] = ()
    # Constructor keywords the harness may pass (others it offers are dropped).
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    # The fine-tuning hyperparameters the provider takes: a scenario with others is refused
    # before anything is created (None: not checked, the provider decides).
    HYPERPARAMETERS: ClassVar[tuple[str, ...] | None] = None
    # Where requests go, when it is an HTTP provider (recordings say what they were made against).
    api_base: str | None = None
    # Seconds between job polls when the user gives none (replays always use 0); asked at each
    # poll, so an instance may change it once it knows its provider.
    poll_interval: float = 10.0
    # Told of each retry (the run's UI), so a provider that keeps failing is never silent.
    on_retry: Callable[[str], None] | None = None

    def _unsupported(self, call: str) -> BackendError:
        return BackendError(f"the {self.name or type(self).__name__} backend cannot {call}", status=400)

    # -- fine-tuning (capability "fine_tune") -------------------------------------------
    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        raise self._unsupported("fine-tune (upload a training file)")

    def find_files(self, filename: str) -> list[FileRef]:
        """Uploaded files with this name, newest first: a resumed run adopts a file whose
        upload landed after the process died. Default: none known (it uploads again)."""
        return []

    def create_job(self, spec: JobSpec) -> Job:
        raise self._unsupported("fine-tune (create a job)")

    def get_job(self, job_id: str) -> Job:
        raise self._unsupported("fine-tune (get a job)")

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events oldest first; with `after`, only those after that event id."""
        raise self._unsupported("fine-tune (list job events)")

    def cancel_job(self, job_id: str) -> Job:
        raise self._unsupported("fine-tune (cancel a job)")

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]:
        """Jobs whose metadata holds every given pair: a resumed run finds the job it
        created before dying. Default: none (a provider without jobs made none)."""
        return []

    # -- chat (capability "chat") --------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        raise self._unsupported("chat")

    @classmethod
    def price(cls, model: str) -> ModelPrice | None:
        """What `model` costs here, or None: unpriced. The harness plans, caps and reports
        spend with this (never another provider's table); an unpriced paid run is refused
        unless --allow-unpriced. Default: None for every model."""
        return None

    def model_info(self, model: str) -> dict[str, str]:
        """What a report should record about a model beyond its id (e.g. device, the weights'
        source and revision or file hash). Default: nothing."""
        return {}

    # -- lifetime ------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Release what belongs to the running event loop (HTTP sessions); called before
        each loop the harness runs ends."""

    def close(self) -> None:
        """Release what the backend holds (clients, models, worker processes)."""

    # -- log-probabilities (capability "logprobs") ---------------------------------------
    async def continuation_logprobs(self, model: str, messages: list[dict], continuations: list[str]) -> list[float]:
        """The total log-probability of each continuation as the assistant's reply to
        `messages` (natural log, summed over its tokens), in the order given."""
        raise self._unsupported("score continuations (log-probabilities)")
