"""What a running experiment tells the person watching it. The pipeline and sessions call
these methods and never print; the CLI (harness.cli.console) and sweeps subclass this
quiet default with their own output."""

from __future__ import annotations

import time
from collections.abc import Callable

from backends.base import Job, JobEvent
from harness.store.records import ResponseRecord


class RunUI:
    def notice(self, message: str) -> None:
        """A line of information (the run directory, a plan)."""

    def warn(self, message: str) -> None:
        """Something worth a warning that does not stop the run."""

    def step(self, name: str, message: str) -> None:
        """A step of the pipeline starts."""

    def job(self, job: Job, events: list[JobEvent], label: str = "") -> None:
        """A poll of a fine-tuning job: its status and any new events (`label` names the
        job, such as "sham:2", when a run has several)."""

    def retry(self, message: str) -> None:
        """The provider failed and the call will be retried."""

    def progress_start(self, total: int, done: int) -> None:
        """Probing starts: `done` of `total` samples were answered before."""

    def advance(self, record: ResponseRecord) -> None:
        """One sample was answered (or failed) and is on disk."""

    def progress_stop(self) -> None:
        """Probing ended (or was interrupted)."""


class RetryNotice:
    """Tells of a provider's retries without flooding: the first at once, then at most one
    line per `every` seconds, saying how many happened since the last line."""

    def __init__(self, emit: Callable[[str], None], every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.emit, self.every, self.clock = emit, every, clock
        self._last: float | None = None
        self._unsaid = 0

    def __call__(self, message: str) -> None:
        self._unsaid += 1
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            return
        more = f" [{self._unsaid} retries since the last notice]" if self._unsaid > 1 else ""
        self.emit(f"retrying: {message}{more}")
        self._last, self._unsaid = now, 0
