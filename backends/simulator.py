"""An OpenAI-compatible HTTP server on loopback that serves a backend (the mock by default).

It speaks the REST subset the harness uses (files, fine-tuning jobs and their events,
chat completions), with bodies shaped as OpenAI's published schemas, so the openai backend
and the official SDK can be exercised, recorded and fault-tested without the internet.
Timestamps come from a logical clock (a fixed base plus one second per created object or
observed job transition) and chat ids from a hash of the request, so recordings made with
the same inputs are byte-identical. Everything it serves is simulated.

    with Simulator(port=0, faults=Faults(latency=0.2)) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test")
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import socket
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from backends import sim_faults
from backends._files import write_atomic
from backends.net import is_loopback
from backends.base import Backend, BackendError, ChatRequest, ConfigError, Job, JobSpec
from backends.base import CANCELLED, FAILED, SUCCEEDED, TERMINAL_STATES, VALIDATING
from backends.sim_faults import Faults, FaultGate

BASE_TIME = 1_700_000_000  # the logical clock's zero (the mock's event times use it too)
ORGANIZATION = "org-simulator"
MAX_UPLOAD = 100 * 1024 * 1024
HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
JOB_KEYS = {"model", "training_file", "validation_file", "hyperparameters", "method", "suffix",
            "seed", "metadata", "integrations"}


class ApiError(Exception):
    """An error answered in OpenAI's shape {"error": {message, type, param, code}}."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, type_: str | None = None):
        super().__init__(message)
        self.status, self.param, self.code = status, param, code
        self.type = type_ or ("server_error" if status >= 500 else "invalid_request_error")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body, indent=2), status=status, headers=headers,
                        content_type="application/json")


def _error(err: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": str(err), "type": err.type, "param": err.param, "code": err.code}}
    return _json(body, err.status, headers)


class SimApp:
    """The aiohttp application plus the simulator's own records (files, job details, clock).

    The backend knows jobs only as base.Job; the OpenAI fields it lacks (training file,
    hyperparameters, timestamps, poll counts for faults) live here, saved beside the
    backend's state file when there is one, so a restarted simulator serves the same bodies.
    """

    def __init__(self, backend: Backend, faults: Faults, state_path: str | Path | None = None):
        self.backend = backend
        self.gate = FaultGate(faults)
        self.stats: dict[str, int] = dict.fromkeys(
            ("requests", "uploads", "jobs_created", "job_polls", "job_lists", "event_lists",
             "cancels", "chat_requests", "chat_completions", "responses_429", "responses_500",
             "responses_4xx", "dropped", "slowed"), 0)
        self._path = Path(f"{state_path}.sim.json") if state_path else None
        self.clock, self.files, self.jobs = 0, {}, {}
        if self._path and self._path.exists():
            saved = json.loads(self._path.read_text())
            self.clock, self.files, self.jobs = saved["clock"], saved["files"], saved["jobs"]

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_UPLOAD)
        r = app.router
        r.add_post("/v1/files", self.upload)
        r.add_get("/v1/files", self.list_files)
        r.add_get("/v1/files/{id}", self.get_file)
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
        if not request.path.startswith("/v1/"):
            return await handler(request)
        self.stats["requests"] += 1
        try:
            self._check_key(request)
            if request.match_info.http_exception is not None:
                raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
            verdict = self.gate.decide(request.path == "/v1/chat/completions")
            if verdict.action == "drop":
                self.stats["dropped"] += 1
                request.transport.close()  # the client sees a connection closed, no response
                return web.Response(status=500)
            if verdict.action == "error_500":
                raise ApiError(500, "The server had an error while processing your request. "
                                    "Sorry about that! (simulated)")
            if verdict.retry_after is not None:
                return self._rate_limited(verdict)
            if verdict.slowed:
                self.stats["slowed"] += 1
            if verdict.delay:
                await asyncio.sleep(verdict.delay)
            response = await handler(request)
            if verdict.action == "drop_after":  # done, but the client never hears of it
                self.stats["dropped"] += 1
                request.transport.close()
            return response
        except ApiError as err:
            self.stats["responses_500" if err.status >= 500 else "responses_4xx"] += 1
            return _error(err)
        except BackendError as err:
            status = err.status or 400
            self.stats["responses_500" if status >= 500 else "responses_4xx"] += 1
            return _error(ApiError(status, str(err), code="model_not_found"
                                   if status == 404 and request.path.endswith("/completions")
                                   else None))

    @staticmethod
    def _check_key(request: web.Request) -> None:
        # Any non-empty bearer key is accepted; the key itself is never logged or echoed.
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "You didn't provide an API key. Provide it in the Authorization "
                                "header as 'Bearer YOUR_KEY'.")

    def _rate_limited(self, verdict: sim_faults.Verdict) -> web.Response:
        self.stats["responses_429"] += 1
        headers = sim_faults.retry_after_headers(verdict.retry_after or 0.0)
        if verdict.action == "rate_limit":
            headers["x-ratelimit-limit-requests"] = f"{verdict.limit:g}"
            headers["x-ratelimit-remaining-requests"] = "0"
            headers["x-ratelimit-reset-requests"] = f"{headers['retry-after-ms']}ms"
            message = (f"Rate limit reached: limit {verdict.limit:g} requests per minute "
                       f"(simulated). Please try again in {headers['retry-after-ms']}ms.")
        else:
            message = "Rate limit reached (simulated burst). Please try again later."
        err = ApiError(429, message, code="rate_limit_exceeded", type_="requests")
        return _error(err, headers)

    def _tick(self) -> int:
        self.clock += 1
        return BASE_TIME + self.clock

    def _save(self) -> None:
        if self._path is None:
            return
        write_atomic(self._path, json.dumps({"clock": self.clock, "files": self.files, "jobs": self.jobs}))

    async def stats_endpoint(self, request: web.Request) -> web.Response:
        return _json({**self.stats, "simulated": True, "faults": asdict(self.gate.faults)})

    # -- files ------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise ApiError(400, "Expected a multipart/form-data body with `file` and `purpose`.")
        form = await request.post()
        purpose, upload = form.get("purpose"), form.get("file")
        if not isinstance(upload, web.FileField):
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        if purpose != "fine-tune":
            raise ApiError(400, f"Invalid purpose {purpose!r}: the simulator accepts 'fine-tune'.",
                           param="purpose")
        ref = self.backend.upload_training_file(upload.file.read(), upload.filename or "file.jsonl")
        self.files[ref.id] = {"id": ref.id, "object": "file", "bytes": ref.bytes,
                              "created_at": self._tick(), "filename": ref.filename,
                              "purpose": "fine-tune", "status": "processed"}
        self.stats["uploads"] += 1
        self._save()
        return _json(self.files[ref.id])

    async def list_files(self, request: web.Request) -> web.Response:
        """ListFilesResponse, newest first; `purpose` filters as OpenAI's does."""
        purpose = request.query.get("purpose")
        files = [f for f in reversed(list(self.files.values())) if purpose in (None, f["purpose"])]
        return _json({"object": "list", "data": files, "has_more": False,
                      "first_id": files[0]["id"] if files else None,
                      "last_id": files[-1]["id"] if files else None})

    async def get_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"]
        if file_id not in self.files:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return _json(self.files[file_id])

    # -- jobs -------------------------------------------------------------------------------

    async def create_job(self, request: web.Request) -> web.Response:
        body = await _body(request)
        unknown = sorted(set(body) - JOB_KEYS)
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}",
                           param=unknown[0])
        model = _string(body, "model", required=True)
        training_file = _string(body, "training_file", required=True)
        validation_file = _string(body, "validation_file")
        for param, file_id in (("training_file", training_file), ("validation_file", validation_file)):
            if file_id is not None and file_id not in self.files:
                raise ApiError(400, f"invalid {param}: {file_id}", param=param, code="invalid_file")
        hyper = _hyperparameters(body)
        suffix = _string(body, "suffix")
        if suffix is not None and not 1 <= len(suffix) <= 64:
            raise ApiError(400, "suffix must be 1 to 64 characters", param="suffix")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ApiError(400, "seed must be an integer", param="seed")
        metadata = _metadata(body.get("metadata"))
        if body.get("integrations"):
            raise ApiError(400, "integrations are not supported by the simulator", param="integrations")
        spec = JobSpec(base_model=model, training_file=training_file, suffix=suffix,
                       hyperparameters={k: v for k, v in hyper.items() if v != "auto"},
                       seed=seed, metadata=metadata or {})
        job = self.backend.create_job(spec)
        faults = self.gate.faults
        self.jobs[job.id] = {
            "created_at": self._tick(), "model": model, "training_file": training_file,
            "validation_file": validation_file, "hyperparameters": hyper,
            "seed": seed if seed is not None else _derived_seed(job.id),
            "metadata": metadata, "polls": 0, "validating": faults.validating_polls,
            "fail": faults.fail_jobs, "failed": False, "cancelled": False,
            "finished_at": None, "extra_events": []}
        self.stats["jobs_created"] += 1
        self._save()
        return _json(self._render(job))

    async def get_job(self, request: web.Request) -> web.Response:
        rec = self._record(request.match_info["id"])
        self.stats["job_polls"] += 1
        rec["polls"] += 1
        job_id = request.match_info["id"]
        if not rec["cancelled"] and not rec["failed"] and rec["polls"] <= rec["validating"]:
            body = self._render(self._find(job_id))   # held back: the backend's job waits
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
        return _json(body)

    def _fail(self, job_id: str, rec: dict[str, Any]) -> None:
        rec["failed"], rec["finished_at"] = True, self._tick()
        # Not before the backend's own events, which run on the backend's clock.
        when = max([rec["finished_at"]] + [e.created_at for e in self.backend.list_events(job_id)])
        rec["extra_events"].append({"id": f"ftevent-sim-{job_id}-failed", "created_at": when,
                                    "level": "error", "message": "Fine-tuning job failed: "
                                    "the training run stopped with an error (simulated failure)."})

    async def list_jobs(self, request: web.Request) -> web.Response:
        self.stats["job_lists"] += 1
        query = request.query
        wanted: dict[str, str] | None = {}
        for key, value in query.items():
            if key == "metadata" and value == "null":
                wanted = None          # OpenAI: metadata=null selects jobs without metadata
            elif key.startswith("metadata[") and key.endswith("]") and wanted is not None:
                wanted[key[len("metadata["):-1]] = value
        jobs = [j for j in self.backend.find_jobs({}) if j.id in self.jobs]
        if wanted is None:
            jobs = [j for j in jobs if not self.jobs[j.id]["metadata"]]
        else:
            jobs = [j for j in jobs if all((self.jobs[j.id]["metadata"] or {}).get(k) == v
                                           for k, v in wanted.items())]
        jobs.sort(key=lambda j: self.jobs[j.id]["created_at"], reverse=True)  # newest first
        page, more = _page([self._render(j) for j in jobs], query)
        return _json({"object": "list", "data": page, "has_more": more})

    async def list_events(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        rec = self._record(job_id)
        self.stats["event_lists"] += 1
        events = [{"object": "fine_tuning.job.event", "id": e.id, "created_at": e.created_at,
                   "level": _level(e.level), "message": e.message, "data": {}, "type": "message"}
                  for e in self.backend.list_events(job_id)]
        events += [{"object": "fine_tuning.job.event", **e, "data": {}, "type": "message"}
                   for e in rec["extra_events"]]
        page, more = _page(events[::-1], request.query)   # OpenAI lists newest first
        return _json({"object": "list", "data": page, "has_more": more})

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
        return _json(self._render(job))

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
        rec = self.jobs[job.id]
        status, model, tokens, error = job.status, job.fine_tuned_model, job.trained_tokens, None
        if rec["failed"]:
            status, model, tokens = FAILED, None, None
            error = {"code": "simulated_failure", "param": None,
                     "message": "The job failed due to an internal error (simulated)."}
        elif not rec["cancelled"] and rec["validating"] and rec["polls"] <= rec["validating"]:
            status, model, tokens = VALIDATING, None, None
        elif status == FAILED:
            error = {"code": "job_failed", "param": None, "message": job.error or "The job failed."}
        if status != SUCCEEDED:
            model = None
        hyper = dict(rec["hyperparameters"])
        return {
            "object": "fine_tuning.job", "id": job.id, "created_at": rec["created_at"],
            "error": error, "fine_tuned_model": model,
            "finished_at": rec["finished_at"] if status in TERMINAL_STATES else None,
            "hyperparameters": hyper, "model": rec["model"], "organization_id": ORGANIZATION,
            "result_files": [], "seed": rec["seed"], "status": status, "trained_tokens": tokens,
            "training_file": rec["training_file"], "validation_file": rec["validation_file"],
            "integrations": None, "estimated_finish": None, "metadata": rec["metadata"],
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        }

    # -- chat -------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        self.stats["chat_requests"] += 1
        body = await _body(request)
        chat = _chat_request(body)
        done = await self.backend.complete(chat)
        digest = hashlib.sha256(json.dumps(
            [chat.model, chat.messages, chat.temperature, chat.seed, chat.max_tokens],
            sort_keys=True).encode()).hexdigest()
        self.stats["chat_completions"] += 1
        return _json({
            "id": f"chatcmpl-sim{digest[:26]}", "object": "chat.completion",
            "created": BASE_TIME + self.clock, "model": chat.model,
            "choices": [{"index": 0, "finish_reason": done.finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": done.text, "refusal": None,
                                     "annotations": []}}],
            "usage": {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
                      "total_tokens": done.prompt_tokens + done.completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": "fp_simulator",
        })


# -- request parsing -----------------------------------------------------------------------

async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _string(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"Missing or invalid parameter: '{key}' must be a non-empty string.",
                       param=key)
    return value


def _hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("hyperparameters") or {}
    method = body.get("method")
    if not isinstance(given, dict):
        raise ApiError(400, "hyperparameters must be an object", param="hyperparameters")
    if method is not None:
        if not isinstance(method, dict) or method.get("type") != "supervised":
            raise ApiError(400, "the simulator supports method type 'supervised' only", param="method")
        given = {**given, **((method.get("supervised") or {}).get("hyperparameters") or {})}
    if set(given) - set(HYPERPARAMETERS):
        raise ApiError(400, f"hyperparameters may contain only {', '.join(HYPERPARAMETERS)}",
                       param="hyperparameters")
    limits = {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256),
              "learning_rate_multiplier": ((int, float), 0, None)}
    out: dict[str, Any] = {}
    for name in HYPERPARAMETERS:
        value = given.get(name, "auto")
        kind, low, high = limits[name]
        ok = value == "auto" or (isinstance(value, kind) and not isinstance(value, bool)
                                 and value >= low and (high is None or value <= high)
                                 and (name != "learning_rate_multiplier" or value > 0))
        if not ok:
            raise ApiError(400, f"invalid hyperparameter {name}: {value!r}", param=name)
        out[name] = value
    return out


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (not isinstance(value, dict) or len(value) > 16
            or not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
                       for k, v in value.items())):
        raise ApiError(400, "metadata must map at most 16 string keys (<= 64 chars) to strings "
                            "(<= 512 chars)", param="metadata")
    return dict(value) or None


def _chat_request(body: dict[str, Any]) -> ChatRequest:
    model = _string(body, "model", required=True)
    if body.get("stream"):
        raise ApiError(400, "stream=true is not supported by the simulator", param="stream")
    if body.get("n", 1) != 1:
        raise ApiError(400, "n must be 1 in the simulator", param="n")
    if body.get("tools") or body.get("functions"):
        raise ApiError(400, "tools are not supported by the simulator", param="tools")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty array", param="messages")
    messages = []
    for i, m in enumerate(raw):
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(content, str):
            raise ApiError(400, f"Invalid value for 'messages[{i}]': needs a role and text content",
                           param=f"messages[{i}]")
        messages.append({"role": m["role"], "content": content})
    temperature = body.get("temperature", 1.0)
    if temperature is None:
        temperature = 1.0
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) \
            or not 0 <= temperature <= 2:
        raise ApiError(400, "temperature must be a number from 0 to 2", param="temperature")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ApiError(400, "seed must be an integer", param="seed")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                   or max_tokens < 1):
        raise ApiError(400, "max_tokens must be a positive integer", param="max_tokens")
    return ChatRequest(model=model, messages=messages, temperature=float(temperature),
                       seed=seed, max_tokens=max_tokens)


def _page(items: list[dict[str, Any]], query: Any) -> tuple[list[dict[str, Any]], bool]:
    """OpenAI's cursor pagination: items after the one named by `after`, at most `limit`."""
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise ApiError(400, "limit must be an integer", param="limit") from None
    if limit < 1:
        raise ApiError(400, "limit must be at least 1", param="limit")
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise ApiError(400, f"Invalid 'after' cursor: {after}", param="after")
        items = items[ids.index(after) + 1:]
    return items[:limit], len(items) > limit


def _level(level: str) -> str:
    level = level.lower()
    return "warn" if level.startswith("warn") else level if level in ("info", "error") else "info"


def _derived_seed(job_id: str) -> int:
    return int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 2**31


# -- running it ----------------------------------------------------------------------------

def check_host(host: str, allow_remote: bool = False) -> None:
    """Refuse anything but loopback: this server has no real authentication."""
    if allow_remote or is_loopback(host):
        return
    raise ConfigError(f"refusing to serve the simulator on {host!r}: it binds to loopback only "
                      "(127.0.0.1, ::1, localhost) unless remote serving is explicitly allowed")


class Simulator:
    """The server on a background thread with its own event loop; a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None,
                 state_path: str | Path | None = None, backend: Backend | None = None,
                 allow_remote: bool = False):
        check_host(host, allow_remote)
        if backend is None:
            from backends.mock import MockBackend
            backend = MockBackend(state_path=state_path)
        self.host, self.port = host, port
        self.app = SimApp(backend, faults or Faults(), state_path)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def faults(self) -> Faults:
        return self.app.gate.faults

    def set_faults(self, faults: Faults) -> None:
        """Swap the fault plan (its counters start again at zero); jobs keep theirs."""
        self.app.gate = FaultGate(faults)

    def stats(self) -> dict[str, int]:
        return dict(self.app.stats)

    def start(self) -> Simulator:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name="harness-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("simulator did not start within 30 s")
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = self._runner = web.AppRunner(self.app.build(), access_log=None,
                                              shutdown_timeout=1.0)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as exc:  # reported to start() in the caller's thread
            self._failure = exc
            loop.run_until_complete(runner.cleanup())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._thread = None

    def wait(self) -> None:
        """Block until the server thread ends (Ctrl-C reaches the caller between checks)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 8765, faults: Faults | None = None, *,
          state_path: str | Path | None = None, backend: Backend | None = None,
          allow_remote: bool = False) -> None:
    """Run the simulator in the foreground until Ctrl-C or SIGTERM (for `harness simulate`).
    faults=None reads HARNESS_SIM_* from the environment. The first line printed holds the
    base URL, so scripts using port 0 can read it."""
    if faults is None:
        faults = Faults.from_env()
    main = threading.current_thread() is threading.main_thread()
    # Installed before the URL is out: a caller that reads it may stop us right away.
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        sim = Simulator(host, port, faults, state_path, backend, allow_remote).start()
        try:
            print(f"SIMULATED OpenAI API (mock backend) at {sim.url}  "
                  f"faults: {sim.faults.describe()}", flush=True)
            sim.wait()
        except KeyboardInterrupt:
            print("simulator stopped", file=sys.stderr)
        finally:
            sim.stop()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
