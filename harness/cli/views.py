"""How the CLI shows a plan, a run's summary and a run's status. Data comes in typed from
harness.running.session; text from providers and users is never read as markup."""
from __future__ import annotations

from pathlib import Path

from harness.cli import console
from harness.reports.tables import BANNER
from harness.running.session import Prepared, Status
from harness.store.summary import Summary


def _usd(x: float | None) -> str:
    return "unknown price" if x is None else f"${x:.2f}"


def print_plan(p: Prepared, simulated: bool) -> None:
    plan, s = p.plan, p.settings
    lines = [f"plan: {plan.examples} examples, {plan.training_tokens} tokens per epoch x {plan.epochs} epochs"
             + (f" = training {_usd(plan.training_cost)}" if s.train else " (no training)"),
             f"      {plan.probe_calls} probe calls ({', '.join(s.conditions)}; "
             f"{s.samples} samples at T={s.temperature}) = inference {_usd(plan.inference_cost)}",
             f"      estimated total {_usd(plan.total)}"
             + (" (SIMULATED backend: nothing is spent)" if simulated else "")]
    console.err.print("\n".join(lines))


def print_warnings(p: Prepared) -> None:
    for warning in p.plan.warnings:
        console.err.print(f"warning: {warning}", style="yellow")


def print_summary(summary: Summary, run_dir: Path, resumable: bool = True, show_run_status: bool = True) -> None:
    if summary.simulated:
        console.out.print(BANNER, style="bold red")
    console.out.print(console.summary_table(summary))
    if show_run_status and summary.run_status:
        console.out.print(f"run {summary.run_status}", style="bold red")
    if summary.failed:
        again = f"`harness resume {run_dir}` asks them again" if resumable else "see the error below"
        console.out.print(f"{summary.failed} sample(s) failed and are not scored; {again}.", style="yellow")
    console.out.print(f"report: {run_dir / 'report.md'}  (also report.html, summary.json)")


def print_status(st: Status) -> None:
    run, state = st.run, st.run.state
    word = state.status.value
    if st.interrupted:
        word = f"interrupted (no harness process is running it; `harness resume {run.store.dir}` continues it)"
    lines = [
        f"run        {run.manifest.run_id} ({run.scenario.name}, word {run.scenario.rule.word}, "
        f"backend {run.options.backend}" + (", SIMULATED" if run.simulated else "") + ")",
        f"status     {word}" + (f": {state.error}" if state.error else ""),
        "steps      " + (", ".join(f"{k} {v}" for k, v in state.steps.items()) or "none yet"),
        f"job        {state.job_id or '-'} ({state.job_status or '-'})",
        f"model      {state.fine_tuned_model or '-'}",
        f"samples    {st.done} of {st.total} done, {st.failed} failed" + (f", {st.torn} torn line(s)" if st.torn else ""),
        f"spend      ${st.spent:.4f} " + ("(simulated: nothing is spent)" if run.simulated
                                        else "(estimate from the backend's prices)")
        + (f" (some prices unknown: {', '.join(st.unknown_prices)} counted as $0)" if st.unknown_prices else ""),
    ]
    console.out.print("\n".join(lines))
