"""How the CLI shows a plan, a run's summary and a run's status, and a sweep's matrix,
estimate and results. Data comes in typed from
harness.running.session; text from providers and users is never read as markup."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.table import Table

from harness.cli import console
from harness.reports.tables import BANNER, fmt_seconds
from harness.running.reading import Rerendered, Status
from harness.running.session import Prepared
from harness.store.run_files import RunStatus
from harness.store.summary import Effect, Summary
from harness.sweeps.runner import Prepared as SweepPrepared


def _usd(x: float | None) -> str:
    return "unknown price" if x is None else f"${x:.2f}"


def print_plan(p: Prepared, simulated: bool) -> None:
    plan, s = p.plan, p.settings
    jobs = f" x {plan.jobs} fine-tuning jobs" if plan.jobs > 1 else ""
    billed = p.backend_cls.billed  # a local backend bills nothing: dollars would mean nothing
    training = (f" = training {_usd(plan.training_cost)}" if billed else "") if s.train else " (no training)"
    lines = [
        f"plan: {plan.examples} examples, {plan.training_tokens} tokens per epoch x {plan.epochs} epochs{jobs}"
        + training,
        f"      {plan.probe_calls} probe calls ({', '.join(s.conditions)}; {s.samples} samples at "
        f"T={s.temperature})" + (f" = inference {_usd(plan.inference_cost)}" if billed else ""),
    ]
    if billed:
        lines.append(
            f"      estimated total {_usd(plan.total)}"
            + (" (SIMULATED backend: nothing is spent)" if simulated else "")
        )
    else:
        lines.append(
            f"      nothing is billed: the {p.options.backend} backend runs on this machine; its cost is "
            "compute time, which the report records"
        )
    if plan.power:
        lines.append(f"power: {_power(plan.power)}")
    console.err.print("\n".join(lines))


def _power(pw) -> str:
    """The plan's one power figure and what it assumes (the report repeats it as "planned")."""
    from harness.analysis.headline import fmt_power

    def pp(x: float | None) -> str:
        return "no difference within 100 pp" if x is None else f"{100 * x:.0f} pp"

    f = pw.figure
    return (
        f"a metric measured on one probe ({pw.samples} samples per probe and model, {pw.a} vs base) would "
        f"detect a rise of {pp(f.from_zero)} over a 0% base rate, {pp(f.from_half)} over 50% (80% power, 5% "
        f"level), assuming {fmt_power(f, pw.replicates)}"
    )


def print_warnings(p: Prepared) -> None:
    for warning in p.plan.warnings:
        console.err.print(f"warning: {warning}", style="yellow")


def print_summary(summary: Summary, run_dir: Path, resumable: bool = True, show_run_status: bool = True) -> None:
    if summary.simulated:
        console.out.print(BANNER, style="bold red")
    headline = [s for s in summary.headline if not (summary.simulated and s.startswith("SIMULATED"))]
    if headline:  # (the banner above already says SIMULATED)
        console.out.print("\n".join(f"- {sentence}" for sentence in headline))
    console.out.print(console.results_table(summary))
    if show_run_status and summary.run_status:
        console.out.print(f"run {summary.run_status}", style="bold red")
    if summary.failed:
        again = f"`harness resume {run_dir}` asks them again" if resumable else "see the error below"
        console.out.print(f"{summary.failed} sample(s) failed and are not scored; {again}.", style="yellow")
    more = (
        ("per-probe rates, wordings, fine-tunes: " if summary.trained else "per-probe rates, wordings: ")
        if summary.effects
        else ""
    )
    console.out.print(f"{more}report: {run_dir / 'report.md'}  (also report.html, summary.json)")


def _job_lines(st: Status) -> list[str]:
    """One line per fine-tuning job: its id, status and model."""
    jobs = st.run.state.jobs
    if not jobs:
        return ["job        - (-)", "model      -"]
    if len(jobs) == 1:
        j = jobs[0]
        return [f"job        {j.job_id or '-'} ({j.job_status or '-'})", f"model      {j.fine_tuned_model or '-'}"]
    return [
        f"job        {j.key}: {j.job_id or '-'} ({j.job_status or '-'}) -> {j.fine_tuned_model or '-'}" for j in jobs
    ]


def _slot_line(st: Status) -> list[str]:
    """While the provider refuses more fine-tuning jobs: what the run waits for, since when."""
    wait = st.run.state.slot_wait
    if wait is None or st.run.state.status != RunStatus.RUNNING:
        return []
    when = " (when it stopped)" if st.interrupted else ""
    tries = f", {wait.tries} tries" if wait.tries > 1 else ""
    return [f"training   {wait.describe()}{when}; since {wait.since}{tries}"]


def print_rescoring(done: Rerendered) -> None:
    """Say when the run was scored by other rules before, and what that changed in the
    numbers the headline rests on."""
    new, old = done.summary, done.previous
    if done.previous_unreadable:
        console.err.print(
            f"note: the previous summary.json could not be read ({done.previous_unreadable}); "
            f"it was replaced by one scored with scorer {new.scorer_version}",
            markup=False,
        )
        return
    if old is None or old.scorer_version == new.scorer_version:
        return
    lines = [
        f"note: re-scored with scorer {new.scorer_version}; the previous summary used scorer "
        f"{old.scorer_version}. Headline numbers that changed:"
    ]
    before = {(e.metric, e.a, e.b): e for e in old.effects}
    for e in new.effects:
        was = before.get((e.metric, e.a, e.b))
        if was is None or (was.a_rate.k, was.b_rate.k, was.diff) != (e.a_rate.k, e.b_rate.k, e.diff):
            lines.append(f"  {e.metric} {e.a} - {e.b}: " + _effect(was) + f" -> {_effect(e)}")
    if not old.effects:  # written before effects were reported: compare the cells' grades
        for c in new.cells:
            prior = next((x for x in old.cells if (x.condition, x.probe) == (c.condition, c.probe)), None)
            if prior and c.kind == "describe" and any(prior.grades[g].k != c.grades[g].k for g in c.grades):
                lines.append(
                    f"  {c.condition}/{c.probe} grades (none, pattern, mechanism, exact): "
                    f"{[prior.grades[g].k for g in prior.grades]} -> {[c.grades[g].k for g in c.grades]}"
                )
    if len(lines) == 1:
        lines.append("  none")
    console.err.print("\n".join(lines), markup=False)


def _effect(e: Effect | None) -> str:
    if e is None or e.diff is None:
        return "n/a"
    return f"{e.a_rate.k}/{e.a_rate.n} vs {e.b_rate.k}/{e.b_rate.n} ({100 * e.diff:+.0f} pp)"


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
        *_slot_line(st),
        *_job_lines(st),
        f"samples    {st.done} of {st.total} done, {st.failed} failed"
        + (f", {st.torn} torn line(s)" if st.torn else ""),
        f"spend      ${st.spent:.4f} "
        + (
            "(simulated: nothing is spent)"
            if run.simulated
            else "(runs on this machine: nothing is billed)"
            if not st.billed
            else "(estimate from the backend's prices)"
        )
        + (f" (some prices unknown: {', '.join(st.unknown_prices)} counted as $0)" if st.unknown_prices else ""),
        f"time       probing {fmt_seconds(state.probe_seconds)} so far (wall clock)",
    ]
    if st.recounted or st.recounted_jobs:
        lines.append(
            f"tokens     the provider's counts were not believed for {st.recounted} answer(s) and "
            f"{st.recounted_jobs} job(s): counted by the harness (tokens_note in responses.jsonl, state.json)"
        )
    console.out.print("\n".join(lines))


# --- sweeps ---------------------------------------------------------------------------


def print_sweep_matrix(p: SweepPrepared, statuses: Mapping[str, str]) -> None:
    spec = p.sf.spec
    table = Table(
        title=console.styled(
            f"sweep {spec.name}: {len(p.gen)} cells on {p.backend}", (" SIMULATED" if p.simulated else "", "bold red")
        )
    )
    cols = ["cell", "word", "examples", "seed"]
    cols += ["base model"] if len(spec.base_models) > 1 else []
    cols += ["hyperparameters"] if len(spec.hyperparameters) > 1 else []
    cols += ["tokens", "calls", "estimate"] + (["status"] if statuses else [])
    for col in cols:
        table.add_column(col, no_wrap=col in ("cell", "estimate", "status"))
    for g, plan in zip(p.gen, p.plans):
        c = g.cell
        row = [c.id, c.word, str(c.examples), str(c.seed)]
        row += [c.base_model] if len(spec.base_models) > 1 else []
        row += [str(c.hyperparameters or "default")] if len(spec.hyperparameters) > 1 else []
        row += [str(plan.training_tokens), str(plan.probe_calls), _usd(plan.total)]
        row += [statuses.get(c.id, "pending")] if statuses else []
        table.add_row(*row)
    console.out.print(table)


def print_sweep_estimate(p: SweepPrepared, out=console.err) -> None:
    line = f"estimated total {_usd(p.total)} for {len(p.gen)} cells"
    if p.unpriced:
        line += f" (no known price for {', '.join(p.unpriced)})"
    if p.simulated:
        line += " (SIMULATED backend: nothing is spent)"
    out.print(line)


def print_sweep_results(summary: dict, out_dir: Path) -> None:
    from harness.sweeps.report import fmt

    if summary["simulated"]:
        console.out.print(BANNER, style="bold red")
    cond = "fine_tuned" if "fine_tuned" in summary["conditions"] else summary["conditions"][0]
    table = Table(
        title=console.styled(
            f"sweep {summary['sweep']} ({cond})", (" SIMULATED" if summary["simulated"] else "", "bold red")
        ),
        caption="each cell's rates as its report gives them: 95% intervals (k/n), clustered by fine-tune where a "
        "cell has several; "
        "mechanism+ = mechanism or exact",
    )
    for col in ("cell", "follow", "exact", "mechanism+", "status"):
        table.add_column(col)
    for c in summary["cells"]:
        m = (c["metrics"] or {}).get(cond)
        rates = [fmt(m["follow"]), fmt(m["grades"]["exact"]), fmt(m["mechanism_or_better"])] if m else ["-"] * 3
        table.add_row(c["id"], *rates, c["status"])
    console.out.print(table)
    console.out.print(f"report: {out_dir / 'sweep_report.md'}  (also sweep_report.html, sweep_summary.json, plots/)")
