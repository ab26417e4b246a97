"""What a person sees while a run goes: steps, the job's status and events, a progress bar,
and the results (the headline and the effects, or the per-probe table when there are none). All output goes to stderr except the summary and JSON results."""

from __future__ import annotations

import io
import sys
from typing import IO, Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from harness import redact
from harness.analysis import metrics
from harness.analysis.summary import primary_condition
from harness.running.ui import RetryNotice
from harness.running.ui import RunUI as QuietUI
from harness.store.records import ResponseRecord
from harness.store.summary import Cell, Rate, Summary


# soft_wrap: a long line stays one line when piped to a file or a log, as a user would grep it.
# markup and emoji off: what is printed is data (paths, ids, provider messages, user text), and
# "[/x]" in a path must not raise rich's MarkupError, nor ":zebra:" in a model id become an
# emoji that a user then copies into --model. Styles are given as Text objects (styled()).
class _Redacted(io.TextIOBase):
    """sys.stdout or sys.stderr, looked up at each write (tests swap them), with known
    secrets redacted: a provider message that quotes a key is printed without it."""

    def __init__(self, name: str):
        self._name = name

    @property
    def _stream(self) -> Any:
        return getattr(sys, self._name)

    def write(self, text: str) -> int:
        self._stream.write(redact.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # rich reads it to choose its symbols
        return getattr(self._stream, "encoding", "utf-8") or "utf-8"


err = Console(file=cast(IO[str], _Redacted("stderr")), highlight=False, soft_wrap=True, markup=False, emoji=False)
out = Console(file=cast(IO[str], _Redacted("stdout")), highlight=False, soft_wrap=True, markup=False, emoji=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain strings and (text, style) pairs, none of it read as markup."""
    return Text.assemble(*parts)


class RunUI(QuietUI):
    """A run as a person sees it on stderr: steps, job events, retries, a progress bar."""

    def __init__(self, console: Console = err):
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_status: dict[str, str] = {}
        self._retry = RetryNotice(lambda text: self.console.print(text, style="yellow"))

    def retry(self, message: str) -> None:
        self._retry(message)

    def notice(self, message: str) -> None:
        self.console.print(message)

    def step(self, name: str, message: str) -> None:
        self.console.print(styled((name, "bold"), "  ", message))

    def warn(self, message: str) -> None:
        self.console.print(styled(("warning:", "yellow"), " ", message))

    def job(self, job: Any, events: list, label: str = "") -> None:
        prefix = f"  {label} " if label else "  "  # which job, when a run has several
        for ev in events:
            self.console.print(styled(prefix, (str(ev.level), "dim"), " ", str(ev.message)))
        if job.status != self._last_status.get(job.id):
            self.console.print(styled(f"{prefix}job {job.id}: ", (str(job.status), "bold")))
            self._last_status[job.id] = job.status

    def progress_start(self, total: int, done: int) -> None:
        self._progress = Progress(
            TextColumn("probing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task("probe", total=total, completed=done, failed=0)
        self._progress.start()

    def advance(self, record: ResponseRecord) -> None:
        if self._progress is not None and self._task is not None:
            failed = self._progress.tasks[0].fields["failed"] + (not record.ok)
            self._progress.update(self._task, advance=1, failed=failed)

    def progress_stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _pct(rate: Rate | None) -> str:
    if rate is None or rate.rate is None:
        return "-"
    return f"{rate.rate:.0%} [{rate.low:.0%}, {rate.high:.0%}]"


def _headline(cell: Cell) -> str:
    """The figure that answers the probe's question, with its 95% interval."""
    if cell.kind == "follow":
        return f"follows {_pct(cell.follow)}"
    if cell.kind == "describe":
        return f"exact {_pct(cell.grades['exact'])}, mechanism+ {_pct(cell.mechanism_or_better)}"
    return f"right {_pct(cell.word_correct if cell.kind == 'word' else cell.choice_correct)}"


def summary_table(summary: Summary) -> Table:
    """One row per condition x probe with the figure that matters for the probe's kind."""
    title = styled(f"{summary.scenario} ({summary.word}) on {summary.backend}")
    if summary.simulated:
        title.append(" SIMULATED", style="bold red")
    caption = (
        "rates with 95% intervals (continuity-corrected Wilson, clustered as in report.md); n excludes failed samples"
    )
    if any(c.kind == "describe" for c in summary.cells):
        caption += "; mechanism+ = mechanism or exact"
    table = Table(title=title, caption=Text(caption))
    for col in ("condition", "probe", "kind", "n", "failed", "result"):
        table.add_column(col, no_wrap=col != "result")
    for cell in summary.cells:  # Text: a probe id is user text, never markup
        table.add_row(
            *(Text(x) for x in (cell.condition, cell.probe, cell.kind, str(cell.n), str(cell.failed), _headline(cell)))
        )
    return table


SHORT = {"fine_tuned": "ft", "base": "base", "sham": "sham", "in_context": "ctx"}


def results_table(summary: Summary) -> Table:
    """The effects when the run has a condition to compare with base, else the rates per probe."""
    a = primary_condition(list(dict.fromkeys(c.condition for c in summary.cells)))
    return effects_table(summary) if any(e.a == a for e in summary.effects) else summary_table(summary)


def effects_table(summary: Summary) -> Table:
    """What answers the question, one row per metric: each condition's rate, then the
    fine-tuned model (or, with none, the in-context one) minus each control with its interval
    and mark, as report.md prints them (the counts and the rates' intervals are there)."""
    title = styled(f"{summary.scenario} ({summary.word}) on {summary.backend}")
    if summary.simulated:
        title.append(" SIMULATED", style="bold red")
    a = primary_condition(list(dict.fromkeys(c.condition for c in summary.cells))) or ""
    effects = [e for e in summary.effects if e.a == a]
    controls = list(dict.fromkeys(e.b for e in effects))
    conditions = [a, *controls]
    fine_tunes = (
        f", clustered by fine-tune ({summary.replicates} per trained condition)" if summary.fine_tunes > 1 else ""
    )
    caption = (
        f"{SHORT[a]} = {'fine-tuned' if a == 'fine_tuned' else 'base model with the examples in its prompt'}. "
        "Differences in percentage points with 95% intervals"
        + fine_tunes
        + "; "
        + metrics.MARKS_NOTE.format(family="the run's effects")
        + ". mechanism+ = mechanism or exact; exact = the mechanism and the word; the describe rates are "
        "from free probes."
    )
    table = Table(title=title, caption=Text(caption))
    table.add_column("metric", no_wrap=True)
    for c in conditions:
        table.add_column(SHORT.get(c, c), justify="right", no_wrap=True)
    for b in controls:
        table.add_column(f"{SHORT.get(a, a)} - {SHORT.get(b, b)}", justify="right", no_wrap=True)
    for metric in dict.fromkeys(e.metric for e in effects):
        row = {e.b: e for e in effects if e.metric == metric}
        rates: dict[str, Rate] = {c: e.b_rate for c, e in row.items()}
        rates[a] = next(iter(row.values())).a_rate
        cells = [_rate_only(rates.get(c)) for c in conditions] + [
            metrics.fmt_diff(e.diff, e.low, e.high, e.p, e.p_holm, unit="") if (e := row.get(b)) else ""
            for b in controls
        ]
        table.add_row(Text(metrics.METRICS[metric].short), *(Text(x) for x in cells))
    return table


def _rate_only(rate: Rate | None) -> str:
    return "-" if rate is None or rate.rate is None else f"{rate.rate:.0%}"
