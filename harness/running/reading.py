"""Reading a run without running it: its status (steps, jobs, samples, spend so far) and its
reports re-scored and re-rendered from its files. No provider is called."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import backends
from backends.base import ConfigError
from harness.calls.budget import UNPRICED, Pricer, spent_of, unpriced_of
from harness.errors import StoreError
from harness.running.lifecycle import Run, open_run
from harness.store.run_dir import RunStore
from harness.store.run_files import RunStatus
from harness.store.summary import Summary


@dataclass
class Rerendered:
    summary: Summary
    previous: Summary | None  # the summary.json it replaced, when it could be read
    previous_unreadable: str | None = None


def rerender(run_dir: Path) -> Rerendered:
    """Re-score and re-render from the files; keep what the old summary said, so a change of
    the scoring rules can be shown."""
    from harness.reports.write import render_from_files

    store = RunStore(run_dir)
    previous, why = None, None
    if store.path("summary.json").exists():
        try:
            previous = store.read_summary()
        except StoreError as e:  # written by another version: re-scoring replaces it
            why = str(e)
    return Rerendered(render_from_files(store), previous, why)


@dataclass
class Status:
    run: Run
    in_use: bool
    done: int
    failed: int
    total: int
    torn: int
    spent: float
    unknown_prices: list[str]
    billed: bool = True  # False: the backend runs on this machine (its cost is time)
    recounted: int = 0  # answers whose provider's token counts were not believed (tokens_note)
    recounted_jobs: int = 0  # jobs whose trained_tokens were not believed

    @property
    def interrupted(self) -> bool:
        """A "running" run that no process holds was killed (or its machine slept)."""
        return self.run.state.status == RunStatus.RUNNING and not self.in_use


def spent_in(run_dir: Path) -> float:
    """What a run has spent so far, from its files (0 when simulated)."""
    return status(run_dir).spent


def status(run_dir: Path) -> Status:
    store = RunStore(run_dir)
    run = open_run(store)
    answers = store.answers()  # streamed: a status never holds the run's answers
    verdicts = store.verdicts()[0]
    cross = store.cross_predictions()[0]
    s = run.settings
    total = s.total_samples * len(run.scenario.probes)
    simulated = run.simulated
    billed = True
    try:
        cls = backends.load_class(run.options.backend)
        pricer, billed = Pricer.of(cls), cls.billed
    except ConfigError:  # a plugin uninstalled since: its prices are unknown, the rest still shows
        pricer = UNPRICED
    unknown = [] if simulated else unpriced_of(answers.every(), pricer, verdicts, cross)
    if not simulated and not run.state.training_priced:
        unknown.insert(0, f"training {s.base_model}")
    return Status(
        run,
        store.in_use(),
        answers.done,
        answers.failed,
        total,
        answers.torn,
        0.0 if simulated else spent_of(run.state, answers.every(), pricer, verdicts, cross),
        unknown,
        billed,
        sum(r.tokens_note is not None for r in answers)
        + sum(v.tokens_note is not None for v in verdicts)
        + sum(c.tokens_note is not None for c in cross),
        sum(j.tokens_note is not None for j in run.state.jobs),
    )
