"""The backend interface: the whole life of an experiment behind one small protocol.

Data types here are our own; a provider's objects never leak past its backend module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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


class BackendError(Exception):
    """A provider refused or failed a call. `retryable` says whether trying again can help."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


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


@runtime_checkable
class Backend(Protocol):
    name: str
    capabilities: frozenset[str]
    simulated: bool  # True for mock-like providers: reports must say "simulated"
    # Optional: `min_training_examples`, the fewest examples the provider fine-tunes on
    # (a run with fewer is refused before anything is created or uploaded).
    # Optional: `secret_env`, the environment variables that hold this provider's
    # credentials; their values are replaced by <REDACTED> wherever they appear in a
    # cassette or its sidecar (the standard credential headers are dropped anyway).

    def upload_training_file(self, data: bytes, filename: str) -> FileRef: ...

    def create_job(self, spec: JobSpec) -> Job: ...

    def get_job(self, job_id: str) -> Job: ...

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]: ...

    def cancel_job(self, job_id: str) -> Job: ...

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]: ...

    # Optional: `find_files(filename) -> list[FileRef]` lets a resumed run adopt a file whose
    # upload landed after the process died; without it such a file is uploaded again.

    async def complete(self, request: ChatRequest) -> Completion: ...
