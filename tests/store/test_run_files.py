"""Run files are read through their models: a damaged or hand-edited file is exit 2 with one
line naming the file (and line) and the field, never a traceback."""

import json

import pytest

from tests.helpers import ROOT, invoke


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--samples", "1", "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def edit_json(path, change):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1, result.output
    return result.output


def test_a_record_without_condition(run_copy):
    lines = (run_copy / "responses.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    del first["condition"]
    (run_copy / "responses.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    for command in ("report", "status", "resume"):
        assert "responses.jsonl:1: condition: required field is missing" in one_error_line(invoke(command, run_copy))


@pytest.mark.parametrize(
    "state, message",
    [
        ([], "state.json: (top level): expected a JSON object, got a list"),
        ({"run_id": "x", "steps": "x"}, "state.json: steps: expected a JSON object, got a string"),
        ({"run_id": "x", "status": "dancing"}, "state.json: status: Input should be"),
    ],
)
def test_a_damaged_state(run_copy, state, message):
    (run_copy / "state.json").write_text(json.dumps(state))
    for command in ("status", "resume", "report", "cancel"):
        assert message in one_error_line(invoke(command, run_copy))


def test_a_manifest_with_a_bad_number(run_copy):
    edit_json(run_copy / "manifest.json", lambda m: {**m, "settings": {**m["settings"], "samples": "abc"}})
    assert "manifest.json: settings.samples: Input should be a valid integer" in one_error_line(
        invoke("status", run_copy)
    )


def test_a_state_of_another_run(run_copy):
    edit_json(run_copy / "state.json", lambda s: {**s, "run_id": "someone-else"})
    assert "state.json: run_id: 'someone-else' is not this run's" in one_error_line(invoke("status", run_copy))


def test_an_empty_manifest_for_compare(finished, run_copy):
    """compare re-scores each run from its files (a damaged summary.json does not matter; a
    damaged manifest is one clear error)."""
    (run_copy / "summary.json").write_text("{}")
    assert invoke("compare", finished, run_copy).exit_code == 0
    (run_copy / "manifest.json").write_text("{}")
    assert "manifest.json:" in one_error_line(invoke("compare", finished, run_copy))


def test_an_unknown_field_is_a_typo_not_ignored(run_copy):
    edit_json(run_copy / "state.json", lambda s: {**s, "fine_tuned_modle": "x"})
    assert "state.json: fine_tuned_modle: unknown field" in one_error_line(invoke("status", run_copy))


def test_a_run_written_by_this_version_still_loads(finished):
    result = invoke("report", finished)
    assert result.exit_code == 0, result.output
    assert invoke("status", finished).exit_code == 0


def test_report_says_when_the_scoring_rules_changed_and_what_moved(run_copy):
    """A run scored by other rules: `harness report` re-scores it, names both versions and
    the headline numbers that changed."""
    summary = json.loads((run_copy / "summary.json").read_text())
    assert summary["scorer_version"] == scoring_version()
    effect = summary["effects"][0]
    effect["a_rate"]["k"] = max(0, effect["a_rate"]["k"] - 1)
    summary["scorer_version"] = "1"
    (run_copy / "summary.json").write_text(json.dumps(summary))
    result = invoke("report", run_copy)
    assert result.exit_code == 0, result.output
    assert f"re-scored with scorer {scoring_version()}; the previous summary used scorer 1" in result.output
    assert f"  {effect['metric']} {effect['a']} - {effect['b']}: " in result.output
    again = invoke("report", run_copy)
    assert "re-scored" not in again.output  # same rules now: nothing to say
    assert f"| scoring rules | scorer {scoring_version()}" in (run_copy / "report.md").read_text()


def scoring_version() -> str:
    from harness.domain.scoring import SCORER_VERSION

    return SCORER_VERSION
