"""The job calls of a client-driven provider (create, get, list events, cancel, find), over a
Store and the runner: what the local and tinker backends answer the harness with. What each
writes into a job's spec beyond the request is its own (the model it resolved, the
hyperparameters it settled, where its service is); the trainer it names reads it back."""

from __future__ import annotations

import time
from pathlib import Path

from backends.base import QUEUED, BackendError, Job, JobEvent, JobSpec
from backends.jobs import runner
from backends.jobs.store import Store, append_event, read_events, read_json, write_json

SUFFIX_MAX = 64


def asked(spec: JobSpec) -> dict:
    """The request as the harness made it, kept verbatim in the job's spec."""
    return {
        "base_model": spec.base_model,
        "training_file": spec.training_file,
        "suffix": spec.suffix,
        "hyperparameters": dict(spec.hyperparameters),
        "seed": spec.seed,
        "metadata": dict(spec.metadata),
    }


def check_suffix(suffix: str | None) -> None:
    if suffix is not None and (len(suffix) > SUFFIX_MAX or ":" in suffix):
        raise BackendError(f"suffix must be at most {SUFFIX_MAX} characters without ':'", status=400)


class JobBook:
    """`trainer` names the worker's training function (backends.jobs.worker.TRAINERS);
    `worker_env` is added to a worker's environment each time one is started."""

    def __init__(self, store: Store, trainer: str, worker_env: dict[str, str] | None = None):
        self.store = store
        self.trainer = trainer
        self.worker_env = worker_env

    def _job(self, job_dir: Path, state: dict | None = None) -> Job:
        spec = read_json(job_dir / "spec.json")
        state = state or runner.state(job_dir)
        return Job(
            job_dir.name,
            state["status"],
            spec["base_model"],
            state.get("fine_tuned_model"),
            state.get("trained_tokens"),
            state.get("error"),
            dict(spec["metadata"]),
        )

    def create(self, spec: JobSpec, details: dict, first_event: str) -> Job:
        """Write the job (the request, the provider's `details`) and start its worker. The lock is
        taken before the job is visible, so nobody takes it for one whose worker died."""
        request = asked(spec)
        job_id, job_dir = self.store.new_job_dir(request)
        lock = runner.lock_blocking(job_dir)
        write_json(job_dir / "spec.json", {**request, **details, "created_at": time.time(), "trainer": self.trainer})
        write_json(
            job_dir / "state.json",
            {"status": QUEUED, "restarts": 0, "error": None, "fine_tuned_model": None, "trained_tokens": None},
        )
        append_event(job_dir, first_event.replace("{job_id}", job_id))
        runner.start(job_dir, lock, self.worker_env)
        return self._job(job_dir)

    def get(self, job_id: str) -> Job:
        job_dir = self.store.job_dir(job_id)
        return self._job(job_dir, runner.check(job_dir, self.worker_env))

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        events = read_events(self.store.job_dir(job_id))
        if after is not None:
            ids = [e.id for e in events]
            if after not in ids:
                raise BackendError(f"event {after} not found in job {job_id}", status=400)
            events = events[ids.index(after) + 1 :]
        return events

    def cancel(self, job_id: str) -> Job:
        job_dir = self.store.job_dir(job_id)
        return self._job(job_dir, runner.cancel(job_dir))

    def find(self, metadata: dict[str, str]) -> list[Job]:
        return [self._job(self.store.root / "jobs" / job_id) for job_id in self.store.find_jobs(metadata)]
