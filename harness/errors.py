"""Errors that end a command, by exit code: bad input (2) or a run that failed (1)."""


class RunError(Exception):
    """The run cannot go on (job failed, budget reached, cassette miss). CLI exit 1."""


class PlanError(Exception):
    """The run must not start (price unknown, over budget, bad options). CLI exit 2."""


class StoreError(Exception):
    """A run or sweep directory is missing, unreadable, damaged or locked by another
    process. CLI exit 2."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C while a run was going; `run_dir` is the directory `harness resume` continues."""

    def __init__(self, run_dir: object, note: str = ""):
        super().__init__(str(run_dir))
        self.run_dir = run_dir
        self.note = note  # what the run leaves behind (fine-tuning jobs still running), or ""
