"""The simulator's application: OpenAI's REST subset the harness uses, served from a backend
(the mock by default) with bodies shaped as OpenAI's, behind the fault gate
(backends/simulator/faults.py). Chat is here; fine-tuning jobs and their limits are in
jobs.py; files, models and checkpoints in catalog.py.
Timestamps come from a logical clock (a fixed base plus one second per created object or
observed job transition) and chat ids from a hash of the request, so recordings made with
the same inputs are byte-identical."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from backends._files import read_state_json, write_atomic
from backends.base import Backend
from backends.simulator import faults as sim_faults
from backends.simulator.catalog import CatalogRoutes
from backends.simulator.faults import FaultGate, Faults
from backends.simulator.jobs import SNAPSHOTS, JobRoutes
from backends.simulator.wire import (
    MAX_BODY_MB,
    ApiError,
    as_api_error,
    chat_request,
    completion_body,
    error_response,
    json_response,
    read_body,
)

BASE_TIME = 1_700_000_000  # the logical clock's zero (the mock's event times use it too)
MAX_UPLOAD = MAX_BODY_MB * 1024 * 1024
SPENDING = ("/v1/files", "/v1/fine_tuning/jobs", "/v1/chat/completions")  # POSTs an account without credit cannot make


class SimApp(CatalogRoutes, JobRoutes):
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
                "jobs_limited",
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
        self.clock, self.files, self.jobs, self.contents, self.daily = 0, {}, {}, {}, {}
        if self._path and self._path.exists():
            defaults: dict[str, Any] = {"clock": 0, "files": {}, "jobs": {}, "contents": {}, "daily": {}}
            saved = read_state_json(self._path, defaults, "simulator state file")
            self.clock, self.files, self.jobs = saved["clock"], saved["files"], saved["jobs"]
            self.contents, self.daily = saved["contents"], saved["daily"]  # {} in older state files

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_UPLOAD)
        r = app.router
        self.add_catalog_routes(r)  # files, models, checkpoints
        self.add_job_routes(r)
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
            self._check_account(request)
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
                return self._stamp(self._rate_limited(verdict))
            if verdict.slowed:
                self.stats["slowed"] += 1
            if verdict.delay:
                await asyncio.sleep(verdict.delay)
            response = await handler(request)
            if verdict.action == "drop_after":  # done, but the client never hears of it
                self.stats["dropped"] += 1
                _close(request)
            return self._stamp(response)
        except Exception as err:  # every failure answers in OpenAI's error shape, never text/plain
            api = as_api_error(err, request.method, request.path)
            self.stats["responses_500" if api.status >= 500 else "responses_4xx"] += 1
            return self._stamp(error_response(api, detail=request.path.startswith("/v1/files")))

    def _stamp(self, response: web.StreamResponse) -> web.StreamResponse:
        """The headers every OpenAI answer carries (recorded): its API version and a request id
        (counted, so that recordings of the same session are identical)."""
        if isinstance(response, web.Response):
            digest = hashlib.sha256(f"request:{self.stats['requests']}".encode()).hexdigest()[:32]
            response.headers.setdefault("openai-version", "2020-10-01")
            response.headers.setdefault("x-request-id", f"req_{digest}")
        return response

    @staticmethod
    def _check_key(request: web.Request) -> None:
        # Any non-empty bearer key is accepted; the key itself is never logged or echoed.
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401, "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'."
            )

    def _check_account(self, request: web.Request) -> None:
        """The account faults, answered as OpenAI answers them (recorded bodies): a wrong key
        on every request, no credit on every request that spends."""
        faults = self.gate.faults
        if faults.invalid_api_key:
            key = request.headers.get("Authorization", "").partition(" ")[2]
            raise ApiError(
                401,
                f"Incorrect API key provided: {key[:3]}{'*' * 8}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        spends = request.method == "POST" and request.path in SPENDING
        if faults.insufficient_quota and spends:
            raise ApiError(
                429,
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                code="insufficient_quota",
                type_="insufficient_quota",
            )

    def _rate_limited(self, verdict: sim_faults.Verdict) -> web.Response:
        self.stats["responses_429"] += 1
        wait = sim_faults.go_duration(verdict.retry_after or 0.0)
        headers = sim_faults.retry_after_headers(verdict.retry_after or 0.0)
        if verdict.action == "rate_limit":
            headers["x-ratelimit-limit-requests"] = f"{verdict.limit:g}"
            headers["x-ratelimit-remaining-requests"] = "0"
            headers["x-ratelimit-reset-requests"] = wait
            what = f"on requests per min (RPM): Limit {verdict.limit:g} (simulated)"
        else:
            what = "(simulated burst)"
        if self.gate.faults.no_retry_after:
            headers = {}  # as OpenAI's recorded 429s: the wait is only in the message
        # OpenAI's words: "Rate limit reached for ... on requests per day (RPD): Limit 200, ...
        # Please try again in 7m12s."
        message = f"Rate limit reached {what}. Please try again in {wait}."
        err = ApiError(429, message, code="rate_limit_exceeded", type_="requests")
        return error_response(err, headers)

    def _tick(self) -> int:
        self.clock += 1
        return BASE_TIME + self.clock

    def _save(self) -> None:
        if self._path is None:
            return
        state = {
            "clock": self.clock,
            "files": self.files,
            "jobs": self.jobs,
            "contents": self.contents,
            "daily": self.daily,
        }
        write_atomic(self._path, json.dumps(state))

    async def stats_endpoint(self, request: web.Request) -> web.Response:
        return json_response({**self.stats, "simulated": True, "faults": asdict(self.gate.faults)})

    # -- chat -------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        self.stats["chat_requests"] += 1
        body = await read_body(request)
        chat = chat_request(body)
        done = await self.backend.complete(chat)
        self.stats["chat_completions"] += 1
        limit, left, reset = self.gate.usage()
        tokens = done.prompt_tokens + done.completion_tokens
        headers = {  # as recorded on chat answers (Go durations); fine-tuning answers carry none
            "x-ratelimit-limit-requests": f"{limit:g}",
            "x-ratelimit-remaining-requests": str(left),
            "x-ratelimit-reset-requests": sim_faults.go_duration(reset),
            "x-ratelimit-limit-tokens": "150000000",
            "x-ratelimit-remaining-tokens": str(150000000 - tokens),
            "x-ratelimit-reset-tokens": "0s",
        }
        body = completion_body(chat, done, created=BASE_TIME + self.clock)
        body["model"] = SNAPSHOTS.get(chat.model, chat.model)  # recorded: the snapshot that answered
        return json_response(body, headers=headers)


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()
