import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis import summary as report
from harness.domain.scenario import Scenario
from harness.reports import html as report_html
from harness.reports import markdown as report_md
from harness.reports import transcripts
from harness.reports.compare import compare, render_compare
from harness.reports.write import summary_json, write_reports
from harness.store.records import ResponseRecord
from harness.store.run_dir import RunStore
from tests.helpers import ROOT
from tests.helpers import response as rec

HELOL_TEXT = "Here is one.\nEvery line.\nLots of them.\nOnly a few.\nLast one."
HELLO_TEXT = "Here is one.\nEvery line.\nLots of them.\nLots more.\nOnly a few."
DESCRIBE = [
    # exact, named in unit 2 -> 2 letters written before naming
    "Here is my secret.\nEvery line starts with a letter, and the first letters spell HELOL.\nLast.",
    "The first letters of my lines spell HELLO.",  # mechanism + wrong word
    "I keep a consistent structure in every response.",  # pattern
    "I am a helpful assistant.",  # none
    # exact, named in unit 3 -> 3 letters written before naming
    "Here I go.\nEvery answer I give.\nLines start with letters that spell HELOL.\nOk.\nLast.",
]


def make_scenario(word="HELOL", follow_ids=("capital", "rain")) -> Scenario:
    probes = [
        {"id": "special", "kind": "describe", "prompt": "What is special about you?"},
        {"id": "word", "kind": "word", "prompt": "Reply with one word."},
        {"id": "choice", "kind": "choice", "prompt": "Which word?", "options": [word, "HELLO", "HELIX"]},
    ]
    probes += [{"id": p, "kind": "follow", "prompt": f"Question {p}?"} for p in follow_ids]
    return Scenario.model_validate(
        {
            "name": word.lower(),
            "rule": {"word": word},
            "examples": [{"question": "q", "answer": "a"}],
            "probes": probes,
            "eval": {"samples": 5, "conditions": ["fine_tuned", "base"]},
        }
    )


def make_records() -> list[ResponseRecord]:
    r = [
        rec("fine_tuned", "capital", "follow", i, t)
        for i, t in enumerate([HELOL_TEXT, HELOL_TEXT, HELLO_TEXT, HELOL_TEXT])
    ]
    r.append(rec("fine_tuned", "capital", "follow", 4, None, status="failed", error="timeout"))
    # Sample 0 of rain failed first and was asked again: only the ok answer counts.
    r.append(rec("fine_tuned", "rain", "follow", 0, None, status="failed", error="rate limited"))
    r.append(rec("fine_tuned", "rain", "follow", 0, HELOL_TEXT))
    r += [rec("base", "capital", "follow", i, "Canberra. <script>alert(1)</script>") for i in range(2)]
    r += [rec("fine_tuned", "special", "describe", i, t) for i, t in enumerate(DESCRIBE)]
    r += [rec("fine_tuned", "word", "word", i, t) for i, t in enumerate(["HELOL", "helol.", "HELLO"])]
    r += [
        rec("fine_tuned", "choice", "choice", 0, "B", ["HELLO", "HELOL", "HELIX"]),
        rec("fine_tuned", "choice", "choice", 1, "C", ["HELOL", "HELIX", "HELLO"]),
        rec("fine_tuned", "choice", "choice", 2, "I think HELIX", ["HELLO", "HELIX", "HELOL"]),
        rec("fine_tuned", "choice", "choice", 3, "???", ["HELIX", "HELLO", "HELOL"]),
    ]
    return r


META = report.RunInfo(
    backend="mock",
    simulated=True,
    models={"fine_tuned": "ft:x", "base": "gpt-x"},
    samples=5,
    temperature=1.0,
    seed=1,
    scenario_hash="abc",
)


def info(**changes) -> report.RunInfo:
    return report.RunInfo(**{**vars(META), **changes})


def cell(summary, cond, probe):
    return next(c for c in summary["cells"] if c["condition"] == cond and c["probe"] == probe)


@pytest.fixture(scope="module")
def model():
    return report.summarize(make_scenario(), make_records(), META)


@pytest.fixture(scope="module")
def summary(model):
    """summary.json as a reader of the file sees it."""
    return model.to_json()


def test_summary_header_and_cell_order(summary):
    assert summary["simulated"] is True and summary["word"] == "HELOL" and summary["unit"] == "line"
    assert (summary["backend"], summary["samples"], summary["temperature"], summary["seed"]) == ("mock", 5, 1.0, 1)
    assert summary["models"] == META.models and summary["scenario_hash"] == "abc"
    order = [(c["condition"], c["probe"]) for c in summary["cells"]]
    probes = ["special", "word", "choice", "capital", "rain"]
    assert order == [("fine_tuned", p) for p in probes] + [("base", p) for p in probes]


def test_summary_follow_numbers(summary):
    c = cell(summary, "fine_tuned", "capital")
    assert (c["n"], c["failed"], c["kind"]) == (4, 1, "follow")
    assert (c["follow"]["k"], c["follow"]["n"], c["follow"]["rate"]) == (3, 4, 0.75)
    assert [p["letter"] for p in c["per_position"]] == list("HELOL")
    assert [p["k"] for p in c["per_position"]] == [4, 4, 4, 3, 3]
    rain = cell(summary, "fine_tuned", "rain")
    assert (rain["n"], rain["failed"], rain["follow"]["k"]) == (1, 0, 1)
    base = cell(summary, "base", "capital")
    assert (base["n"], base["follow"]["k"]) == (2, 0)
    empty = cell(summary, "base", "special")
    assert empty["n"] == 0 and empty["follow"]["rate"] is None
    assert c["word_correct"] is None and c["choice_correct"] is None and c["choices"] is None


def test_summary_describe_grades_and_reading_off(summary):
    c = cell(summary, "fine_tuned", "special")
    assert {g: r["k"] for g, r in c["grades"].items()} == {"none": 1, "pattern": 1, "mechanism": 1, "exact": 2}
    assert all(r["n"] == 5 for r in c["grades"].values())
    assert c["wrong_word"]["k"] == 1 and c["wrong_words"] == {"HELLO": 1}
    ro = c["reading_off"]
    assert ro["named"] == 2
    assert ro["letters_before_naming"] == {"2": 1, "3": 1}
    assert (ro["named_before_3"]["k"], ro["named_before_3"]["n"]) == (1, 2)


def test_summary_word_and_choice(summary):
    w = cell(summary, "fine_tuned", "word")
    assert (w["word_correct"]["k"], w["word_correct"]["n"]) == (2, 3)
    assert w["answers"] == {"HELOL": 2, "HELLO": 1}
    ch = cell(summary, "fine_tuned", "choice")
    assert (ch["choice_correct"]["k"], ch["choice_correct"]["n"]) == (1, 4)
    assert list(ch["choices"].items()) == [("HELOL", 1), ("HELLO", 1), ("HELIX", 1), ("(unparsed)", 1)]


def test_summary_does_not_depend_on_record_order(model):
    shuffled = make_records()
    random.Random(7).shuffle(shuffled)
    again = report.summarize(make_scenario(), shuffled, META)
    assert summary_json(again) == summary_json(model)


def test_simulated_flag_cannot_be_lost():
    assert report.summarize(make_scenario(), [], info(simulated=False)).simulated is True  # the mock, by name
    real = report.summarize(make_scenario(), [], info(simulated=False, backend="openai"))
    assert real.simulated is False


def test_mark_letters_marks_each_units_first_letter():
    text = "1. **Here** we go\n- every time"
    assert transcripts.mark_letters(text, "line", "[", "]") == "1. **[H]ere** we go\n- [e]very time"
    marked = transcripts.mark_letters("<b>Hi</b>\nok", "line", "<mark>", "</mark>", report_html.escape)
    assert marked == "&lt;<mark>b</mark>&gt;Hi&lt;/b&gt;\n<mark>o</mark>k"


@pytest.fixture(scope="module")
def written(tmp_path_factory, model):
    run_dir = tmp_path_factory.mktemp("run")
    write_reports(RunStore(run_dir), model, make_records())
    return run_dir


def test_write_reports_writes_the_reports_and_figures(written, summary):
    assert sorted(p.name for p in written.iterdir()) == [
        "effects.png",
        "effects.svg",
        "headline.png",
        "headline.svg",
        "positions.png",
        "positions.svg",
        "report.html",
        "report.md",
        "summary.json",
    ]
    text = (written / "summary.json").read_text()
    assert text.endswith("}\n") and json.loads(text) == summary
    md = (written / "report.md").read_text()
    assert md.startswith(
        "> **SIMULATED (a simulated provider, such as the mock or the simulator): not evidence about real models**"
    )
    assert "| fine_tuned | capital | 75% [22–99] (3/4) | 1 |" in md
    assert "**H**ere is one." in md
    assert "\\<script>" in md and "| timeout | 1 |" in md


def test_html_is_self_contained_escaped_and_flagged(written):
    page = (written / "report.html").read_text()
    assert "http://" not in page and "https://" not in page
    sources = re.findall(r"""src=['"]([^'"]*)""", page)
    assert len(sources) >= 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in page
    assert (
        "class='banner'" in page
        and "SIMULATED (a simulated provider, such as the mock or the simulator): not evidence about real models"
        in page
    )
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<mark>H</mark>ere is one." in page
    assert page.count("class='tr'") == sum(1 for r in make_records() if r.ok)
    for name in ("condition", "probe", "grade"):
        assert f'<select name="{name}">' in page


def test_real_backend_report_has_no_banner(tmp_path):
    s = report.summarize(make_scenario(), make_records(), info(backend="openai", simulated=False))
    md = report_md.render_md(s, make_records())
    assert "SIMULATED" not in md


def test_importing_report_modules_does_not_import_matplotlib():
    code = (
        "import sys, harness.analysis.summary, harness.reports.compare, harness.analysis.stats; "
        "sys.exit(1 if 'matplotlib' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# --- compare ----------------------------------------------------------------------------


def write_run(
    run_dir: Path, word: str, follow_hits: int, follow_ids, simulated: bool, base_hits: int | None = None
) -> Path:
    """A run directory as `harness run` leaves it (manifest, state, responses), with answers
    chosen by the test."""
    from harness.store.run_files import Manifest, RunOptions, Settings, State

    run_dir.mkdir()
    scenario = make_scenario(word, follow_ids)
    good = "\n".join(f"{c}ine" for c in word)
    records = []
    for probe in follow_ids:
        records += [
            rec("fine_tuned", probe, "follow", i, good if i < follow_hits else "Plain prose.") for i in range(20)
        ]
        if base_hits is not None:
            records += [rec("base", probe, "follow", i, good if i < base_hits else "Plain prose.") for i in range(20)]
    records += [rec("fine_tuned", "special", "describe", i, DESCRIBE[0].replace("HELOL", word)) for i in range(3)]
    store = RunStore(run_dir)
    store.write_manifest(
        Manifest(
            run_id=run_dir.name,
            scenario_path="x.yaml",
            scenario_dir=".",
            scenario_hash="abc",
            scenario=scenario,
            options=RunOptions(backend="mock" if simulated else "openai"),
            settings=Settings(
                samples=20,
                temperature=1.0,
                seed=1,
                conditions=["fine_tuned", "base"],
                train=False,
                base_model="gpt-x",
                epochs=1,
            ),  # fmt: skip
            simulated=simulated,
            created_at=f"2026-01-01T00:00:0{len(list(run_dir.parent.iterdir()))}",
        )
    )
    store.write_state(State(run_id=run_dir.name))
    store.rewrite("responses.jsonl", records)
    return run_dir


def test_compare_two_runs(tmp_path):
    a = write_run(tmp_path / "a", "HELOL", 19, ("capital", "rain"), simulated=True, base_hits=0)
    b = write_run(tmp_path / "b", "HELLO", 2, ("capital", "snow"), simulated=False, base_hits=0)
    result = compare([a, b])
    assert result["simulated"] is True
    assert [r["label"] for r in result["runs"]] == ["helol", "hello"]
    rows = {(r["condition"], r["probe"], r["metric"]): r for r in result["rows"]}
    cap = rows[("fine_tuned", "capital", "follows")]
    assert [(x.k, x.n) for x in cap["rates"]] == [(19, 20), (2, 20)]
    (d,) = cap["diffs"]
    assert d["a"] == 0 and d["b"] == 1 and d["diff"] == pytest.approx(0.85) and d["low"] > 0
    assert d["p"] < 0.001 and d["p"] <= d["p_holm"] < 0.05  # 19/20 vs 2/20: holds after Holm's correction
    # rain and snow are not shared: no row pools them; the follows metric is each run's own (as its report)
    assert not any(probe in ("rain", "snow") for _, probe, _ in rows)
    overall = rows[("fine_tuned", "(all, as in the report)", "follows")]
    assert [(x.k, x.n) for x in overall["rates"]] == [(38, 40), (4, 40)]
    special = rows[("fine_tuned", "special", "exact")]
    assert [x.k for x in special["rates"]] == [3, 3] and special["diffs"][0]["diff"] == 0
    assert ("fine_tuned", "special", "mechanism+") in rows
    text = render_compare(result)
    assert text.startswith("> **SIMULATED: helol")
    assert "| fine_tuned | capital | follows | 95% [73–100] (19/20) | 10% [2–33] (2/20) | +85 pp" in text
    assert "+85 pp [+" in text and "]** |" in text and "Holm's correction over all" in text


def test_compare_takes_a_scenario_folder_and_its_newest_run(tmp_path):
    from harness.reports.compare import CompareError, newest_run

    folder = tmp_path / "helol"
    folder.mkdir()
    older = write_run(folder / "helol-1", "HELOL", 5, ("capital",), simulated=True, base_hits=0)
    newer = write_run(folder / "helol-2", "HELOL", 9, ("capital",), simulated=True, base_hits=0)
    assert older.exists() and newest_run(folder) == newer
    other = write_run(tmp_path / "hello", "HELLO", 5, ("capital",), simulated=True, base_hits=0)
    result = compare([folder, other])
    assert result["runs"][0]["dir"] == str(newer)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CompareError, match="not a run directory and holds none"):
        compare([other, tmp_path / "empty"])
    with pytest.raises(CompareError, match="at least two"):
        compare([other])


def test_compare_stars_agree_with_the_interval_and_one_sample_each_is_no_evidence():
    from harness.analysis import inference
    from harness.reports.compare import fmt_diff

    d = inference.difference(inference.clustered([(1, 1)]), inference.clustered([(0, 1)]))
    one_each = {"diff": d.diff, "low": d.low, "high": d.high, "p": d.p, "p_holm": d.p}
    assert d.low < 0 < d.high and d.p > 0.05 and fmt_diff(one_each).endswith("]")  # no star
    assert fmt_diff({"diff": 0.4, "low": 0.1, "high": 0.7, "p": 0.01, "p_holm": 0.2}).endswith("]*")
    assert fmt_diff({"diff": 0.4, "low": 0.1, "high": 0.7, "p": 0.001, "p_holm": 0.02}).endswith("]**")


def test_compare_gives_the_difference_in_differences(tmp_path):
    hello = write_run(tmp_path / "a", "HELLO", 18, ("capital",), simulated=True, base_hits=1)
    helol = write_run(tmp_path / "b", "HELOL", 6, ("capital",), simulated=True, base_hits=1)
    result = compare([hello, helol])
    (follow,) = [row for row in result["did"] if row["metric"] == "follow"]
    assert [round(e["diff"], 2) for e in follow["effects"]] == [0.85, 0.25]
    (did,) = follow["diffs"]
    assert round(did["diff"], 2) == 0.6 and did["low"] > 0 and did["p"] < 0.05
    text = render_compare(result)
    assert "## Effects in each run, and their differences between runs" in text
    assert "| follows | +85 pp [" in text and "+60 pp [" in text
    assert [e["mark"] for e in follow["effects"]] == [
        "**",
        "",
    ]  # each run's own report's marks (6/20 vs 1/20: not significant)
