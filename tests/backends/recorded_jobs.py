"""Fine-tuning jobs as real OpenAI runs them, for the recorded-traffic server
(tests/backends/recorded_server.py): every body is a recorded one (tests/fixtures/
openai-recorded/) with its values filled in, and a job advances with the wall clock
(validating, queued, running, then succeeded or failed), writing the events OpenAI writes.

Not our simulator: nothing here imports backends.simulator or the mock. Where no recording
shows a detail, the choice is marked ASSUMED."""

from __future__ import annotations

import copy
import math
import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

from tests.backends.recorded import load

# The bodies every answer is made from (2025-26 recordings: OpenAI's own .NET SDK tests).
JOB = load("dotnet-job-create.json")["body"]  # key order and values of a job just created
SUCCEEDED = next(j for j in load("dotnet-jobs-list-100.json")["body"]["data"] if j["status"] == "succeeded")
FAILED_FILE = load("langnostic-job-failed-invalid-training-file.json")["body"]["data"][0]["error"]
FILE = load("dotnet-file-upload.json")["body"]
CHECKPOINT = load("dotnet-job-checkpoints.json")["body"]["data"][0]
EVENT = load("dotnet-job-events-limit-1.json")["body"]["data"][0]
METRICS = next(e for e in load("qtran-job-events-newest-first.json")["body"]["data"] if e["type"] == "metrics")
# What "auto" became once a recorded job ran (langnostic, Feb 2024: 3, 1, 2).
AUTO = next(j for j in load("langnostic-job-statuses.json")["body"]["data"] if j["status"] == "running")[
    "hyperparameters"
]
# The snapshot OpenAI reports for the name asked (recorded: gpt-3.5-turbo -> gpt-3.5-turbo-0125).
SNAPSHOTS = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
}
ACTIVE = ("validating_files", "queued", "running", "paused")  # ASSUMED: a paused job keeps its slot


class Ids:
    """OpenAI-looking ids (letters and digits, mixed case), seeded so a session repeats. An id
    made from a `key` depends on the key alone (the n-th job, a job's model), so that a run
    killed and resumed meets the same names as an uninterrupted one."""

    ALNUM = string.ascii_letters + string.digits

    def __init__(self, seed: int = 0):
        self.seed, self.rng = seed, random.Random(seed)

    def make(self, prefix: str, n: int, key: str | None = None) -> str:
        rng = self.rng if key is None else random.Random(f"{self.seed}:{key}")
        return prefix + "".join(rng.choice(self.ALNUM) for _ in range(n))


@dataclass
class Timing:
    """Seconds each phase of a job takes (real: validation 22-66 s, the job 6-48 min)."""

    validating: float = 0.6
    queued: float = 0.2
    training: float = 1.5
    steps: int = 12  # metrics events, one per step as recorded in 2024 (300 for 300 steps)


@dataclass
class RecordedJob:
    """One job: what was asked, when, and what became of it."""

    id: str
    created_at: int
    model: str  # the resolved snapshot
    training_file: str
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    hyperparameters: dict[str, Any]  # as asked, "auto" where not given
    started: float  # time.time() its progress counts from: its creation, moved on by each pause
    timing: Timing
    fails: bool  # fails validation with invalid_training_file
    tokens: int  # tokens per epoch of the training file
    cancelled_at: float | None = None
    paused_at: float | None = None  # paused at the provider (POST .../pause) and not resumed yet
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first, as they happened
    written: int = 0  # how many of its points in time have written their events
    model_id: str = ""  # the fine-tuned model, once it succeeded
    finished_at: int | None = None
    result_file: str = ""
    checkpoints: list[tuple[int, str, str]] = field(default_factory=list)  # (step, id, model), newest first
    losses: dict[int, float] = field(default_factory=dict)  # training loss by step

    def phase(self, now: float) -> str:
        t = (self.cancelled_at if self.cancelled_at is not None else now) - self.started
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "cancelled"
        if self.paused_at is not None:
            return "paused"
        v, q, r = self.timing.validating, self.timing.queued, self.timing.training
        if t < v:
            return "validating_files"
        if self.fails:
            return "failed"
        if t < v + q:
            return "queued"
        if t < v + q + r:
            return "running"
        return "succeeded"

    def resolved(self, running: bool) -> dict[str, Any]:
        """Hyperparameters as OpenAI shows them: as asked until the job runs, then numbers
        ("auto" resolved; a given multiplier as a float, recorded 3 -> 3.0)."""
        if not running:
            return dict(self.hyperparameters)
        out = {k: (AUTO[k] if v == "auto" else v) for k, v in self.hyperparameters.items()}
        if self.hyperparameters.get("learning_rate_multiplier", "auto") != "auto":
            out["learning_rate_multiplier"] = float(out["learning_rate_multiplier"])
        return out


class Jobs:
    """Every job of the server, their events and checkpoints, advanced lazily with time."""

    def __init__(self, ids: Ids, timing: Timing, organization: str, org_slug: str):
        self.ids, self.timing, self.organization, self.org_slug = ids, timing, organization, org_slug
        self.jobs: dict[str, RecordedJob] = {}

    def create(self, **kwargs: Any) -> RecordedJob:
        job_id = self.ids.make("ftjob-", 24, key=f"job:{len(self.jobs)}")
        now = time.time()
        job = RecordedJob(id=job_id, created_at=int(now), started=now, timing=self.timing, **kwargs)
        self.jobs[job.id] = job
        self.catch_up(job)
        return job

    def active(self, model: str) -> list[RecordedJob]:
        now = time.time()
        return [j for j in self.jobs.values() if j.model == model and j.phase(now) in ACTIVE]

    # -- events, written as the job passes each point (OpenAI's words, recorded 2024-25) ------

    def _event(
        self, job: RecordedJob, at: float, message: str, data: Any = None, kind: str = "message", **kw: Any
    ) -> None:
        null = kw.pop("null", False)
        body = copy.deepcopy(EVENT) | {
            "id": self.ids.make("ftevent-", 24),
            "created_at": int(at),
            "message": message,
            "data": None if null else {} if data is None else data,
            "type": kind,
        }
        job.events.append(body | kw)

    def catch_up(self, job: RecordedJob) -> None:
        """Write every event the job has reached by now, once, in order."""
        now = time.time()
        v, q, r, n = job.timing.validating, job.timing.queued, job.timing.training, job.timing.steps
        end = next((t for t in (job.cancelled_at, job.paused_at) if t is not None), now)
        t0 = job.started
        epochs = int(job.resolved(True).get("n_epochs") or 3)
        points: list[tuple[float, Any]] = [
            (t0, lambda: self._event(job, t0, f"Created fine-tuning job: {job.id}")),
            (t0, lambda: self._event(job, t0, f"Validating training file: {job.training_file}")),
        ]
        if job.fails:
            # A failure's event, at level error with the code in its data (recorded for
            # invalid_n_examples: openai-php/client#227), in the recorded words of this failure.
            data = {"error_code": FAILED_FILE["code"], "error_param": FAILED_FILE["param"]}
            fail = FAILED_FILE["message"]
            points.append((t0 + v, lambda: self._event(job, t0 + v, fail, data, level="error")))
        else:
            points += [
                (t0 + v, lambda: self._event(job, t0 + v, "Files validated, moving job to queued state")),
                # recorded (2024): the one event whose data is null
                (t0 + v + q, lambda: self._event(job, t0 + v + q, "Fine-tuning job started", data=None, null=True)),
            ]
            for step in range(1, n + 1):
                at = t0 + v + q + r * step / (n + 1)
                points.append((at, lambda at=at, step=step: self._metrics(job, at, step, n)))
            done = t0 + v + q + r
            points.append((done, lambda: self._finish(job, done, n, epochs)))
        for i, (at, write) in enumerate(points):
            if i >= job.written and at <= end:
                write()
                job.written = i + 1

    def _metrics(self, job: RecordedJob, at: float, step: int, total: int) -> None:
        loss = round(2.5 * math.exp(-4.0 * step / total) + 0.01, 4)
        accuracy = round(min(1.0, 0.5 + 0.5 * step / total), 4)
        data = {k: v for k, v in METRICS["data"].items() if k in ("step", "train_loss", "total_steps")}
        data |= {"step": step, "train_loss": loss, "total_steps": total, "train_mean_token_accuracy": accuracy}
        self._event(job, at, f"Step {step}/{total}: training loss={loss:.2f}", data, "metrics")
        job.losses[step] = loss

    def _finish(self, job: RecordedJob, at: float, steps: int, epochs: int) -> None:
        """The end of a job, as recorded: a checkpoint event per earlier checkpoint, the new
        model, and "The job has successfully completed"."""
        suffix = job.suffix or ""
        job.model_id = f"ft:{job.model}:{self.org_slug}:{suffix}:{self.ids.make('', 8, key=job.id)}"
        job.finished_at, job.result_file = int(at), self.ids.make("file-", 22, key=f"result:{job.id}")
        per_epoch = max(1, steps // max(1, epochs))
        marks = [steps - k * per_epoch for k in range(min(3, epochs)) if steps - k * per_epoch > 0]
        head = job.model_id.rpartition(":")[0]
        # The last checkpoint is the model itself; earlier ones have their own 8 characters.
        job.checkpoints = [
            (
                step,
                self.ids.make("ftckpt_", 24, key=f"ckpt:{job.id}:{step}"),
                job.model_id if i == 0 else f"{head}:{self.ids.make('', 8, key=f'{job.id}:{step}')}:ckpt-step-{step}",
            )
            for i, step in enumerate(marks)
        ]
        for step, _, name in reversed(job.checkpoints[1:]):
            self._event(job, at, f"Checkpoint created at step {step} with Snapshot ID: {name}")
        self._event(job, at, f"New fine-tuned model created: {job.model_id}")
        self._event(job, at + 1, "The job has successfully completed")

    # -- bodies -----------------------------------------------------------------------------

    def body(self, job: RecordedJob) -> dict[str, Any]:
        """The job as OpenAI answers it at this moment, in the recorded key order."""
        self.catch_up(job)
        status = job.phase(time.time())
        running = status in ("running", "paused", "succeeded")
        hyper = job.resolved(running)
        method_hyper = {
            k: (float(v) if k == "learning_rate_multiplier" and isinstance(v, int) else v) for k, v in hyper.items()
        }
        out = copy.deepcopy(JOB)
        out.update(
            id=job.id,
            model=job.model,
            created_at=job.created_at,
            organization_id=self.organization,
            status=status,
            training_file=job.training_file,
            hyperparameters=hyper,
            user_provided_suffix=job.suffix,
            seed=job.seed,
            metadata=job.metadata,
            method={"type": "supervised", "supervised": {"hyperparameters": method_hyper}},
        )
        if status == "succeeded":
            out.update(
                finished_at=job.finished_at,
                fine_tuned_model=job.model_id,
                result_files=[job.result_file],
                trained_tokens=job.tokens * int(hyper.get("n_epochs") or 3),
            )
        if status == "failed":
            out["error"] = copy.deepcopy(FAILED_FILE)
        assert list(out) == list(SUCCEEDED)  # the recorded key order, whatever the status
        return out

    def events(self, job: RecordedJob) -> list[dict[str, Any]]:
        """Newest first, as OpenAI lists them."""
        self.catch_up(job)
        return [copy.deepcopy(e) for e in reversed(job.events)]

    def checkpoints(self, job: RecordedJob) -> list[dict[str, Any]]:
        self.catch_up(job)
        if job.phase(time.time()) != "succeeded":
            return []
        out = []
        assert job.finished_at is not None
        for i, (step, ckpt_id, name) in enumerate(job.checkpoints):
            item = copy.deepcopy(CHECKPOINT)
            item.update(
                id=ckpt_id,
                created_at=job.finished_at - 2 - 10 * i,
                fine_tuned_model_checkpoint=name,
                fine_tuning_job_id=job.id,
                step_number=step,
            )
            item["metrics"].update(step=step, train_loss=job.losses.get(step, 0.01))
            out.append(item)
        return out
