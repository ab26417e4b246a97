"""`harness sweep`: matrix expansion, dry run, a tiny sweep on the mock end to end, resume
after a kill and after a lost report, and file:line errors for bad sweep files."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.sweep import sweep
from harness.running.plan import Plan
from harness.sweeps import spec as sw
from tests.helpers import ROOT

TINY = """\
name: tiny
description: two words, two counts, two samples
words: [HELLO, QZXJV]
examples: [10, 12]
samples: 2
parallel_jobs: 1
"""
CELL_IDS = ["hello-n10-s0", "hello-n12-s0", "qzxjv-n10-s0", "qzxjv-n12-s0"]
PROBES = {
    "describe": 1,
    "follow": 3,
    "total": 8,
}  # describe: the free one (articulation)  # the generator's standard probe set


# Each cell's own report.html draws three charts (tested in test_report.py); these tests
# are about the sweep, so per-run charts are a fixed PNG here, which keeps them fast.
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STUB_RUN_CHARTS = (
    "import harness.reports.plots as p; p.grades_chart = lambda *a, **k: b'\\x89PNG\\r\\n\\x1a\\n'; "
    "import harness.reports.figures as f; f.headline_figure = f.effects_figure = f.position_figure = "
    "lambda *a, **k: None; "
)


def stub_run_charts(mp: pytest.MonkeyPatch) -> None:
    import harness.reports.figures
    import harness.reports.plots

    mp.setattr(harness.reports.plots, "grades_chart", lambda *a, **k: PNG_MAGIC)
    for name in ("headline_figure", "effects_figure", "position_figure"):
        mp.setattr(harness.reports.figures, name, lambda *a, **k: None)


def stub_sweep_charts(mp: pytest.MonkeyPatch) -> list[tuple]:
    """The sweep's own charts, recorded instead of drawn (one is drawn for real below)."""
    from harness.sweeps import plots as sweep_plots

    calls: list[tuple] = []
    mp.setattr(sweep_plots, "rate_chart", lambda *a: calls.append(a) or PNG_MAGIC + b"sweep")
    mp.setattr(sweep_plots, "effects_chart", lambda *a: None)
    return calls


@pytest.fixture(autouse=True)
def _fast_run_charts(monkeypatch):
    stub_run_charts(monkeypatch)


def invoke(*args):
    return CliRunner().invoke(sweep, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(cell_run: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in cell_run.iterdir() if p.is_file()}


def statuses(sweep_dir: Path) -> dict[str, str]:
    return {c["id"]: c["status"] for c in json.loads((sweep_dir / "sweep.json").read_text())["cells"]}


# --- the matrix -------------------------------------------------------------------------


def test_expand_every_combination_with_stable_ids(tmp_path):
    path = write(
        tmp_path,
        "name: m\nwords: [HELLO, akewo]\nexamples: [10, 30]\nseeds: [0, 5]\n"
        "base_models: [gpt-4o-mini-2024-07-18, gpt-4o-2024-08-06]\n"
        "hyperparameters: [{n_epochs: 3}, {n_epochs: 5, learning_rate_multiplier: 2}]\n",
    )
    cells = sw.expand(sw.load_sweep(path).spec)
    assert len(cells) == 2 * 2 * 2 * 2 * 2
    assert len({c.id for c in cells}) == len(cells)
    assert cells[0].id == "hello-n10-s0-gpt-4o-mini-2024-07-18-n_epochs3"
    assert cells[-1].id == "akewo-n30-s5-gpt-4o-2024-08-06-learning_rate_multiplier2_n_epochs5"
    assert {c.word for c in cells} == {"HELLO", "AKEWO"}  # words are upper-cased
    assert cells[-1].hyperparameters == {"n_epochs": 5, "learning_rate_multiplier": 2}
    # Axes with a single value stay out of the id.
    single = sw.expand(sw.load_sweep(write(tmp_path, TINY, "t.yaml")).spec)
    assert [c.id for c in single] == CELL_IDS


def test_cell_scenario_carries_the_axes(tmp_path):
    sf = sw.load_sweep(write(tmp_path, TINY.replace("samples: 2", "samples: 3\nseeds: [4]")))
    g = sw.cell_scenario(sf, sw.expand(sf.spec)[-1], sw.Banks())
    sc = g.scenario
    assert (sc.name, sc.rule.word, len(sc.examples)) == ("qzxjv-n12-s4", "QZXJV", 12)
    assert (sc.fine_tune.seed, sc.eval.samples, sc.eval.conditions) == (4, 3, ["fine_tuned", "base"])
    again = sw.cell_scenario(sf, sw.expand(sf.spec)[-1], sw.Banks())
    assert again.text == g.text  # deterministic


def test_caps_share_the_budget():
    from harness.sweeps.runner import Prepared, caps_for

    plans = [Plan(10, 100, 3, 0.3, 10, 0.1), Plan(10, 100, 3, 0.5, 10, 0.1)]
    cells = [sw.Cell(f"c{i}", "HELLO", 10, 0, "m", {}, {}) for i in range(2)]
    p = Prepared(None, "openai", False, [sw.GeneratedCell(c, "", None) for c in cells], plans)
    caps = caps_for(p, 10.0)
    assert caps["c0"] == pytest.approx(4.0) and caps["c1"] == pytest.approx(6.0)


# --- dry run and budget -----------------------------------------------------------------


def test_dry_run_prints_matrix_and_cost_and_writes_nothing(tmp_path):
    path = write(tmp_path, TINY)
    out = tmp_path / "out"
    before = sorted(tmp_path.rglob("*"))
    result = invoke(path, "--out", out, "--dry-run")
    assert result.exit_code == 0, result.output
    for cid in CELL_IDS:
        assert cid in result.output
    assert "estimated total $" in result.output and "SIMULATED" in result.output
    assert sorted(tmp_path.rglob("*")) == before and not out.exists()


def test_backend_override_wins_over_an_unknown_backend_in_the_file(tmp_path):
    path = write(tmp_path, TINY + "backend: together\n")
    refused = invoke(path, "--out", tmp_path / "out", "--dry-run")
    assert refused.exit_code == 2 and ":7: backend: unknown backend 'together'" in refused.output
    result = invoke(path, "--out", tmp_path / "out", "--dry-run", "--backend", "mock")
    assert result.exit_code == 0, result.output


def test_real_backend_over_budget_refused_before_anything_is_written(tmp_path):
    path = write(tmp_path, TINY)
    out = tmp_path / "out"
    dry = invoke(path, "--out", out, "--dry-run", "--backend", "openai")
    assert dry.exit_code == 0 and "SIMULATED" not in dry.output and "estimated total $" in dry.output
    result = invoke(path, "--out", out, "--backend", "openai", "--max-cost", "0.01")
    assert result.exit_code == 2 and "exceeds --max-cost $0.01" in result.output
    assert not out.exists()


# --- running, killing, resuming -----------------------------------------------------------


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Start the tiny sweep in a subprocess, kill -9 it while the second cell's run
    directory is being created (the first cell has finished; the cell being created has a
    state file and no manifest yet), then re-run the same command. Returns (sweep dir,
    finished-at-kill snapshots, CLI result, the sweep chart calls)."""
    tmp = tmp_path_factory.mktemp("sweep")
    path = write(tmp, TINY)
    out = tmp / "out"
    code = STUB_RUN_CHARTS + "import sys; from harness.cli.sweep import sweep; sweep(sys.argv[1:])"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_CRASH_AT="creating_run:2")
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), "--out", str(out)], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert statuses(out) == {
        CELL_IDS[0]: "succeeded",
        CELL_IDS[1]: "running",
        CELL_IDS[2]: "pending",
        CELL_IDS[3]: "pending",
    }
    half_made = out / "cells" / CELL_IDS[1] / "run"
    assert (half_made / "state.json").exists() and not (half_made / "manifest.json").exists()
    done = [CELL_IDS[0]]
    finished = {cid: snapshot(out / "cells" / cid / "run") for cid in done}
    with pytest.MonkeyPatch.context() as mp:
        stub_run_charts(mp)
        charts = stub_sweep_charts(mp)
        result = invoke(path, "--out", out)
    return out, finished, result, charts


@pytest.mark.slow
def test_sweep_resumes_after_kill_without_rerunning_finished_cells(killed_and_resumed):
    out, finished, result, _ = killed_and_resumed
    assert result.exit_code == 0, result.output
    assert f"{len(CELL_IDS) - len(finished)} cell(s) to run, {len(finished)} already finished" in result.output
    assert set(statuses(out).values()) == {"succeeded"}
    for cid, files in finished.items():
        assert snapshot(out / "cells" / cid / "run") == files  # not touched, not re-run
    for cid in CELL_IDS:
        run = out / "cells" / cid / "run"
        provider = json.loads((run / "mock-provider.json").read_text())
        assert len(provider["jobs"]) == 1 and len(provider["files"]) == 1  # no second upload or job
        keys = [(r["condition"], r["probe"], r["sample"]) for r in map(json.loads, (run / "responses.jsonl").open())]
        assert len(keys) == len(set(keys)) == 2 * PROBES["total"] * 2


def test_sweep_report_rates_and_plots(killed_and_resumed):
    out, _, result, charts = killed_and_resumed
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["simulated"] is True and [c["id"] for c in summary["cells"]] == CELL_IDS
    for cell in summary["cells"]:
        ft = cell["metrics"]["fine_tuned"]
        assert ft["follow"]["n"] == 2 * PROBES["follow"]
        assert set(ft["grades"]) == {"none", "pattern", "mechanism", "exact"}
        for g in ft["grades"].values():
            assert g["n"] == 2 * PROBES["describe"] and g["low"] <= (g["rate"] or 0) <= g["high"]
        mech = ft["mechanism_or_better"]
        assert mech["k"] == ft["grades"]["mechanism"]["k"] + ft["grades"]["exact"]["k"]
        assert cell["metrics"]["base"]["follow"]["k"] == 0  # the mock's base model writes prose
    lines = {(s["word"], s["condition"]): s for s in summary["series"]}
    assert [p["examples"] for p in lines[("HELLO", "fine_tuned")]["points"]] == [10, 12]
    md = (out / "sweep_report.md").read_text()
    assert md.startswith("> **SIMULATED") and "![" in md and all(cid in md for cid in CELL_IDS)
    html = (out / "sweep_report.html").read_text()
    assert "class='banner'" in html and html.count("data:image/png;base64,") == 3
    assert [(c[1], c[3]) for c in charts] == [("follow", True), ("exact", True), ("mechanism_or_better", True)]
    for name in ("follow", "articulation_exact", "articulation_mechanism"):
        assert (out / "plots" / f"{name}.png").read_bytes() == PNG_MAGIC + b"sweep"
    assert "SIMULATED" in result.output


def test_rate_chart_draws_one_line_per_word(killed_and_resumed):
    from harness.sweeps import plots as sweep_plots

    out = killed_and_resumed[0]
    summary = json.loads((out / "sweep_summary.json").read_text())
    png = sweep_plots.rate_chart(summary["series"], "follow", "Follow rate", True)
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def test_lost_report_and_torn_run_resume_from_the_directory(killed_and_resumed, tmp_path, monkeypatch):
    stub_sweep_charts(monkeypatch)
    src = killed_and_resumed[0]
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    broken, untouched = out / "cells" / CELL_IDS[1] / "run", out / "cells" / CELL_IDS[2] / "run"
    (untouched / "summary.json").unlink()  # a finished run that lost only its report
    state = json.loads((broken / "state.json").read_text())
    state.update(status="running", steps={k: v for k, v in state["steps"].items() if k != "probe"})
    (broken / "state.json").write_text(json.dumps(state))
    lines = (broken / "responses.jsonl").read_text().splitlines(keepends=True)
    (broken / "responses.jsonl").write_text("".join(lines[:5]) + lines[5][:20])  # torn last line
    (broken / "summary.json").unlink()
    others = {cid: snapshot(out / "cells" / cid / "run") for cid in (CELL_IDS[0], CELL_IDS[3])}
    result = invoke(out)  # the sweep directory alone resumes it
    assert result.exit_code == 0, result.output
    assert "2 cell(s) to run, 2 already finished" in result.output
    for cid, files in others.items():
        assert snapshot(out / "cells" / cid / "run") == files
    records = [json.loads(x) for x in (broken / "responses.jsonl").read_text().splitlines()]
    assert len(records) == 2 * PROBES["total"] * 2
    assert len(json.loads((broken / "mock-provider.json").read_text())["jobs"]) == 1
    assert (untouched / "summary.json").exists() and set(statuses(out).values()) == {"succeeded"}


def test_changed_sweep_refuses_to_mix_experiments(killed_and_resumed, tmp_path):
    out = killed_and_resumed[0]
    changed = write(tmp_path, TINY.replace("samples: 2", "samples: 3"))
    result = invoke(changed, "--out", out)
    assert result.exit_code == 2 and "hello-n10-s0 already ran a different scenario" in result.output
    other = write(tmp_path, TINY.replace("name: tiny", "name: other"), "other.yaml")
    result = invoke(other, "--out", out)
    assert result.exit_code == 2 and "holds sweep 'tiny'" in result.output


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, where",
    [
        (TINY + "sampels: 3\n", ":7: sampels: unknown key"),
        (TINY.replace("[HELLO, QZXJV]", "\n  - HELLO\n  - QZ1\n"), ":5: words[1]: the word must be letters A-Z"),
        (TINY.replace("[10, 12]", "[5, 12]"), ":4: examples: fine-tuning needs at least 10 examples"),
        (TINY.replace("[HELLO, QZXJV]", "[HELLO, hello]"), ":3: words: each value once"),
        (TINY.replace("samples: 2", "samples: 0"), ":5: samples: Input should be greater than or equal to 1"),
        (TINY.replace("[10, 12]", "[10, 1000]"), ":4: examples[1]: cell hello-n1000-s0: asked for 1000 examples"),
        (TINY.replace("[10, 12]", "[10, 5000]"), ":4: examples[1]: Input should be less than or equal to 1000"),
        (TINY + "conditions: [fine_tuned, teacher]\n", ":7: conditions[1]:"),
        ("name: x\nwords: [HELLO\n", ":3: malformed YAML"),
    ],
)
def test_bad_sweep_file_exit_2_with_file_line_field(tmp_path, text, where):
    path = write(tmp_path, text)
    result = invoke(path, "--out", tmp_path / "out", "--dry-run")
    assert result.exit_code == 2, result.output
    assert f"{path}{where}" in result.output


def test_a_sweep_with_replicates_clusters_every_fine_tune(tmp_path, monkeypatch):
    """Each cell fine-tunes `replicates` times; the series treat each fine-tune (of every seed
    cell) as a cluster instead of pooling their answers."""
    stub_sweep_charts(monkeypatch)
    path = write(
        tmp_path,
        "name: rep\nwords: [HELOL]\nexamples: [10]\nseeds: [0, 1]\nreplicates: 2\nsamples: 3\nparallel_jobs: 1\n",
    )
    out = tmp_path / "out"
    result = invoke(str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["replicates"] == 2
    (point,) = next(s for s in summary["series"] if s["condition"] == "fine_tuned")["points"]
    assert point["cells"] == 2 and point["fine_tunes"] == 4
    assert point["follow"]["n"] == 2 * 2 * 3 * PROBES["follow"]
    run = json.loads((out / "cells/helol-n10-s1/run/state.json").read_text())
    assert [f"{j['training']}:{j['replicate']}" for j in run["jobs"]] == ["fine_tuned:0", "fine_tuned:1"]
