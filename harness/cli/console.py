"""What a person sees while a run goes: steps, the job's status and events, a progress bar,
and the summary table. All output goes to stderr except the summary and JSON results."""
from __future__ import annotations

import time
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


# soft_wrap: a long line stays one line when piped to a file or a log, as a user would grep it.
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class RetryNotice:
    """Tells of a provider's retries without flooding: the first at once, then at most one
    line per `every` seconds, saying how many happened since the last line."""

    def __init__(self, emit: Callable[[str], None], every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
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


class RunUI:
    def __init__(self, console: Console = err):
        self.console = console
        self._progress: Progress | None = None
        self._task = None
        self._last_status: str | None = None
        self.retry = RetryNotice(lambda text: self.console.print(f"[yellow]{escape(text)}[/yellow]"))

    def step(self, name: str, message: str) -> None:
        self.console.print(f"[bold]{name}[/bold]  {message}")

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/yellow] {message}")

    def job(self, job: Any, events: list) -> None:
        for ev in events:
            self.console.print(f"  [dim]{ev.level}[/dim] {ev.message}")
        if job.status != self._last_status:
            self.console.print(f"  job {job.id}: [bold]{job.status}[/bold]")
            self._last_status = job.status

    def progress_start(self, total: int, done: int) -> None:
        self._progress = Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                                  console=self.console, transient=False)
        self._task = self._progress.add_task("probe", total=total, completed=done, failed=0)
        self._progress.start()

    def advance(self, record: dict) -> None:
        if self._progress is not None:
            failed = self._progress.tasks[0].fields["failed"] + (record["status"] != "ok")
            self._progress.update(self._task, advance=1, failed=failed)

    def progress_stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _pct(rate: dict | None) -> str:
    if not rate or rate.get("rate") is None:
        return "-"
    return f"{rate['rate']:.0%} [{rate['low']:.0%}, {rate['high']:.0%}]"


def _headline(cell: dict) -> str:
    """The figure that answers the probe's question, with its 95% interval."""
    kind = cell["kind"]
    if kind == "follow":
        return f"follows {_pct(cell.get('follow'))}"
    if kind == "describe":
        grades = cell.get("grades") or {}
        return f"exact {_pct(grades.get('exact'))}, mechanism+ {_mechanism_or_better(grades)}"
    right = cell.get("word_correct") if kind == "word" else cell.get("choice_correct")
    return f"right {_pct(right)}"


def summary_table(summary: dict) -> Table:
    """One row per condition x probe with the figure that matters for the probe's kind."""
    title = f"{summary['scenario']} ({summary['word']}) on {summary['backend']}"
    if summary.get("simulated"):
        title += " [bold red]SIMULATED[/bold red]"
    table = Table(title=title, caption="rates with 95% Wilson intervals; n excludes failed samples")
    for col in ("condition", "probe", "kind", "n", "failed", "result"):
        table.add_column(col, no_wrap=col != "result")
    for cell in summary["cells"]:
        table.add_row(cell["condition"], cell["probe"], cell["kind"], str(cell["n"]), str(cell["failed"]),
                      _headline(cell))
    return table


def _mechanism_or_better(grades: dict) -> str:
    m, e = grades.get("mechanism"), grades.get("exact")
    if not m or not e or not m.get("n"):
        return "-"
    return f"{(m['k'] + e['k']) / m['n']:.0%}"
