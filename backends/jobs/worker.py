"""A training worker: `python -m backends.jobs.worker JOB_DIR LOCK_FD`.

Started by backends.jobs.runner in a session of its own. It holds the inherited lock on
JOB_DIR/worker.lock until it exits (that lock is how others know it runs; it is never closed
here), writes its progress as job events and its outcome to state.json. What it trains with
is the job's trainer (spec.json's "trainer", one of TRAINERS): a function given a Job that
trains, saves a checkpoint every epoch, continues from the last one when there is one, and
returns the fine-tuned model's name and the tokens trained (or None when it was cancelled).

Test hook: with HARNESS_JOB_HOLD=PATH set, the worker pauses after each epoch checkpoint
for as long as PATH exists (tests use it to kill or cancel at a known point).
"""

from __future__ import annotations

import fcntl
import importlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from backends.base import CANCELLED, FAILED, RUNNING, SUCCEEDED
from backends.jobs import runner
from backends.jobs.store import append_event, read_json

HOLD_ENV = "HARNESS_JOB_HOLD"

# trainer name -> (module:function, whether it takes this machine's one training slot)
TRAINERS: dict[str, tuple[str, bool]] = {
    "local": ("backends.local.training:run_job", True),  # trains on this machine's CPU/GPU
    "tinker": ("backends.tinker.training:run_job", False),  # drives a remote service
}


@dataclass(frozen=True)
class Outcome:
    fine_tuned_model: str
    trained_tokens: int


class Job:
    """What a trainer is given: the job's folder and spec, and ways to report."""

    def __init__(self, job_dir: Path):
        self.dir = job_dir
        self.spec: dict = read_json(job_dir / "spec.json")

    @property
    def id(self) -> str:
        return self.dir.name

    def log(self, message: str, level: str = "info") -> None:
        append_event(self.dir, message, level)

    @property
    def cancelled(self) -> bool:
        return (self.dir / "cancel").exists()

    def after_epoch(self) -> None:
        """Called after each epoch's checkpoint: the test hook's pause."""
        path = os.environ.get(HOLD_ENV)
        while path and Path(path).exists():
            time.sleep(0.1)


def _trainer(name: str):
    if name not in TRAINERS:
        raise ValueError(f"unknown trainer {name!r}; known: {', '.join(sorted(TRAINERS))}")
    module, _, function = TRAINERS[name][0].partition(":")
    return getattr(importlib.import_module(module), function)


def _take_the_training_slot(job_dir: Path) -> None:
    """One job trains at a time on this machine (per store): six jobs at once on two cores
    only thrash, as a provider's jobs wait in its queue. The job stays queued meanwhile; the
    kernel frees the slot whatever ends this process."""
    slot = os.open(job_dir.parent.parent / "training.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        append_event(job_dir, "Queued: another job is training on this machine")
        fcntl.flock(slot, fcntl.LOCK_EX)


def run(job_dir: Path) -> int:
    job = Job(job_dir)
    trainer = job.spec.get("trainer", "local")  # stores made before trainers were named are local
    if TRAINERS.get(trainer, ("", False))[1]:
        _take_the_training_slot(job_dir)  # held until this process exits
    runner.update_state(job_dir, status=RUNNING)
    job.log(f"Training worker started (pid {os.getpid()})")
    try:
        outcome = _trainer(trainer)(job)
    except Exception as e:  # the job fails with the reason; the traceback goes to worker.log
        traceback.print_exc()
        error = f"training failed: {type(e).__name__}: {e} (see {job_dir / 'worker.log'})"
        job.log(error, level="error")
        runner.update_state(job_dir, status=FAILED, error=error)
        return 1
    if outcome is None or job.cancelled:
        return 0  # cancelled while finishing: the canceller records it
    runner.update_state(
        job_dir,
        status=SUCCEEDED,
        fine_tuned_model=outcome.fine_tuned_model,
        trained_tokens=outcome.trained_tokens,
        error=None,
    )
    job.log(f"New fine-tuned model created: {outcome.fine_tuned_model}")
    job.log("The job has successfully completed")
    return 0


def main(argv: list[str]) -> int:
    job_dir = Path(argv[1])
    int(argv[2])  # the inherited lock's fd: kept open (never closed) for the life of the process
    (job_dir / "worker.pid").write_text(str(os.getpid()))
    if runner.state(job_dir)["status"] in (SUCCEEDED, FAILED, CANCELLED):
        return 0
    return run(job_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
