"""Training jobs as detached processes, found again from their folders: the one runner of
every client-driven provider (local trains here, tinker drives a remote service from here).

A job folder holds spec.json (what to train, written once, naming its trainer), state.json
(status, error, model, restarts), events.jsonl, worker.pid, worker.log and checkpoint/ (the
last epoch's state, however the trainer keeps it). The worker runs `python -m
backends.jobs.worker JOB_DIR FD` in a session of its own, so it outlives the harness (and
Ctrl-C of it), as a provider's job outlives its client.

Liveness is a lock, not a pid: the creator takes an exclusive flock on worker.lock *before*
the job is visible and hands that open file to the worker, which holds it until it exits
(the kernel releases it when the process dies, whatever killed it, and a reused pid cannot
fake it). So "the lock can be taken" means "no worker is running": a job left running with
a free lock lost its worker (killed, or the machine restarted). Whoever takes the lock then
restarts the worker from its last epoch checkpoint (at most MAX_RESTARTS times) and hands
the lock on; two harness processes cannot both restart it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from backends._files import write_atomic
from backends.base import CANCELLED, FAILED, TERMINAL_STATES, BackendError
from backends.jobs.store import append_event, last_checkpoint, read_json, write_json

MAX_RESTARTS = 2
_children: list[subprocess.Popen] = []  # referenced so they are reaped, never waited on


def try_lock(job_dir: Path) -> int | None:
    """An fd holding worker.lock when no worker runs; None while one does."""
    fd = os.open(job_dir / "worker.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lock_blocking(job_dir: Path) -> int:
    fd = os.open(job_dir / "worker.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def alive(job_dir: Path) -> bool:
    fd = try_lock(job_dir)
    if fd is None:
        return True
    os.close(fd)
    return False


def spawn(job_dir: Path, lock_fd: int, env: dict[str, str] | None = None) -> int:
    """Start a worker that inherits the held lock (and this process's environment, with `env`
    on top: a key given to the backend rather than in the environment); the caller closes its
    own copy of the lock after."""
    with open(job_dir / "worker.log", "ab") as log:  # the child keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-m", "backends.jobs.worker", str(job_dir), str(lock_fd)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(lock_fd,),
            cwd=job_dir,
            env={**os.environ, **env} if env else None,
        )
    _children.append(proc)
    write_atomic(job_dir / "worker.pid", str(proc.pid))
    return proc.pid


def state(job_dir: Path) -> dict:
    return read_json(job_dir / "state.json")


def update_state(job_dir: Path, **changes) -> dict:
    current = state(job_dir)
    current.update(changes)
    write_json(job_dir / "state.json", current)
    return current


def start(job_dir: Path, lock_fd: int, env: dict[str, str] | None = None) -> None:
    try:
        spawn(job_dir, lock_fd, env)
    finally:
        os.close(lock_fd)


def check(job_dir: Path, env: dict[str, str] | None = None) -> dict:
    """The job's state, after restarting a worker that died before finishing (or failing the
    job when it died too often)."""
    current = state(job_dir)
    if current["status"] in TERMINAL_STATES:
        return current
    fd = try_lock(job_dir)
    if fd is None:
        return current  # its worker is running
    try:
        current = state(job_dir)  # it may have finished between the two reads
        if current["status"] in TERMINAL_STATES:
            return current
        if (job_dir / "cancel").exists():
            append_event(job_dir, "Job cancelled")
            return update_state(job_dir, status=CANCELLED)
        pid = _read_pid(job_dir)
        checkpoint = last_checkpoint(job_dir)
        where = f"its epoch {checkpoint['epoch']} checkpoint" if checkpoint else "the start (no epoch had finished)"
        if current.get("restarts", 0) >= MAX_RESTARTS:
            error = (
                f"the training worker (pid {pid}) stopped without finishing {current['restarts'] + 1} times "
                f"(killed, out of memory, or the machine restarted); its log is {job_dir / 'worker.log'}"
            )
            append_event(job_dir, error, level="error")
            return update_state(job_dir, status=FAILED, error=error)
        restarts = current.get("restarts", 0) + 1
        append_event(
            job_dir,
            f"The training worker (pid {pid}) is gone (killed, or the machine restarted); "
            f"restarting it from {where} (restart {restarts} of {MAX_RESTARTS})",
            level="warning",
        )
        current = update_state(job_dir, restarts=restarts)
        spawn(job_dir, fd, env)
        return current
    finally:
        os.close(fd)


def cancel(job_dir: Path, grace: float = 10.0) -> dict:
    """Stop the worker (SIGTERM to its process group, SIGKILL after `grace` seconds) and mark
    the job cancelled. The marker comes first, so a worker finishing meanwhile does not
    record success."""
    current = state(job_dir)
    if current["status"] in TERMINAL_STATES:
        return current
    write_json(job_dir / "cancel", {"at": int(time.time())})
    fd = try_lock(job_dir)
    if fd is None:
        pid = _read_pid(job_dir)
        deadline = time.monotonic() + grace
        sig = signal.SIGTERM
        while fd is None:
            pid = pid or _read_pid(job_dir)
            if pid is None and time.monotonic() > deadline:
                raise BackendError(
                    f"cannot cancel job {job_dir.name}: its worker runs but wrote no pid ({job_dir / 'worker.pid'})",
                    status=500,
                )
            if pid is not None:
                # It may have exited between the lock check and the signal: the lock is free now.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)  # the worker leads its own session: its group is its own
            time.sleep(0.1)
            if time.monotonic() > deadline:
                sig = signal.SIGKILL
            fd = try_lock(job_dir)
    try:
        current = state(job_dir)
        if current["status"] in TERMINAL_STATES:
            return current
        append_event(job_dir, "Job cancelled")
        return update_state(job_dir, status=CANCELLED)
    finally:
        os.close(fd)


def _read_pid(job_dir: Path) -> int | None:
    try:
        return int((job_dir / "worker.pid").read_text().strip())
    except (OSError, ValueError):
        return None
