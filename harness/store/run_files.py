"""The documents that say what a run is and where it stands: manifest.json (what was asked,
written once) and state.json (how far it got, rewritten atomically at each step).

They are pydantic models, read and written only through harness.store.run_dir, so a damaged
or hand-edited file is one clear error naming the file and the field, never a KeyError."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness import limits
from harness.domain.scenario import MAX_REPLICATES, Condition, Scenario

__all__ = [
    "Condition",
    "RunFile",
    "RunStatus",
    "RunOptions",
    "Settings",
    "Manifest",
    "TrainingJob",
    "SlotWait",
    "State",
]
Training = Literal["fine_tuned", "sham"]


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
    base_model: str | None = None  # overrides the scenario's fine_tune.base_model
    api_base: str | None = None
    max_cost: float = Field(default=25.0, ge=0)
    allow_unpriced: bool = False
    concurrency: int = Field(default=8, ge=1, le=limits.MAX_CONCURRENCY)
    rpm: float | None = Field(default=None, ge=0.1, le=1e6)  # as the CLI takes them: a hand-edited 1e-300
    tpm: float | None = Field(default=None, ge=1, le=1e12)  # would space requests by 1e301 seconds
    poll_interval: float | None = Field(default=None, ge=0, le=limits.MAX_POLL_INTERVAL)
    judge: str | None = None
    replicates: int | None = Field(default=None, ge=1, le=MAX_REPLICATES)


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
    replicates: int = Field(default=1, ge=1, le=MAX_REPLICATES)

    @property
    def trainings(self) -> list[Training]:
        """The training sets this run fine-tunes on: the real one, and the sham when probed."""
        if not self.train:
            return []
        sham: list[Training] = ["sham"] if "sham" in self.conditions else []
        return ["fine_tuned", *sham]

    def replicates_of(self, condition: str) -> int:
        """How many models a condition probes: one per replicate when the run trains it."""
        return self.replicates if condition in ("fine_tuned", "sham") else 1

    @property
    def total_samples(self) -> int:
        return sum(self.replicates_of(c) for c in self.conditions) * self.samples


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


StepState = Literal["done", "uploading", "creating", "skipped"]


class TrainingJob(RunFile):
    """One fine-tuning job of the run: which training set, which replicate, its seed, and
    what the provider made of it. `creating` is saved before the job is created, so a
    resume looks the job up instead of paying for a second one."""

    training: Training
    replicate: int = Field(ge=0)
    seed: int | None = None
    creating: bool = False
    job_id: str | None = None
    job_status: str | None = None
    fine_tuned_model: str | None = None
    training_cost: float | None = None
    error: str | None = None  # why the job failed, as the provider said it
    data_at_fault: bool = False  # it failed on its training file: a new job would fail too
    failed_ids: list[str] = Field(default_factory=list)  # earlier jobs for this one that failed
    tokens_note: str | None = None  # why the provider's trained_tokens were not used as reported

    @property
    def key(self) -> str:
        return f"{self.training}:{self.replicate}"


class SlotWait(RunFile):
    """The run is waiting for the provider to accept another fine-tuning job: it holds as many
    active jobs as it allows. `active` is the provider's count, when its answer said it; `own`
    how many of them are this run's (0: another run or person holds the slots)."""

    job: str  # the planned job waiting ("sham:0")
    active: int | None = Field(default=None, ge=0)
    own: int = Field(default=0, ge=0)
    since: str  # when the wait began (ISO 8601, UTC)
    tries: int = Field(default=1, ge=1)  # creates refused so far

    def describe(self) -> str:
        """E.g. "waiting for a free fine-tuning slot (3 active): ...", then who holds them."""
        active = self.active if self.active is not None else self.own or "all slots"
        if self.own:
            held = f"{self.job} is created when one of this run's {self.own} job{'s' * (self.own > 1)} ends"
        else:
            held = f"none is this run's (another run or person holds them); {self.job} is tried again every few minutes"
        return f"waiting for a free fine-tuning slot ({active} active): {held}"


_LEGACY_JOB_FIELDS = ("job_id", "job_status", "fine_tuned_model", "training_cost")


class State(RunFile):
    run_id: str = Field(min_length=1)
    status: RunStatus = RunStatus.RUNNING
    steps: dict[str, StepState] = Field(default_factory=dict)
    error: str | None = None
    file_id: str | None = None  # the uploaded training file
    sham_file_id: str | None = None  # the uploaded sham training file
    jobs: list[TrainingJob] = Field(default_factory=list)
    # Calls that failed after reaching the provider (timeouts, dropped connections, 5xx) may
    # have been billed: each is charged at its reservation, kept here across resumes.
    lost_calls_cost: float = Field(default=0.0, ge=0)
    # What the backend says about each model it served beyond its id (device, weights' hash),
    # and the wall-clock seconds spent probing, over every attempt: a local run's cost.
    model_info: dict[str, dict[str, str]] = Field(default_factory=dict)
    probe_seconds: float = Field(default=0.0, ge=0)
    simulated: bool = False  # set when the provider turned out to be our simulator
    slot_wait: SlotWait | None = None  # set while the provider refuses more fine-tuning jobs

    @model_validator(mode="before")
    @classmethod
    def _one_job_layout(cls, data: Any) -> Any:
        """A state written before replicates held one job at the top level: it becomes the
        first fine_tuned job, so those runs still resume, report and cancel."""
        if not isinstance(data, dict) or not any(k in data for k in _LEGACY_JOB_FIELDS):
            return data
        data = dict(data)
        legacy = {k: data.pop(k, None) for k in _LEGACY_JOB_FIELDS}
        if any(v is not None for v in legacy.values()) and not data.get("jobs"):
            data["jobs"] = [
                {
                    "training": "fine_tuned",
                    "replicate": 0,
                    **legacy,
                    "creating": (data.get("steps") or {}).get("train") == "creating"
                    if isinstance(data.get("steps"), dict)
                    else False,
                }
            ]
        return data

    def step_is(self, step: str, value: StepState) -> bool:
        return self.steps.get(step) == value

    def job(self, training: str, replicate: int) -> TrainingJob | None:
        return next((j for j in self.jobs if j.training == training and j.replicate == replicate), None)

    def model_of(self, condition: str, replicate: int) -> str | None:
        job = self.job(condition, replicate)
        return job.fine_tuned_model if job else None

    @property
    def training_cost(self) -> float | None:
        """What the jobs cost so far; None when a finished job's price is unknown."""
        done = [j for j in self.jobs if j.job_id and j.fine_tuned_model]
        if any(j.training_cost is None for j in done):
            return None
        return sum(j.training_cost or 0.0 for j in done)

    @property
    def training_priced(self) -> bool:
        return all(j.training_cost is not None for j in self.jobs if j.job_id and j.fine_tuned_model)
