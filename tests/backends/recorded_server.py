"""A loopback HTTP server that answers as real OpenAI answered in recorded traffic
(tests/fixtures/openai-recorded/), for testing the harness against reality rather than
against our own simulator. Test-only; it never imports backends.simulator or the mock.

Every answer is a recorded body with its values filled in: jobs with `error: {}`,
hyperparameters "auto" until running, `estimated_finish` null, `result_files` and
`trained_tokens` only at success, the resolved snapshot as `model`, `ft:<snapshot>:<org>:
<suffix>:<8>` models; events and job lists newest first without `first_id`, 20 to a page;
files `processed` with `expires_at`; the 429 for a full set of fine-tuning slots (3 active jobs
per base model) with no retry-after and no rate-limit headers; the daily cap;
`insufficient_quota`; 401 `invalid_api_key`; 400 `model_not_available`; jobs failing
`invalid_training_file`; chat answers with x-ratelimit-* headers in Go durations, and chat 429s
whose only wait is "Please try again in 1.2s". Jobs advance with the wall clock.

    with RecordedOpenAI(Plan(timing=Timing(training=2.0))) as server:
        harness run ... --backend openai --api-base {server.url}

or, for a person: `python -m tests.backends.recorded_server --port 8766 --training 60`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from tests.backends.recorded import load
from tests.backends.recorded_jobs import FILE, SNAPSHOTS, Ids, Jobs, RecordedJob, Timing

# Recorded answers used as they are (only their numbers and names filled in).
ACTIVE_LIMIT = load("ruby-job-create-429-active-limit.json")
DAILY_LIMIT = load("issue-job-create-429-daily-limit.json")["body"]
NO_QUOTA = load("issue-chat-429-insufficient-quota.json")["body"]
BAD_KEY = load("dotnet-chat-401.json")["body"]
NO_MODEL = load("dotnet-job-create-400-model-not-available.json")["body"]
BAD_FILE = load("dotnet-job-create-400-invalid-file.json")["body"]
NO_JOB = load("ruby-job-404.json")["body"]
NO_FILE = load("dotnet-file-404.json")["body"]
BAD_PURPOSE = load("dotnet-file-upload-400-purpose.json")["body"]
CHAT_LIMIT = load("issue-chat-429-requests-per-day.json")["body"]
CHAT_HEADERS = load("ruby-chat-completion.json")["headers"]
JOB_HEADERS = load("dotnet-job-create.json")["headers"]
PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")  # as the recorded 400 lists


@dataclass
class Plan:
    """What the server does besides answering well. Request numbers count from 1."""

    timing: Timing = field(default_factory=Timing)
    max_active: int = 3  # active jobs per base model (recorded: 3)
    daily_limit: int = 0  # jobs per base model and day; 0: no cap
    fail_jobs: frozenset[int] = frozenset()  # the n-th created jobs fail invalid_training_file
    chat_429: frozenset[int] = frozenset()  # the n-th chat requests are answered 429 ...
    try_again: str = "1.2s"  # ... saying "Please try again in 1.2s"
    insufficient_quota: bool = False  # every upload, job creation and chat: 429 insufficient_quota
    bad_key: bool = False  # every request: 401 invalid_api_key
    seed: int = 0


class Seen(NamedTuple):
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    at: float  # time.time()
    body: str  # a digest of the request's body: a retry has its first attempt's
    status: int = 0  # the answer's


def error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def masked(key: str) -> str:
    """The key as OpenAI's 401 shows it (recorded: the first 8 characters, stars, the last 4)."""
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "*" * len(key)


def page(items: list[dict[str, Any]], query: Any, default: int) -> tuple[list[dict[str, Any]], bool]:
    """`limit` items after the one named by `after` (newest first, as OpenAI pages)."""
    limit = int(query.get("limit", default))
    after = query.get("after")
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit


class RecordedOpenAI:
    """The server on a background thread; a context manager. `seen` lists every request,
    `created` every job made, `refused` the code of every 429 on job creation."""

    def __init__(self, plan: Plan | None = None, host: str = "127.0.0.1", port: int = 0):
        self.plan = plan or Plan()
        self.host, self.port = host, port
        self.ids = Ids(self.plan.seed)
        self.organization = self.ids.make("org-", 24)
        self.jobs = Jobs(self.ids, self.plan.timing, self.organization, org_slug="personal")
        self.files: dict[str, dict[str, Any]] = {}
        self.daily: dict[tuple[str, str], int] = {}
        self.seen: list[Seen] = []
        self.created: list[RecordedJob] = []
        self.refused: list[str] = []
        self.chats = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate], client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_post("/v1/files", self.upload)
        r.add_get("/v1/files", self.list_files)
        r.add_get("/v1/files/{id}", self.get_file)
        r.add_delete("/v1/files/{id}", self.delete_file)
        r.add_post("/v1/fine_tuning/jobs", self.create_job)
        r.add_get("/v1/fine_tuning/jobs", self.list_jobs)
        r.add_get("/v1/fine_tuning/jobs/{id}", self.get_job)
        r.add_get("/v1/fine_tuning/jobs/{id}/events", self.list_events)
        r.add_get("/v1/fine_tuning/jobs/{id}/checkpoints", self.list_checkpoints)
        r.add_post("/v1/fine_tuning/jobs/{id}/cancel", self.cancel_job)
        r.add_post("/v1/fine_tuning/jobs/{id}/pause", self.pause_job)
        r.add_post("/v1/fine_tuning/jobs/{id}/resume", self.resume_job)
        r.add_post("/v1/chat/completions", self.chat)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # request.post() reads a multipart upload from the stream: only JSON bodies are read here.
        data = await request.read() if request.content_type == "application/json" else b""
        digest = hashlib.sha256(data).hexdigest()[:16]
        at = len(self.seen)
        self.seen.append(Seen(request.method, request.path, dict(request.query), time.time(), digest))
        response = await self._answer(request, handler)
        self.seen[at] = self.seen[at]._replace(status=response.status)
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.plan.bad_key or not key:
            body = copy.deepcopy(BAD_KEY)
            body["error"]["message"] = body["error"]["message"].replace(
                "not-a-re**************************ized", masked(key)
            )
            return error(401, body)
        spends = request.method == "POST" and request.path in (
            "/v1/files",
            "/v1/fine_tuning/jobs",
            "/v1/chat/completions",
        )
        if self.plan.insufficient_quota and spends:
            return error(429, NO_QUOTA)
        response = await handler(request)
        if not request.path.startswith("/v1/chat"):
            for name in ("openai-version", "openai-processing-ms", "x-openai-proxy-wasm", "server", "cf-cache-status"):
                response.headers[name] = JOB_HEADERS[name].replace("Sanitized", "120")
            response.headers["x-request-id"] = "req_" + hashlib.sha256(str(len(self.seen)).encode()).hexdigest()[:32]
        return response

    def start(self) -> RecordedOpenAI:
        self._thread = threading.Thread(target=self._run, name="recorded-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the recorded-traffic server did not start")
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> RecordedOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- files --------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        purpose, upload = str(form.get("purpose", "")), form.get("file")
        if purpose not in PURPOSES:
            body = json.loads(json.dumps(BAD_PURPOSE).replace("world_domination", purpose))
            return error(400, body)
        data = upload.file.read() if hasattr(upload, "file") else bytes(str(upload), "utf-8")
        name = getattr(upload, "filename", None) or "file"
        body = copy.deepcopy(FILE) | {
            "id": self.ids.make("file-", 22, key=f"file:{len(self.seen)}"),
            "purpose": purpose,
            "filename": name,
            "bytes": len(data),
            "created_at": int(time.time()),
        }
        self.files[body["id"]] = body | {"_data": data}
        return web.json_response(body)

    def _file(self, request: web.Request) -> dict[str, Any] | web.Response:
        file_id = request.match_info["id"]
        if file_id not in self.files:
            return error(404, json.loads(json.dumps(NO_FILE).replace("fake_id", file_id)))
        return {k: v for k, v in self.files[file_id].items() if not k.startswith("_")}

    async def list_files(self, request: web.Request) -> web.Response:
        purpose = request.query.get("purpose")
        items = [self._file_view(f) for f in reversed(self.files.values()) if purpose in (None, f["purpose"])]
        items, more = page(items, request.query, 10000)
        first, last = (items[0]["id"], items[-1]["id"]) if items else (None, None)
        return web.json_response(
            {"object": "list", "data": items, "has_more": more, "first_id": first, "last_id": last}
        )

    @staticmethod
    def _file_view(f: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in f.items() if not k.startswith("_")}

    async def get_file(self, request: web.Request) -> web.Response:
        found = self._file(request)
        return found if isinstance(found, web.Response) else web.json_response(found)

    async def delete_file(self, request: web.Request) -> web.Response:
        found = self._file(request)
        if isinstance(found, web.Response):
            return found
        del self.files[found["id"]]
        return web.json_response({"object": "file", "deleted": True, "id": found["id"]})

    # -- jobs ---------------------------------------------------------------------------------

    def _snapshot(self, model: str) -> str | None:
        tuned = {j.model_id for j in self.jobs.jobs.values() if j.model_id}
        if model in SNAPSHOTS:
            return SNAPSHOTS[model]
        return model if model in SNAPSHOTS.values() or model in tuned else None

    async def create_job(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = self._snapshot(str(body.get("model", "")))
        if model is None:
            return error(400, json.loads(json.dumps(NO_MODEL).replace("gpt-nonexistent", str(body.get("model")))))
        file_id = str(body.get("training_file", ""))
        if file_id not in self.files:
            return error(400, json.loads(json.dumps(BAD_FILE).replace("Invalid File Name", file_id)))
        day = (time.strftime("%Y-%m-%d", time.gmtime()), model)
        if self.plan.daily_limit and self.daily.get(day, 0) >= self.plan.daily_limit:
            self.refused.append("daily_rate_limit_exceeded")
            said = DAILY_LIMIT["error"]["message"].replace("[YOUR NUMBER]", str(self.plan.daily_limit))
            said = said.replace("gpt-4.1-2025-04-14", model)
            return error(429, {"error": DAILY_LIMIT["error"] | {"message": said}})
        active = self.jobs.active(model)
        if self.plan.max_active and len(active) >= self.plan.max_active:
            self.refused.append("rate_limit_exceeded")
            running = sum(j.phase(time.time()) == "running" for j in active)
            said = (
                ACTIVE_LIMIT["body"]["error"]["message"]
                .replace("3 active", f"{self.plan.max_active} active")
                .replace("(2 running, 1 pending)", f"({running} running, {len(active) - running} pending)")
                .replace("gpt-3.5-turbo-0613", model)
            )
            headers = {k: v for k, v in ACTIVE_LIMIT["headers"].items() if k in ("openai-version", "cf-cache-status")}
            return error(429, {"error": ACTIVE_LIMIT["body"]["error"] | {"message": said}}, headers)
        method = (
            (body.get("method") or {}).get("supervised", {}).get("hyperparameters") or body.get("hyperparameters") or {}
        )
        hyper = {k: method.get(k, "auto") for k in ("n_epochs", "batch_size", "learning_rate_multiplier")}
        data = self.files[file_id]["_data"]
        job = self.jobs.create(
            model=model,
            training_file=file_id,
            suffix=body.get("suffix"),
            seed=body["seed"] if isinstance(body.get("seed"), int) else self.ids.rng.randrange(2**31),
            metadata=body.get("metadata") or None,
            hyperparameters=hyper,
            fails=len(self.created) + 1 in self.plan.fail_jobs,
            tokens=max(1, len(data) // 4),
        )
        self.created.append(job)
        self.daily[day] = self.daily.get(day, 0) + 1
        return web.json_response(self.jobs.body(job))

    def _job(self, request: web.Request) -> RecordedJob | web.Response:
        job_id = request.match_info["id"]
        if job_id not in self.jobs.jobs:
            return error(404, json.loads(json.dumps(NO_JOB).replace(": 123", f": {job_id}")))
        return self.jobs.jobs[job_id]

    async def get_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        return job if isinstance(job, web.Response) else web.json_response(self.jobs.body(job))

    async def list_jobs(self, request: web.Request) -> web.Response:
        """Newest first, 20 to a page, filtered by `metadata[k]=v` (the OpenAPI spec's
        deepObject form, what the official SDKs send) or `metadata=null` (jobs without)."""
        wanted = {
            k[len("metadata[") : -1]: v
            for k, v in request.query.items()
            if k.startswith("metadata[") and k.endswith("]")
        }
        jobs = list(reversed(self.jobs.jobs.values()))
        if request.query.get("metadata") == "null":
            jobs = [j for j in jobs if not j.metadata]
        jobs = [j for j in jobs if all((j.metadata or {}).get(k) == v for k, v in wanted.items())]
        items, more = page([self.jobs.body(j) for j in jobs], request.query, 20)
        return web.json_response({"object": "list", "data": items, "has_more": more})

    async def list_events(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        items, more = page(self.jobs.events(job), request.query, 20)
        return web.json_response({"object": "list", "data": items, "has_more": more})

    async def list_checkpoints(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        items, more = page(self.jobs.checkpoints(job), request.query, 10)
        first, last = (items[0]["id"], items[-1]["id"]) if items else (None, None)
        return web.json_response(
            {"object": "list", "data": items, "has_more": more, "first_id": first, "last_id": last}
        )

    async def cancel_job(self, request: web.Request) -> web.Response:
        """Recorded: 200 with the whole job, `cancelled` at once, no event added. A job already
        ended: ASSUMED 400 (never recorded)."""
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        self.jobs.catch_up(job)
        status = job.phase(time.time())
        if status not in ("validating_files", "queued", "running", "paused"):
            said = f"Job {job.id} has already {status} and cannot be cancelled."
            return error(
                400, {"error": {"message": said, "type": "invalid_request_error", "param": None, "code": None}}
            )
        job.cancelled_at = time.time()
        return web.json_response(self.jobs.body(job))

    async def pause_job(self, request: web.Request) -> web.Response:
        """A running job paused (the OpenAPI spec's pause example answers `paused`, a status
        its own enum lacks); it makes no progress until resumed. Refusals: ASSUMED 400."""
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        self.jobs.catch_up(job)
        if job.phase(time.time()) != "running":
            said = f"Job {job.id} is not running and cannot be paused."
            return error(
                400, {"error": {"message": said, "type": "invalid_request_error", "param": None, "code": None}}
            )
        job.paused_at = time.time()
        return web.json_response(self.jobs.body(job))

    async def resume_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        if job.paused_at is None:
            said = f"Job {job.id} is not paused."
            return error(
                400, {"error": {"message": said, "type": "invalid_request_error", "param": None, "code": None}}
            )
        job.started += time.time() - job.paused_at  # what remains of it takes as long as it would have
        job.paused_at = None
        return web.json_response(self.jobs.body(job))

    # -- chat ---------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        from tests.backends.recorded_chat import chat_answer

        body = await request.json()
        self.chats += 1
        asked = str(body.get("model", ""))
        tuned = {j.model_id: j for j in self.jobs.jobs.values() if j.model_id}
        if self.chats in self.plan.chat_429:
            said = CHAT_LIMIT["error"]["message"].replace("org-xxxxxxxxx", self.organization)
            said = said.replace("7m12s", self.plan.try_again).replace("gpt-4o-mini", asked)
            said = said.replace(
                "requests per day (RPD): Limit 200, Used 200", "requests per min (RPM): Limit 500, Used 500"
            )
            return error(429, {"error": CHAT_LIMIT["error"] | {"message": said}})
        return chat_answer(body, asked, SNAPSHOTS.get(asked, asked), tuned.get(asked), self.chats)


def main() -> None:
    ap = argparse.ArgumentParser(description="Serve recorded OpenAI shapes on loopback (test-only; not a simulator).")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--validating", type=float, default=Timing.validating)
    ap.add_argument("--training", type=float, default=Timing.training)
    ap.add_argument("--max-active", type=int, default=3)
    args = ap.parse_args()
    plan = Plan(timing=Timing(validating=args.validating, training=args.training), max_active=args.max_active)
    with RecordedOpenAI(plan, port=args.port) as server:
        print(f"recorded-shape OpenAI at {server.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
