"""An OpenAI-compatible HTTP server on loopback that serves a backend (the mock by default).

It speaks the REST subset the harness uses (files, fine-tuning jobs and their events,
chat completions), with bodies shaped as OpenAI's published schemas, so the openai backend
and the official SDK can be exercised, recorded and fault-tested without the internet.
This module runs it (in a thread, or in the foreground for `harness simulate`); its routes
are in backends/simulator/app.py. Everything it serves is simulated.

    with Simulator(port=0, faults=Faults(latency=0.2)) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test")
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from backends.base import Backend, ConfigError
from backends.net import is_loopback
from backends.simulator.app import SimApp
from backends.simulator.faults import FaultGate, Faults


def check_host(host: str, allow_remote: bool = False) -> None:
    """Refuse anything but loopback: this server has no real authentication."""
    if allow_remote or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to serve the simulator on {host!r}: it binds to loopback only "
        "(127.0.0.1, ::1, localhost) unless remote serving is explicitly allowed"
    )


class Simulator:
    """The server on a background thread with its own event loop; a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        state_path: str | Path | None = None,
        backend: Backend | None = None,
        allow_remote: bool = False,
    ):
        host = host.strip()
        if host.startswith("[") and host.endswith("]"):  # an IPv6 address as a URL writes it: [::1]
            host = host[1:-1]
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
            if isinstance(self._failure, OSError):  # a name that does not resolve, a port in use
                raise ConfigError(
                    f"cannot serve the simulator on {self.host} port {self.port}: "
                    f"{self._failure.strerror or self._failure}"
                ) from None
            raise self._failure
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = self._runner = web.AppRunner(self.app.build(), access_log=None, shutdown_timeout=1.0)
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


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: Faults | None = None,
    *,
    state_path: str | Path | None = None,
    backend: Backend | None = None,
    allow_remote: bool = False,
) -> None:
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
            print(
                f"SIMULATED OpenAI API (mock backend) at {sim.url}  faults: {sim.faults.describe()}  "
                f"jobs: {sim.faults.describe_jobs()}",
                flush=True,
            )
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
