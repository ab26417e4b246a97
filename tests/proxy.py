"""A loopback proxy in front of the simulator that rewrites what it answers, as a hostile or
broken OpenAI-compatible server (a proxy, vLLM, llama.cpp, a new provider) would: each
response's status and JSON body pass through `rewrite(method, path, status, body)`, which
returns the (status, body) to send; a body that is a str is sent as it is (not JSON-encoded),
so a test can send NaN, a truncated document or terminal escapes.

    with Simulator() as sim, RewritingProxy(sim.url, rewrite) as proxy:
        harness run ... --api-base proxy.url
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web

Rewrite = Callable[[str, str, int, Any], "tuple[int, Any] | None"]
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


class RewritingProxy:
    def __init__(self, upstream: str, rewrite: Rewrite):
        parts = urlsplit(upstream)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.rewrite = rewrite
        self.port = 0
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status sent), in order
        self.sent: list[Any] = []  # each request's JSON body (None when it was not JSON), in order
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._session: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms per request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
        assert self._session is not None
        data = await request.read()
        try:
            sent: Any = json.loads(data)
        except ValueError:
            sent = None
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=data, headers=headers
        ) as answer:
            status, raw = answer.status, await answer.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        changed = self.rewrite(request.method, request.path, status, body)
        if changed is not None:
            status, body = changed
        text = body if isinstance(body, str) else json.dumps(body, allow_nan=True)
        self.seen.append((request.method, request.path, status))
        self.sent.append(sent)
        return web.Response(status=status, text=text, content_type="application/json")

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=200 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())

        async def session() -> ClientSession:
            return ClientSession(timeout=ClientTimeout(total=60), auto_decompress=True)

        self._session = loop.run_until_complete(session())
        self.port = runner.addresses[0][1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._session.close())
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def __enter__(self) -> RewritingProxy:
        self._thread = threading.Thread(target=self._run, name="rewriting-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(30)
