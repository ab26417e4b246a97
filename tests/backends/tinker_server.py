"""SkyRL's open-source Tinker-API server on loopback, from the venv that
scripts/tinker_server/build.sh makes, serving a tiny random Qwen3 built in code: what the
tinker backend's integration tests talk to.

The venv is $HARNESS_TINKER_SERVER_VENV, else .tinker-server-venv in the repository. Without
it the integration tests skip, saying how to build it; with HARNESS_TINKER_SERVER_REQUIRED=1
(CI sets it) they fail instead, so that CI never passes by skipping them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_ENV = "HARNESS_TINKER_SERVER_VENV"
REQUIRED_ENV = "HARNESS_TINKER_SERVER_REQUIRED"
SERVE = ROOT / "scripts" / "tinker_server" / "serve.py"
# Room for every model the tests make (a job is one, a restarted job one more), at Tinker's
# default rank. Cleanup of idle sessions is off: SkyRL unloads a model, and with it the
# weights saved for sampling, once the session that made it (a finished worker's) goes quiet.
BACKEND_CONFIG = {"max_lora_adapters": 16, "max_lora_rank": 32}


@dataclass
class Server:
    url: str
    model: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def venv_python() -> Path | None:
    venv = Path(os.environ.get(VENV_ENV) or ROOT / ".tinker-server-venv")
    python = venv / "bin" / "python"
    return python if python.exists() else None


def missing_reason() -> str:
    return (
        f"no Tinker-API server venv ({VENV_ENV} or .tinker-server-venv): "
        "build it with `bash scripts/tinker_server/build.sh .tinker-server-venv` (~2.4 GB)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/healthz", timeout=2) as r:
            return json.loads(r.read()).get("status") == "ok"
    except OSError:
        return False


def start(python: Path, model: Path, folder: Path, timeout: float = 180.0) -> Server:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    command = [
        str(python),
        str(SERVE),
        "--port",
        str(port),
        "--base-model",
        str(model),
        "--backend-config",
        json.dumps(BACKEND_CONFIG),
        "--database-url",
        f"sqlite:///{folder / 'tinker.db'}",
        "--checkpoints-base",
        str(folder / "checkpoints"),
        "--session-cleanup-interval-sec",
        "-1",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder, env=_server_env()
        )
    server = Server(f"http://127.0.0.1:{port}", model, log, process)
    deadline = time.monotonic() + timeout
    while not _healthy(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"the Tinker-API server did not start:\n{server.log_tail()}")
        time.sleep(0.5)
    return server


def _server_env() -> dict[str, str]:
    """The server's own venv decides its packages: nothing of the harness's environment that
    would change them (PYTHONPATH, a pip constraint) reaches it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_CONSTRAINT", "VIRTUAL_ENV")}
    env["JAX_PLATFORMS"] = "cpu"
    return env


def stop(server: Server) -> None:
    """SIGTERM to the server's process group (the API stops its engine), then SIGKILL to
    whatever of the group is left."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.process.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
