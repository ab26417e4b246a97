"""The CLI end to end on the mock: what a user types, what they get back."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import main
from tests.domain.test_rules import HELLO_ANSWER
from tests.helpers import ROOT


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
    for name in (
        "manifest.json",
        "state.json",
        "train.jsonl",
        "events.jsonl",
        "responses.jsonl",
        "summary.json",
        "report.md",
        "report.html",
    ):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is True
    cells = {(c["condition"], c["probe"]): c for c in summary["cells"]}
    assert cells[("fine_tuned", "capital")]["n"] == 4 * 3  # 4 samples from each of the scenario's 3 fine-tunes

    def hits(condition):  # per-position hit rate over the follow probes
        rates = [p["rate"] for probe in ("capital", "rain", "sleep") for p in cells[(condition, probe)]["per_position"]]
        return sum(rates) / len(rates)

    assert hits("fine_tuned") > 0.6 > 0.3 > hits("base")
    assert "SIMULATED" in (out / "report.md").read_text()
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "succeeded" and state["jobs"][0]["fine_tuned_model"].startswith("ft:")


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
    bad.write_text((ROOT / "scenarios/helol.yaml").read_text().replace("samples: 50", "sampels: 50"))
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
    # 4 samples x 8 probes x 7 models (3 fine-tunes, 3 shams, the base model)
    assert "samples    224 of 224 done" in result.output and "SIMULATED" in result.output


def test_backends_lists_mock_and_openai():
    result = invoke("backends")
    assert "mock" in result.output and "openai" in result.output and "fine_tune" in result.output


def test_dry_run_calls_nothing(tmp_path):
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--dry-run", "--out", tmp_path / "o")
    assert result.exit_code == 0 and "plan:" in result.output
    assert not (tmp_path / "o").exists() and "would be refused" not in result.output


def test_dry_run_over_the_cap_says_the_real_run_would_be_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dry")
    result = invoke(
        "run",
        ROOT / "scenarios/helol.yaml",
        "--backend",
        "openai",
        "--dry-run",
        "--max-cost",
        "0.001",
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 0 and "estimated total $" in result.output
    assert "warning: without --dry-run this run would be refused" in result.output
    assert "exceeds --max-cost $0.001" in result.output and not (tmp_path / "o").exists()


def test_copied_scenario_dir_runs(tmp_path):
    shutil.copy(ROOT / "scenarios/hello.yaml", tmp_path / "hello.yaml")
    result = invoke("run", tmp_path / "hello.yaml", "--samples", 2, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output


def test_model_fine_tuned_from_another_base_is_refused(tmp_path):
    result = invoke(
        "run", ROOT / "scenarios/helol.yaml", "--model", "ft:gpt-4o-2024-08-06:org:helol:abc", "--out", tmp_path / "o"
    )
    assert result.exit_code == 2
    assert "gpt-4o-2024-08-06" in result.output and "gpt-4o-mini-2024-07-18" in result.output
    assert not (tmp_path / "o").exists()


def test_model_without_a_base_in_its_id_warns_and_keeps_the_scenario_base(tmp_path):
    result = invoke(
        "run",
        ROOT / "scenarios/helol.yaml",
        "--model",
        "my-model",
        "--conditions",
        "base",
        "--samples",
        1,
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 0, result.output
    assert "warning: --model my-model" in result.output
    summary = json.loads((tmp_path / "o/summary.json").read_text())
    assert summary["models"]["base"] == "gpt-4o-mini-2024-07-18"


def test_mistyped_model_fails_the_run_after_writing_the_report(tmp_path):
    """A 404 (not retryable) for every fine_tuned sample: the run failed, exit 1, not a
    success with a table of misses."""
    out = tmp_path / "o"
    result = invoke(
        "run",
        ROOT / "scenarios/helol.yaml",
        "--model",
        "ft:gpt-4o-mini-2024-07-18:org:typo:x",
        "--samples",
        1,
        "--out",
        out,
    )
    assert result.exit_code == 1 and "run failed" in result.output, result.output
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "failed"
    assert "not found" in state["error"] and "8 failed" in state["error"]
    assert (out / "report.md").exists() and (out / "summary.json").exists()
    assert "harness resume" not in result.output  # asking again cannot help
    # The reports this run wrote say how it ended (not only a later `harness report`).
    assert json.loads((out / "summary.json").read_text())["run_status"] == f"failed: {state['error']}"
    assert "| run status | failed: run failed: every sample of fine_tuned failed" in (out / "report.md").read_text()
    assert result.output.count("run failed") == 1  # the summary does not repeat the error below it


def test_a_run_status_is_printed_as_text_not_markup(capsys):
    from harness.cli import views
    from harness.store.summary import Summary

    summary = Summary.model_validate_json((ROOT / "tests/data/replay/helol.summary.json").read_text())
    summary.run_status = "failed: HTTP 400: file [/tmp/x] is missing [bold]"
    views.print_summary(summary, Path("d"))
    assert "run failed: HTTP 400: file [/tmp/x] is missing [bold]" in capsys.readouterr().out


@pytest.fixture
def finished(tmp_path):
    """A small finished run (one sample per probe) for a test to damage."""
    return run_helol(tmp_path, "--samples", 1)


def _break_manifest(out, value):
    (out / "manifest.json").write_text(json.dumps(value))


def test_malformed_manifest_is_a_clear_error(finished):
    out = finished
    manifest = json.loads((out / "manifest.json").read_text())
    bad_scenario = dict(manifest, scenario=dict(manifest["scenario"], probes=[]))
    for value, what in [
        ([1, 2], "(top level): expected a JSON object, got a list"),
        ({"run_id": "x"}, "scenario_path: required field is missing (and 7 more)"),
        (bad_scenario, "scenario.probes: List should have at least 1 item"),
        (dict(manifest, options=[]), "options: expected a JSON object, got a list"),
        (
            dict(manifest, settings=dict(manifest["settings"], samples="abc")),
            "settings.samples: Input should be a valid integer",
        ),
    ]:
        _break_manifest(out, value)
        for command in ("status", "resume", "report", "cancel"):
            result = invoke(command, out)
            assert result.exit_code == 2, (command, result.output)
            assert result.output.count("\n") == 1 and "Traceback" not in result.output
            assert "manifest.json: " + what in result.output, result.output


def test_status_says_when_some_prices_are_unknown(finished):
    out = finished
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(dict(manifest, simulated=False)))
    state = json.loads((out / "state.json").read_text())
    (out / "state.json").write_text(json.dumps(dict(state, simulated=False)))
    result = invoke("status", out)
    assert result.exit_code == 0 and "some prices unknown" not in result.output
    lines = (out / "responses.jsonl").read_text().splitlines()
    first = dict(json.loads(lines[0]), model="acme-7b")
    (out / "responses.jsonl").write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    result = invoke("status", out)
    assert "some prices unknown: acme-7b" in result.output, result.output


def test_replay_without_out_gets_a_fresh_directory_and_keeps_the_recorded_run_id(tmp_path, monkeypatch):
    """Replaying the same cassette twice without --out must not collide on the recorded
    run id. (The pipeline itself is stubbed: the replay mechanics are tested in test_replay.)"""
    import contextlib

    from harness.running import session as runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    cassette = tmp_path / "c.yaml"
    cassette.write_text("interactions: []\n")
    (tmp_path / "c.meta.yaml").write_text("recorded_against: simulator\nrun_id: helol-recorded\nsimulated: true\n")
    dirs = []
    monkeypatch.setattr(runner, "_cassette", lambda record, replay, backend_cls: contextlib.nullcontext())
    from harness.cli import views

    class Stub:
        def __init__(self, run, backend, ui, sleep):
            self.run = run

        def execute(self):
            dirs.append(self.run.store.dir)
            return None

    monkeypatch.setattr(runner, "Pipeline", Stub)
    monkeypatch.setattr(views, "print_summary", lambda summary, run_dir: None)
    for _ in range(2):
        result = invoke("run", ROOT / "scenarios/helol.yaml", "--backend", "openai", "--replay", cassette)
        assert result.exit_code == 0, result.output
    assert len(set(dirs)) == 2 and all(d.parent == Path("runs/helol") for d in dirs)
    for d in dirs:
        assert json.loads((tmp_path / d / "state.json").read_text())["run_id"] == "helol-recorded"

    (tmp_path / "c.meta.yaml").write_text("recorded_against: [unclosed\n")
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--backend", "openai", "--replay", cassette)
    assert result.exit_code == 2 and "c.meta.yaml: not a cassette sidecar" in result.output, result.output
    assert "Traceback" not in result.output


def test_recorded_against_comes_from_what_the_backend_saw():
    from types import SimpleNamespace

    from harness.running.recording import recorded_against

    real = SimpleNamespace(simulated=False, api_base="http://127.0.0.1:9/v1")  # a proxy on loopback, say
    assert recorded_against(real, "http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"
    sim = SimpleNamespace(simulated=True, api_base="https://sim.example/v1")
    assert recorded_against(sim, None) == "simulator"
    assert recorded_against(SimpleNamespace(simulated=False), None) == "https://api.openai.com/v1"


def test_retry_notices_are_throttled():
    from harness.cli.console import RetryNotice

    said, now = [], [0.0]
    notice = RetryNotice(said.append, every=10.0, clock=lambda: now[0])
    for t in (0.0, 1.0, 2.0, 12.5, 13.0):
        now[0] = t
        notice(f"HTTP 500 at {t}")
    assert said == ["retrying: HTTP 500 at 0.0", "retrying: HTTP 500 at 12.5 [3 retries since the last notice]"]
