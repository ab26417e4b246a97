"""The documents that say what a run is and where it stands: manifest.json (what was asked,
written once) and state.json (how far it got, rewritten atomically at each step).

They are pydantic models, read and written only through harness.store.run_dir, so a damaged
or hand-edited file is one clear error naming the file and the field, never a KeyError."""
from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness import limits
from harness.domain.scenario import Scenario

Condition = Literal["fine_tuned", "base", "in_context"]


class RunFile(BaseModel):
    """Our files hold exactly our fields: an unknown key is a typo or another tool's file.
    NaN and infinities are refused too (json.loads accepts them; a NaN cap disables a budget)."""
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # `harness resume` can finish it (budget, transient failures)
    CANCELLED = "cancelled"

    @property
    def ended_early(self) -> bool:
        return self in (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INCOMPLETE)


class RunOptions(RunFile):
    """What the user asked for on the command line (None = the scenario's or backend's default)."""
    backend: str = "mock"
    samples: int | None = Field(default=None, ge=1, le=limits.MAX_SAMPLES)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None
    conditions: list[Condition] | None = None
    model: str | None = None  # an existing fine-tuned model: probe it, train nothing
    api_base: str | None = None
    max_cost: float = Field(default=25.0, ge=0)
    allow_unpriced: bool = False
    concurrency: int = Field(default=8, ge=1, le=limits.MAX_CONCURRENCY)
    rpm: float | None = Field(default=None, ge=0.1, le=1e6)  # as the CLI takes them: a hand-edited 1e-300
    tpm: float | None = Field(default=None, ge=1, le=1e12)   # would space requests by 1e301 seconds
    poll_interval: float | None = Field(default=None, ge=0, le=limits.MAX_POLL_INTERVAL)
    judge: str | None = None


class Settings(RunFile):
    """What a run actually uses, once the scenario's defaults and the options are combined
    (computed once, when the run is created, and saved in its manifest)."""
    samples: int = Field(ge=1, le=limits.MAX_SAMPLES)  # a hand-edited 10**9 would hang building tasks
    temperature: float = Field(ge=0, le=2)
    seed: int
    conditions: list[Condition] = Field(min_length=1)
    train: bool
    base_model: str
    epochs: int = Field(ge=1)


class Manifest(RunFile):
    run_id: str = Field(min_length=1)
    scenario_path: str
    scenario_dir: str
    scenario_hash: str
    scenario: Scenario
    options: RunOptions
    settings: Settings
    simulated: bool
    versions: dict[str, str | None] = Field(default_factory=dict)
    git_commit: str | None = None
    created_at: str


StepState = Literal["done", "uploading", "creating"]


class State(RunFile):
    run_id: str = Field(min_length=1)
    status: RunStatus = RunStatus.RUNNING
    steps: dict[str, StepState] = Field(default_factory=dict)
    error: str | None = None
    file_id: str | None = None
    job_id: str | None = None
    job_status: str | None = None
    fine_tuned_model: str | None = None
    training_cost: float | None = None
    # Calls that failed after reaching the provider (timeouts, dropped connections, 5xx) may
    # have been billed: each is charged at its reservation, kept here across resumes.
    lost_calls_cost: float = Field(default=0.0, ge=0)
    simulated: bool = False  # set when the provider turned out to be our simulator

    def step_is(self, step: str, value: StepState) -> bool:
        return self.steps.get(step) == value
