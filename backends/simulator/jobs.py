"""The simulator's fine-tuning job routes (create, retrieve, list, events, cancel) and the
limits OpenAI puts on jobs: a few active jobs per base model (the next create is answered 429
as OpenAI answers it, with no retry-after), a daily cap on the jobs created per base model,
and jobs that advance with the wall clock (`job_duration`) instead of one state per poll.
A mixin of SimApp (app.py), which owns the records these read."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from backends.base import CANCELLED, RUNNING, SUCCEEDED, TERMINAL_STATES, Backend, Job, JobSpec
from backends.simulator.bodies import events_body, job_body, not_found
from backends.simulator.faults import FaultGate
from backends.simulator.wire import (
    JOB_KEYS,
    ApiError,
    derived_seed,
    hyperparameters,
    json_response,
    metadata_param,
    page,
    read_body,
    required_string,
    string_param,
)

# OpenAI's words for a refused create (recorded: ruby-openai, Oct 2023; llmcomp#58, 2026).
RATE_LIMITED = "This fine-tune request has been rate-limited. Your organization has reached the maximum of"


def active_limit_error(limit: int, running: int, pending: int, model: str) -> ApiError:
    return ApiError(
        429,
        f"{RATE_LIMITED} {limit} active requests ({running} running, {pending} pending) for the model '{model}'.",
        code="rate_limit_exceeded",
        type_="invalid_request_error",
    )


def daily_limit_error(limit: int, model: str) -> ApiError:
    return ApiError(
        429,
        f"{RATE_LIMITED} {limit} fine-tuning requests per day for the model '{model}'.",
        code="daily_rate_limit_exceeded",
        type_="invalid_request_error",
    )


# The snapshot a job reports for the alias it was asked for (recorded: gpt-3.5-turbo came back
# as gpt-3.5-turbo-0613 in 2023 and gpt-3.5-turbo-0125 in 2025); snapshots stand for themselves.
SNAPSHOTS = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
}


def resolve_model(model: str, trained: set[str]) -> str:
    """The snapshot OpenAI would fine-tune for `model`: an alias resolved, a known snapshot or
    a model this simulator fine-tuned as itself; anything else is refused as OpenAI refuses it."""
    from harness.domain import pricing  # pure data: the base models the price table knows

    if model in SNAPSHOTS:
        return SNAPSHOTS[model]
    if model in SNAPSHOTS.values() or model in pricing.PRICES or model in trained:
        return model
    raise ApiError(
        400, f"Model {model[:200]} is not available for fine-tuning or does not exist.", code="model_not_available"
    )


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


class JobRoutes:
    backend: Backend
    gate: FaultGate
    files: dict[str, dict[str, Any]]
    jobs: dict[str, dict[str, Any]]
    daily: dict[str, dict[str, int]]  # UTC day -> base model -> jobs created that day
    stats: dict[str, int]
    _tick: Callable[[], int]
    _save: Callable[[], None]

    def add_job_routes(self, r: web.UrlDispatcher) -> None:
        r.add_post("/v1/fine_tuning/jobs", self.create_job)
        r.add_get("/v1/fine_tuning/jobs", self.list_jobs)
        r.add_get("/v1/fine_tuning/jobs/{id}", self.get_job)
        r.add_get("/v1/fine_tuning/jobs/{id}/events", self.list_events)
        r.add_post("/v1/fine_tuning/jobs/{id}/cancel", self.cancel_job)

    # -- create -----------------------------------------------------------------------------

    async def create_job(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        unknown = sorted(set(body) - JOB_KEYS)
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
        model = required_string(body, "model")
        training_file = required_string(body, "training_file")
        validation_file = string_param(body, "validation_file")
        for param, file_id in (("training_file", training_file), ("validation_file", validation_file)):
            if file_id is not None and file_id not in self.files:  # recorded: code null
                raise ApiError(400, f"invalid {param}: {file_id[:200]}", param=param)
        hyper = hyperparameters(body)
        suffix = string_param(body, "suffix")
        if suffix is not None and not 1 <= len(suffix) <= 64:
            raise ApiError(400, "suffix must be 1 to 64 characters", param="suffix")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ApiError(400, "seed must be an integer", param="seed")
        metadata = metadata_param(body.get("metadata"))
        if body.get("integrations"):
            raise ApiError(400, "integrations are not supported by the simulator", param="integrations")
        model = resolve_model(model, {j.fine_tuned_model for j in self.backend.find_jobs({}) if j.fine_tuned_model})
        self._check_limits(model)
        spec = JobSpec(
            base_model=model,
            training_file=training_file,
            suffix=suffix,
            hyperparameters={k: v for k, v in hyper.items() if v != "auto"},
            seed=seed,
            metadata=metadata or {},
        )
        job = self.backend.create_job(spec)
        faults = self.gate.faults
        self.jobs[job.id] = {
            "created_at": self._tick(),
            "model": model,
            "suffix": suffix,
            "training_file": training_file,
            "validation_file": validation_file,
            "hyperparameters": hyper,
            "seed": seed if seed is not None else derived_seed(job.id),
            "metadata": metadata,
            "polls": 0,
            "validating": faults.validating_polls,
            "fail": faults.fail_jobs,
            "invalid_file": faults.invalid_training_file,
            "failed": False,
            "cancelled": False,
            "finished_at": None,
            "extra_events": [],
            "started": time.time(),  # wall clock: when job_duration is set, progress follows it
            "advances": 0,  # states the backend's job has been moved on by
        }
        day = today()
        self.daily = {day: self.daily.get(day, {})}  # only today's counts matter
        self.daily[day][model] = self.daily[day].get(model, 0) + 1
        self.stats["jobs_created"] += 1
        self._save()
        return json_response(self._render(job))

    def _check_limits(self, model: str) -> None:
        """OpenAI's limits per base model: jobs created today, then jobs active at once."""
        faults = self.gate.faults
        if faults.daily_job_limit and self.daily.get(today(), {}).get(model, 0) >= faults.daily_job_limit:
            self.stats["jobs_limited"] += 1
            raise daily_limit_error(faults.daily_job_limit, model)
        if not faults.max_active_jobs:
            return
        active = [s for s in (self._status(i) for i, r in self.jobs.items() if r["model"] == model) if s is not None]
        active = [s for s in active if s not in TERMINAL_STATES]
        if len(active) >= faults.max_active_jobs:
            self.stats["jobs_limited"] += 1
            running = sum(s == RUNNING for s in active)
            raise active_limit_error(faults.max_active_jobs, running, len(active) - running, model)

    def _status(self, job_id: str) -> str | None:
        """A job's status as a client would read it now (None: the backend no longer has it)."""
        self._catch_up(job_id)
        try:
            return str(self._render(self._find(job_id))["status"])
        except ApiError:
            return None

    # -- progress ---------------------------------------------------------------------------

    def _catch_up(self, job_id: str) -> None:
        """With job_duration set, move the backend's job on as far as the wall clock says:
        the mock takes steps_per_state + 2 moves (validated, started, its training steps,
        done), spread evenly, so a job ends `job_duration` seconds after its creation."""
        duration = self.gate.faults.job_duration
        rec = self.jobs[job_id]
        if not duration or rec["cancelled"] or rec["failed"] or rec["finished_at"] is not None:
            return
        moves = int(getattr(self.backend, "steps_per_state", 3)) + 2
        elapsed = time.time() - float(rec.get("started", 0.0))
        due = min(moves, int(moves * elapsed / duration))
        while rec.get("advances", 0) < due:
            job = self.backend.get_job(job_id)
            rec["advances"] = rec.get("advances", 0) + 1
            if job.status in TERMINAL_STATES:
                rec["finished_at"] = self._tick()
                break

    # -- read -------------------------------------------------------------------------------

    async def get_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        rec = self._record(job_id)
        self.stats["job_polls"] += 1
        rec["polls"] += 1
        if not rec["cancelled"] and not rec["failed"] and rec["polls"] <= rec["validating"]:
            body = self._render(self._find(job_id))  # held back: the backend's job waits
        elif (rec["fail"] or rec.get("invalid_file")) and not rec["cancelled"]:
            if not rec["failed"]:
                self._fail(job_id, rec)
            body = self._render(self._find(job_id))
        elif self.gate.faults.job_duration:
            self._catch_up(job_id)
            body = self._render(self._find(job_id))
        else:
            job = self.backend.get_job(job_id)  # one poll, one state
            if job.status in TERMINAL_STATES and rec["finished_at"] is None:
                rec["finished_at"] = self._tick()
            body = self._render(job)
        self._save()
        return json_response(body)

    def _fail(self, job_id: str, rec: dict[str, Any]) -> None:
        rec["failed"], rec["finished_at"] = True, self._tick()
        message = "Fine-tuning job failed: the training run stopped with an error (simulated failure)."
        code, param = "simulated_failure", None
        if rec.get("invalid_file"):  # OpenAI's words for a file that fails validation (recorded)
            message = (
                "The job failed due to an invalid training file. Invalid file format. "
                "Example 1, message 2 Discriminator 'role' is missing in value"
            )
            code, param = "invalid_training_file", "training_file"
            rec["error"] = {"code": code, "param": param, "message": message}
        # Dated after the backend's own events when rendered (backends/simulator/bodies.py). A
        # failure's event is at level error with the code in its data (recorded: openai-php#227).
        rec["extra_events"].append(
            {
                "id": f"ftevent-sim-{job_id}-failed",
                "level": "error",
                "message": message,
                "data": {"error_code": code, "error_param": param},
            }
        )

    async def list_jobs(self, request: web.Request) -> web.Response:
        self.stats["job_lists"] += 1
        query = request.query
        wanted: dict[str, str] | None = {}
        for key, value in query.items():
            if key == "metadata" and value == "null":
                wanted = None  # OpenAI: metadata=null selects jobs without metadata
            elif key.startswith("metadata[") and key.endswith("]") and wanted is not None:
                wanted[key[len("metadata[") : -1]] = value
        for job_id in self.jobs:
            self._catch_up(job_id)
        jobs = [j for j in self.backend.find_jobs({}) if j.id in self.jobs]
        if wanted is None:
            jobs = [j for j in jobs if not self.jobs[j.id]["metadata"]]
        else:
            jobs = [j for j in jobs if all((self.jobs[j.id]["metadata"] or {}).get(k) == v for k, v in wanted.items())]
        jobs.sort(key=lambda j: self.jobs[j.id]["created_at"], reverse=True)  # newest first
        items, more = page([self._render(j) for j in jobs], query)
        return json_response({"object": "list", "data": items, "has_more": more})

    async def list_events(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        self._record(job_id)
        self.stats["event_lists"] += 1
        self._catch_up(job_id)
        items, more = page(self._events(self._find(job_id)), request.query)  # newest first, as OpenAI
        return json_response({"object": "list", "data": items, "has_more": more})

    async def cancel_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        rec = self._record(job_id)
        if rec["failed"]:
            raise ApiError(400, f"Job {job_id} has already failed and cannot be cancelled.")
        self._catch_up(job_id)
        job = self.backend.cancel_job(job_id)
        rec["cancelled"] = job.status == CANCELLED
        if job.status in TERMINAL_STATES and rec["finished_at"] is None:
            rec["finished_at"] = self._tick()
        self.stats["cancels"] += 1
        self._save()
        return json_response(self._render(job))

    def _record(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise not_found(job_id)
        return self.jobs[job_id]

    def _find(self, job_id: str) -> Job:
        """The backend's current view of a job without advancing it."""
        for job in self.backend.find_jobs({}):
            if job.id == job_id:
                return job
        raise not_found(job_id)

    def _model(self, job: Job) -> str | None:
        rec = self.jobs[job.id]
        return job.fine_tuned_model if job.status == SUCCEEDED and not rec["failed"] else None

    def _events(self, job: Job) -> list[dict[str, Any]]:
        """The job's events as OpenAI lists them, newest first."""
        return events_body(job, self.jobs[job.id], self.backend.list_events(job.id), self._model(job))

    def _render(self, job: Job) -> dict[str, Any]:
        rec = self.jobs[job.id]
        events = self._events(job) if job.status == SUCCEEDED and not rec["failed"] else None
        return job_body(job, rec, events)
