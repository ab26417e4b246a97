"""Everything the console prints is data, never rich markup or emoji codes: a path with
"[/y]", a suffix "[/x]", a provider event with "[/bold]" and a model id holding ":zebra:"
print as they are (before: MarkupError mid-run, or a zebra emoji in a model id)."""

from backends.base import Job, JobEvent
from harness.cli.console import RunUI
from tests.helpers import ROOT, invoke

HELOL = (ROOT / "scenarios/helol.yaml").read_text()


def test_markup_and_emoji_codes_in_paths_and_model_ids_print_verbatim(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(HELOL.replace("suffix: helol", "suffix: 'zebra:[/x]'", 1))
    assert "suffix: 'zebra:[/x]'" in scenario.read_text()
    out = tmp_path / "x[/y]"
    result = invoke("run", scenario, "--samples", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"run directory: {out}" in result.output and f"report: {out}/report.md" in result.output
    model = "ft:gpt-4o-mini-2024-07-18:mock:zebra:[/x]:"
    assert model in result.output  # the job's events name the model
    assert "\N{ZEBRA FACE}" not in result.output
    status = invoke("status", out)
    assert status.exit_code == 0 and model in status.output and "\N{ZEBRA FACE}" not in status.output


def test_job_events_steps_and_warnings_with_markup_print_verbatim(capsys):
    ui = RunUI()
    job = Job(id="ftjob-[/x]", status="running", base_model="m")
    ui.job(job, [JobEvent(id="e1", created_at=0, level="[bold]", message="step 1 [/bold] done :fire: [/...]")])
    ui.step("train", "model ft:m:zebra:[/z]")
    ui.warn("odd [/warn] text")
    ui.retry("HTTP 500: [/server] said :zebra:")
    err = capsys.readouterr().err
    for text in (
        "[bold] step 1 [/bold] done :fire: [/...]",
        "job ftjob-[/x]: running",
        "model ft:m:zebra:[/z]",
        "warning: odd [/warn] text",
        "retrying: HTTP 500: [/server] said :zebra:",
    ):
        assert text in err, (text, err)


def test_a_run_prints_its_headline_and_effects_not_every_cell(capsys):
    from harness.cli import views
    from harness.store.summary import Summary

    summary = Summary.model_validate_json((ROOT / "tests/data/replay/helol.summary.json").read_text())
    views.print_summary(summary, ROOT / "d")
    out = capsys.readouterr().out
    assert summary.effects and "Following the rule:" in out
    header = next(line for line in out.splitlines() if line.startswith("┃ metric"))
    assert "ft - base" in header and "ft - sham" in header
    follows = next(line for line in out.splitlines() if "follows" in line and "%" in line)
    e = next(e for e in summary.effects if (e.metric, e.a, e.b) == ("follow", "fine_tuned", "base"))
    assert f"{100 * e.diff:+.0f} [{100 * e.low:+.0f}, {100 * e.high:+.0f}]{e.mark}" in follows
    assert out.count("SIMULATED (a simulated provider") == 1 and "- SIMULATED:" not in out
    assert "per-probe rates" in out and "report.md" in out


def test_a_run_without_effects_prints_the_per_probe_table(tmp_path):
    result = invoke(
        "run", ROOT / "scenarios/helol.yaml", "--samples", "1", "--conditions", "base", "--out", tmp_path / "o"
    )
    assert result.exit_code == 0, result.output
    assert "ft - base" not in result.output
    assert all(probe in result.output for probe in ("capital", "rain", "sleep"))


def test_events_of_several_jobs_say_which_job_they_belong_to(capsys):
    ui = RunUI()
    for key, job_id in (("fine_tuned:0", "ftjob-a"), ("sham:1", "ftjob-b")):
        ui.job(
            Job(id=job_id, status="queued", base_model="m"),
            [JobEvent(id="e", created_at=0, level="info", message="validated")],
            key,
        )
    err = capsys.readouterr().err.splitlines()
    assert "  fine_tuned:0 info validated" in err and "  sham:1 info validated" in err
    assert "  sham:1 job ftjob-b: queued" in err  # each job's status is told once, not only the first's
