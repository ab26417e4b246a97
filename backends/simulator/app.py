"""The simulator's routes: OpenAI's REST subset the harness uses (fine-tuning jobs and their
events, chat completions; files, models and checkpoints are in catalog.py), served from a backend (the mock by default) with bodies
shaped as OpenAI's published schemas, behind the fault gate (backends/simulator/faults.py).
Timestamps come from a logical clock (a fixed base plus one second per created object or
observed job transition) and chat ids from a hash of the request, so recordings made with
the same inputs are byte-identical."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from backends._files import read_state_json, write_atomic
from backends.base import CANCELLED, TERMINAL_STATES, Backend, Job, JobSpec
from backends.simulator import faults as sim_faults
from backends.simulator.catalog import CatalogRoutes
from backends.simulator.faults import FaultGate, Faults
from backends.simulator.wire import (
    JOB_KEYS,
    MAX_BODY_MB,
    ApiError,
    as_api_error,
    chat_request,
    completion_body,
    derived_seed,
    error_response,
    event_level,
    hyperparameters,
    job_body,
    json_response,
    metadata_param,
    page,
    read_body,
    required_string,
    string_param,
)

BASE_TIME = 1_700_000_000  # the logical clock's zero (the mock's event times use it too)
MAX_UPLOAD = MAX_BODY_MB * 1024 * 1024


class SimApp(CatalogRoutes):
    """The aiohttp application plus the simulator's own records (files, job details, clock).

    The backend knows jobs only as base.Job; the OpenAI fields it lacks (training file,
    hyperparameters, timestamps, poll counts for faults) live here, saved beside the
    backend's state file when there is one, so a restarted simulator serves the same bodies.
    """

    def __init__(self, backend: Backend, faults: Faults, state_path: str | Path | None = None):
        self.backend = backend
        self.gate = FaultGate(faults)
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "requests",
                "uploads",
                "jobs_created",
                "job_polls",
                "job_lists",
                "event_lists",
                "cancels",
                "chat_requests",
                "chat_completions",
                "responses_429",
                "responses_500",
                "responses_4xx",
                "dropped",
                "slowed",
            ),
            0,
        )
        self._path = Path(f"{state_path}.sim.json") if state_path else None
        self.clock, self.files, self.jobs, self.contents = 0, {}, {}, {}
        if self._path and self._path.exists():
            defaults: dict[str, Any] = {"clock": 0, "files": {}, "jobs": {}, "contents": {}}
            saved = read_state_json(self._path, defaults, "simulator state file")
            self.clock, self.files, self.jobs = saved["clock"], saved["files"], saved["jobs"]
            self.contents = saved["contents"]  # {} in state files of older simulators

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_UPLOAD)
        r = app.router
        self.add_catalog_routes(r)  # files, models, checkpoints
        r.add_post("/v1/fine_tuning/jobs", self.create_job)
        r.add_get("/v1/fine_tuning/jobs", self.list_jobs)
        r.add_get("/v1/fine_tuning/jobs/{id}", self.get_job)
        r.add_get("/v1/fine_tuning/jobs/{id}/events", self.list_events)
        r.add_post("/v1/fine_tuning/jobs/{id}/cancel", self.cancel_job)
        r.add_post("/v1/chat/completions", self.chat)
        r.add_get("/_sim/stats", self.stats_endpoint)
        return app

    # -- plumbing ---------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Without it, loopback adds ~40 ms per request (Nagle + delayed ACK).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if request.path == "/_sim/stats":
            return await handler(request)
        self.stats["requests"] += 1
        try:
            if not request.path.startswith("/v1/"):
                raise ApiError(
                    404,
                    f"Invalid URL ({request.method} {request.path[:200]}): the API is served "
                    "under /v1 (e.g. /v1/chat/completions)",
                )
            self._check_key(request)
            if request.match_info.http_exception is not None:
                raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
            verdict = self.gate.decide(request.path == "/v1/chat/completions")
            if verdict.action == "drop":
                self.stats["dropped"] += 1
                _close(request)  # the client sees a connection closed, no response
                return web.Response(status=500)
            if verdict.action == "error_500":
                raise ApiError(
                    500, "The server had an error while processing your request. Sorry about that! (simulated)"
                )
            if verdict.retry_after is not None:
                return self._rate_limited(verdict)
            if verdict.slowed:
                self.stats["slowed"] += 1
            if verdict.delay:
                await asyncio.sleep(verdict.delay)
            response = await handler(request)
            if verdict.action == "drop_after":  # done, but the client never hears of it
                self.stats["dropped"] += 1
                _close(request)
            return response
        except Exception as err:  # every failure answers in OpenAI's error shape, never text/plain
            api = as_api_error(err, request.method, request.path)
            self.stats["responses_500" if api.status >= 500 else "responses_4xx"] += 1
            return error_response(api)

    @staticmethod
    def _check_key(request: web.Request) -> None:
        # Any non-empty bearer key is accepted; the key itself is never logged or echoed.
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401, "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'."
            )

    def _rate_limited(self, verdict: sim_faults.Verdict) -> web.Response:
        self.stats["responses_429"] += 1
        headers = sim_faults.retry_after_headers(verdict.retry_after or 0.0)
        if verdict.action == "rate_limit":
            headers["x-ratelimit-limit-requests"] = f"{verdict.limit:g}"
            headers["x-ratelimit-remaining-requests"] = "0"
            headers["x-ratelimit-reset-requests"] = f"{headers['retry-after-ms']}ms"
            message = (
                f"Rate limit reached: limit {verdict.limit:g} requests per minute "
                f"(simulated). Please try again in {headers['retry-after-ms']}ms."
            )
        else:
            message = "Rate limit reached (simulated burst). Please try again later."
        err = ApiError(429, message, code="rate_limit_exceeded", type_="requests")
        return error_response(err, headers)

    def _tick(self) -> int:
        self.clock += 1
        return BASE_TIME + self.clock

    def _save(self) -> None:
        if self._path is None:
            return
        state = {"clock": self.clock, "files": self.files, "jobs": self.jobs, "contents": self.contents}
        write_atomic(self._path, json.dumps(state))

    async def stats_endpoint(self, request: web.Request) -> web.Response:
        return json_response({**self.stats, "simulated": True, "faults": asdict(self.gate.faults)})

    # -- jobs -------------------------------------------------------------------------------

    async def create_job(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        unknown = sorted(set(body) - JOB_KEYS)
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
        model = required_string(body, "model")
        training_file = required_string(body, "training_file")
        validation_file = string_param(body, "validation_file")
        for param, file_id in (("training_file", training_file), ("validation_file", validation_file)):
            if file_id is not None and file_id not in self.files:
                raise ApiError(400, f"invalid {param}: {file_id}", param=param, code="invalid_file")
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
            "training_file": training_file,
            "validation_file": validation_file,
            "hyperparameters": hyper,
            "seed": seed if seed is not None else derived_seed(job.id),
            "metadata": metadata,
            "polls": 0,
            "validating": faults.validating_polls,
            "fail": faults.fail_jobs,
            "failed": False,
            "cancelled": False,
            "finished_at": None,
            "extra_events": [],
        }
        self.stats["jobs_created"] += 1
        self._save()
        return json_response(self._render(job))

    async def get_job(self, request: web.Request) -> web.Response:
        rec = self._record(request.match_info["id"])
        self.stats["job_polls"] += 1
        rec["polls"] += 1
        job_id = request.match_info["id"]
        if not rec["cancelled"] and not rec["failed"] and rec["polls"] <= rec["validating"]:
            body = self._render(self._find(job_id))  # held back: the backend's job waits
        elif rec["fail"] and not rec["cancelled"]:
            if not rec["failed"]:
                self._fail(job_id, rec)
            body = self._render(self._find(job_id))
        else:
            job = self.backend.get_job(job_id)
            if job.status in TERMINAL_STATES and rec["finished_at"] is None:
                rec["finished_at"] = self._tick()
            body = self._render(job)
        self._save()
        return json_response(body)

    def _fail(self, job_id: str, rec: dict[str, Any]) -> None:
        rec["failed"], rec["finished_at"] = True, self._tick()
        # Not before the backend's own events, which run on the backend's clock.
        when = max([rec["finished_at"]] + [e.created_at for e in self.backend.list_events(job_id)])
        rec["extra_events"].append(
            {
                "id": f"ftevent-sim-{job_id}-failed",
                "created_at": when,
                "level": "error",
                "message": "Fine-tuning job failed: the training run stopped with an error (simulated failure).",
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
        rec = self._record(job_id)
        self.stats["event_lists"] += 1
        events = [
            {
                "object": "fine_tuning.job.event",
                "id": e.id,
                "created_at": e.created_at,
                "level": event_level(e.level),
                "message": e.message,
                "data": {},
                "type": "message",
            }
            for e in self.backend.list_events(job_id)
        ]
        events += [{"object": "fine_tuning.job.event", **e, "data": {}, "type": "message"} for e in rec["extra_events"]]
        items, more = page(events[::-1], request.query)  # OpenAI lists newest first
        return json_response({"object": "list", "data": items, "has_more": more})

    async def cancel_job(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        rec = self._record(job_id)
        if rec["failed"]:
            raise ApiError(400, f"Job {job_id} has already failed and cannot be cancelled.")
        job = self.backend.cancel_job(job_id)
        rec["cancelled"] = job.status == CANCELLED
        if job.status in TERMINAL_STATES and rec["finished_at"] is None:
            rec["finished_at"] = self._tick()
        self.stats["cancels"] += 1
        self._save()
        return json_response(self._render(job))

    def _record(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise ApiError(404, f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id")
        return self.jobs[job_id]

    def _find(self, job_id: str) -> Job:
        """The backend's current view of a job without advancing it."""
        for job in self.backend.find_jobs({}):
            if job.id == job_id:
                return job
        raise ApiError(404, f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id")

    def _render(self, job: Job) -> dict[str, Any]:
        return job_body(job, self.jobs[job.id])

    # -- chat -------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        self.stats["chat_requests"] += 1
        body = await read_body(request)
        chat = chat_request(body)
        done = await self.backend.complete(chat)
        self.stats["chat_completions"] += 1
        return json_response(completion_body(chat, done, created=BASE_TIME + self.clock))


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()
