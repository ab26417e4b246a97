"""What a run that stops during training says about the fine-tuning jobs it leaves behind.

A run stops while some of its jobs are still running at the provider (and billed as they
train) when another of its jobs fails, when the provider refuses to go on (a daily cap, no
credit), or when the user presses Ctrl-C. Nothing is cancelled behind the user's back: the
jobs still running are paid for and a resume adopts their models. The message names each of
them and both ways on: `harness resume DIR` (which re-creates a job that failed for a reason
other than its training file) and `harness cancel DIR` (which stops them)."""

from __future__ import annotations

import shlex
from pathlib import Path

from backends.base import CANCELLED, TERMINAL_STATES
from harness.store.run_files import TrainingJob


def active(jobs: list[TrainingJob]) -> list[TrainingJob]:
    """Jobs that may still be running at the provider: created (or being created when the
    process stopped) and not seen to end."""
    return [
        j for j in jobs if (j.job_id or j.creating) and not j.fine_tuned_model and j.job_status not in TERMINAL_STATES
    ]


def _named(jobs: list[TrainingJob]) -> str:
    return ", ".join(f"{j.job_id} ({j.key})" for j in jobs)


def still_running(jobs: list[TrainingJob], run_dir: Path) -> str:
    """Empty when none of the run's known jobs is running; else a sentence naming them and
    how to stop them. (A job whose creation was never confirmed is not named: usually it was
    refused for want of a slot; `harness cancel` looks for it all the same.)"""
    running = [j for j in active(jobs) if j.job_id]
    if not running:
        return ""
    them = "them" if len(running) > 1 else "it"
    return (
        f"still running at the provider (and billed): {_named(running)}; "
        f"`harness cancel {shlex.quote(str(run_dir))}` stops {them}"
    )


def with_still_running(message: str, jobs: list[TrainingJob], run_dir: Path) -> str:
    note = still_running(jobs, run_dir)
    return f"{message}. {note[0].upper()}{note[1:]}" if note else message


def job_ended(ended: list[TrainingJob], jobs: list[TrainingJob], run_dir: Path) -> str:
    """The run's error when some of its jobs failed or were cancelled: each with the
    provider's words, that no further job was created, what a resume would do, and the jobs
    still running."""
    resume = f"`harness resume {shlex.quote(str(run_dir))}`"
    said = []
    for job in ended:
        why = job.error or ("by `harness cancel` or at the provider" if job.job_status == CANCELLED else "no message")
        said.append(f"fine-tuning job {job.job_id} ({job.key}) ended {job.job_status}: {why}")
    message = "; ".join(said) + ". No further job was created"
    failed = [j for j in ended if j.job_status != CANCELLED]
    if failed and not any(j.data_at_fault for j in failed):
        keys = ", ".join(j.key for j in failed)
        message += f"; {resume} creates a new job for {keys} and keeps every other job of the run"
    return with_still_running(message, jobs, run_dir)


def failed_earlier(job: TrainingJob, jobs: list[TrainingJob], run_dir: Path) -> str:
    """A resume's error for a job that failed on its training file: no new job can succeed."""
    message = (
        f"fine-tuning job {job.job_id} ({job.key}) failed on its training file and a new job on the same "
        f"file would fail too: {job.error or 'no message'}"
    )
    return with_still_running(message, jobs, run_dir)
