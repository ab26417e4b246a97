"""One set of numbers: for a mock run with replicates and a sham, and for a run with no trained
condition (base and in_context), every output shows the same rate, interval and mark for
every condition and metric, and the same difference for every effect: summary.json,
report.md, report.html, the terminal, `compare`, `export`'s columns and the sweep report's
per-cell metrics (all defined once in harness/analysis/metrics.py)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil

import pytest
from click.testing import CliRunner

from harness.analysis.metrics import METRICS, fmt_diff, fmt_rate, pp
from harness.cli.main import main
from harness.reports.tables import METRIC_LABELS
from harness.store.summary import Summary
from harness.sweeps.report import condition_metrics
from tests.helpers import SCENARIOS

RUNS = {
    "replicates and sham": ["--samples", "6", "--replicates", "3", "--conditions", "fine_tuned,base,sham"],
    "no trained condition": ["--samples", "6", "--conditions", "base,in_context"],
}


def cli(*args):
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module", params=list(RUNS))
def run(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("consistency")
    out = root / "run"
    terminal = cli("run", SCENARIOS / "helol.yaml", *RUNS[request.param], "--out", out)
    shutil.copytree(out, root / "copy")
    summary = Summary.model_validate_json((out / "summary.json").read_text())
    return {"dir": out, "copy": root / "copy", "terminal": terminal, "summary": summary, "case": request.param}


def md_table(md: str, title: str) -> list[list[str]]:
    section = md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip().replace("\\|", "|") for c in row.strip("|").split(" | ")] for row in rows[1:]]


def html_table(page: str, title: str) -> list[list[str]]:
    section = page.split(f"<h2>{title}</h2>", 1)[1].split("</table>", 1)[0]
    body = section.split("<tbody>", 1)[1]
    return [
        [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)] for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def test_every_metric_has_one_rate_everywhere(run):
    summary, out = run["summary"], run["dir"]
    conditions = list(dict.fromkeys(m.condition for m in summary.metrics))
    assert summary.metrics, "no metrics"
    if run["case"] == "no trained condition":
        assert conditions == ["base", "in_context"]
    md_rows = {r[0]: r[1:] for r in md_table((out / "report.md").read_text(), "Rates: each condition, each metric")}
    html_rows = {
        r[0]: r[1:] for r in html_table((out / "report.html").read_text(), "Rates: each condition, each metric")
    }
    compared = cli("compare", out, run["copy"])
    exported = list(csv.DictReader(io.StringIO(cli("export", out))))
    sweep = condition_metrics(summary)
    for m in summary.metrics:
        shown = fmt_rate(m.rate)
        column = conditions.index(m.condition)
        assert md_rows[METRIC_LABELS[m.metric]][column] == shown, (m.condition, m.metric)
        assert html_rows[METRIC_LABELS[m.metric]][column] == shown, (m.condition, m.metric)
        row = f"| {m.condition} | (all, as in the report) | {METRICS[m.metric].short} | {shown} | {shown} | 0 pp"
        assert row in compared, row
        flags = [r[f"metric_{m.metric}"] for r in exported if r["condition"] == m.condition]
        counted = [int(f) for f in flags if f != ""]
        assert (sum(counted), len(counted)) == (m.rate.k, m.rate.n), (m.condition, m.metric)
        assert sweep[m.condition][m.metric] == m.rate.model_dump()
    json_metrics = json.loads((out / "summary.json").read_text())["metrics"]
    assert [(x["condition"], x["metric"], x["rate"]) for x in json_metrics] == [
        (m.condition, m.metric, m.rate.model_dump()) for m in summary.metrics
    ]


def test_every_effect_has_one_interval_and_mark_everywhere(run):
    summary, out = run["summary"], run["dir"]
    assert summary.effects
    primary = "fine_tuned" if run["case"] == "replicates and sham" else "in_context"
    md = md_table((out / "report.md").read_text(), "Effects: differences between conditions")
    page = html_table((out / "report.html").read_text(), "Effects: differences between conditions")
    compared = cli("compare", out, run["copy"])
    for e in summary.effects:
        shown = fmt_diff(e.diff, e.low, e.high, e.p, e.p_holm)
        assert e.mark == ("**" if e.p_holm < 0.05 else "*" if e.p < 0.05 else "")
        key = [METRIC_LABELS[e.metric], f"{e.a} − {e.b}"]
        assert [r[4] for r in md if r[:2] == key] == [shown]
        assert [r[4] for r in page if r[:2] == key] == [shown]
        if e.a == primary:
            short = fmt_diff(e.diff, e.low, e.high, e.p, e.p_holm, unit="")
            line = next(x for x in run["terminal"].splitlines() if x.startswith(f"│ {METRICS[e.metric].short} "))
            assert short in line, (short, line)
        if e.a == primary and e.b == "base":
            line = next(x for x in compared.splitlines() if x.startswith(f"| {METRICS[e.metric].short} | "))
            assert line.count(shown) == 2, (shown, line)  # the run and its copy, as the report
    assert "-0 " not in run["terminal"] and "[-0," not in compared and "+0 pp" not in compared


def test_the_headline_speaks_of_fine_tunes_only_when_there_are_some(run):
    text = " ".join(run["summary"].headline)
    terminal = run["terminal"]
    if run["case"] == "no trained condition":
        md = (run["dir"] / "report.md").read_text()
        assert "fine-tune" not in text and "fine-tune" not in terminal.lower() and "fine-tune" not in md
        assert "the base model shown the examples in its prompt" in text
        assert "ctx - base" in terminal
    else:
        assert "3 fine-tunes per trained condition" in text and "ft - base" in terminal


def test_one_power_figure_with_its_assumptions(run):
    pw = run["summary"].power
    assert pw is not None
    assumed = next(f for f in pw.figures if f.basis == "assumed")
    plan_line = next(x for x in run["terminal"].splitlines() if x.startswith("power:"))
    assert f"detect a rise of {pp(assumed.from_zero or 0, sign=False)} pp over a 0% base rate" in plan_line
    md = (run["dir"] / "report.md").read_text()
    planned = next(r for r in md_table(md, "What this run can detect") if r[0].startswith("planned"))
    assert planned[4] == f"{100 * (assumed.from_zero or 0):.0f} pp"
    if run["case"] == "replicates and sham":
        assert "assuming icc 0.05" in plan_line and [f.basis for f in pw.figures] == ["assumed", "observed"]
        assert "observed icc" in " ".join(run["summary"].headline)
    else:
        assert [f.basis for f in pw.figures] == ["assumed"] and "no clustering" in plan_line
