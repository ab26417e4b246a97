"""Errors that end a command, by exit code: bad input (2) or a run that failed (1)."""


class RunError(Exception):
    """The run cannot go on (job failed, budget reached, cassette miss). CLI exit 1."""


class PlanError(Exception):
    """The run must not start (price unknown, over budget, bad options). CLI exit 2."""


class StoreError(Exception):
    """A run or sweep directory is missing, unreadable, damaged or locked by another
    process. CLI exit 2."""
