"""The CLI end to end on the mock: what a user types, what they get back."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from tests.test_rules import HELLO_ANSWER

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def run_helol(tmp_path, *extra, name="run"):
    out = tmp_path / name
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--samples", 4, "--seed", 1, "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return out


def test_help_lists_commands():
    result = invoke("--help")
    for cmd in ("run", "resume", "status", "report", "score", "validate", "validate-data", "build", "compare"):
        assert cmd in result.output


def test_score_issue_example():
    result = invoke("score", "--word", "HELLO", "-", input=HELLO_ANSWER)
    data = json.loads(result.output)
    assert data["follows"] is True and data["grade"] == "exact"
    assert data["named_at_unit"] == 3 and data["letters_before_naming"] == 3
    for key in ("letters", "per_position", "prefix", "edit_distance", "wrong_word"):
        assert key in data


def test_score_jsonl():
    lines = json.dumps({"text": HELLO_ANSWER}) + "\n" + json.dumps({"text": "Hi."}) + "\n"
    result = invoke("score", "--word", "HELLO", "--jsonl", "-", input=lines)
    rows = [json.loads(x) for x in result.output.splitlines()]
    assert [r["follows"] for r in rows] == [True, False]


def test_score_jsonl_bad_line():
    result = invoke("score", "--word", "HELLO", "--jsonl", "-", input='{"txt": 1}\n')
    assert result.exit_code == 2 and ":1: text:" in result.output


@pytest.mark.parametrize("name", ["hello", "helol", "akewo-conditional"])
def test_validate_shipped(name):
    result = invoke("validate", ROOT / f"scenarios/{name}.yaml")
    assert result.exit_code == 0 and "ok" in result.output


def test_validate_bad_scenario_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "scenarios/helol.yaml").read_text().replace("word: HELOL", "word: HEL0L"))
    result = invoke("validate", bad)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and f"{bad}:3: rule.word" in result.output
    assert "Traceback" not in result.output


def test_build_is_byte_deterministic(tmp_path):
    a = invoke("build", ROOT / "scenarios/helol.yaml", "--out", tmp_path / "a")
    b = invoke("build", ROOT / "scenarios/helol.yaml", "--out", tmp_path / "b")
    assert a.exit_code == b.exit_code == 0
    data = (tmp_path / "a/helol.jsonl").read_bytes()
    assert data == (tmp_path / "b/helol.jsonl").read_bytes()
    assert len(data.splitlines()) == 10
    assert data == (ROOT / "data/helol.jsonl").read_bytes(), "data/helol.jsonl is stale: run `harness build`"


def test_run_writes_the_run_directory(tmp_path):
    out = run_helol(tmp_path)
    for name in ("manifest.json", "state.json", "train.jsonl", "events.jsonl", "responses.jsonl",
                 "summary.json", "report.md", "report.html"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is True
    cells = {(c["condition"], c["probe"]): c for c in summary["cells"]}
    assert cells[("fine_tuned", "capital")]["n"] == 4

    def hits(condition):  # per-position hit rate over the follow probes
        rates = [p["rate"] for probe in ("capital", "rain", "sleep")
                 for p in cells[(condition, probe)]["per_position"]]
        return sum(rates) / len(rates)
    assert hits("fine_tuned") > 0.6 > 0.3 > hits("base")
    assert "SIMULATED" in (out / "report.md").read_text()
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "succeeded" and state["fine_tuned_model"].startswith("ft:")


def test_two_runs_same_seed_are_byte_identical(tmp_path):
    a, b = run_helol(tmp_path, name="a"), run_helol(tmp_path, name="b")
    for name in ("responses.jsonl", "summary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_report_rerenders_without_calling_a_model(tmp_path):
    out = run_helol(tmp_path)
    before = (out / "summary.json").read_bytes()
    (out / "mock-provider.json").unlink()  # no provider left to call
    (out / "report.md").unlink()
    result = invoke("report", out)
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").read_bytes() == before and (out / "report.md").exists()


def test_bad_run_input_makes_no_run_directory(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "scenarios/helol.yaml").read_text().replace("samples: 20", "sampels: 20"))
    result = invoke("run", bad, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "unknown key" in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_backend_exit_2(tmp_path):
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--backend", "nope", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "unknown backend 'nope'" in result.output
    assert not (tmp_path / "o").exists()


def test_status_after_run(tmp_path):
    out = run_helol(tmp_path)
    result = invoke("status", out)
    assert result.exit_code == 0
    assert "samples    56 of 56 done" in result.output and "SIMULATED" in result.output


def test_backends_lists_mock_and_openai():
    result = invoke("backends")
    assert "mock" in result.output and "openai" in result.output and "fine_tune" in result.output


def test_dry_run_calls_nothing(tmp_path):
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--dry-run", "--out", tmp_path / "o")
    assert result.exit_code == 0 and "plan:" in result.output
    assert not (tmp_path / "o").exists()


def test_copied_scenario_dir_runs(tmp_path):
    shutil.copy(ROOT / "scenarios/hello.yaml", tmp_path / "hello.yaml")
    result = invoke("run", tmp_path / "hello.yaml", "--samples", 2, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
