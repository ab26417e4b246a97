"""What a newcomer meets in the first hour, each fixed and pinned: a base URL without /v1, a
scenario `validate` passed that `run` refused, a run against `harness simulate` asleep most
of its minute, a Ctrl-C that named no directory, a finished run whose resume asked for a key,
and `compare` labels hundreds of characters long."""

import json
import time
from types import SimpleNamespace

import pytest

from backends.simulator.server import Simulator
from harness.running import pipeline, session
from tests.helpers import ROOT, SCENARIOS, invoke

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
HELOL = (SCENARIOS / "helol.yaml").read_text()


def test_an_api_base_without_v1_says_how_to_fix_it_before_any_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-first-hour")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", SCENARIOS / "helol.yaml", "--backend", "openai", "--api-base", "http://127.0.0.1:8765")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "error: --api-base http://127.0.0.1:8765 has no path, but OpenAI-compatible "
        "APIs (and `harness simulate`) are served under /v1: use --api-base "
        "http://127.0.0.1:8765/v1"
    )
    assert list(tmp_path.iterdir()) == []


def six_examples(tmp_path):
    start, end = HELOL.index("examples:"), HELOL.index("\nfine_tune:")
    parts = HELOL[start:end].split("\n  - question:")
    path = tmp_path / "six.yaml"
    path.write_text(HELOL[:start] + "\n  - question:".join(parts[:7]) + HELOL[end:])
    return path


@pytest.mark.parametrize("backend", ["mock", "openai"])
def test_validate_applies_the_backends_minimum_as_run_does(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-first-hour")
    path = six_examples(tmp_path)
    expected = (
        f"error: {path}: examples: backend {backend!r} needs at least 10 training examples to "
        "fine-tune, the scenario has 6"
    )
    checked = invoke("validate", path, "--backend", backend)
    ran = invoke("run", path, "--backend", backend, "--out", tmp_path / "o")
    assert checked.exit_code == ran.exit_code == 2
    assert checked.output.strip() == ran.output.strip() == expected
    base_only = tmp_path / "base.yaml"  # nothing to fine-tune: six examples are fine
    base_only.write_text(path.read_text().replace("conditions: [fine_tuned, base, sham]", "conditions: [base]"))
    assert invoke("validate", base_only, "--backend", backend).exit_code == 0


def test_against_the_simulator_polls_do_not_wait_ten_seconds(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-first-hour")
    slept: list[float] = []
    monkeypatch.setattr(session, "_sleep", slept.append)
    with Simulator() as sim:
        result = invoke(
            "run",
            SCENARIOS / "helol.yaml",
            "--backend",
            "openai",
            "--api-base",
            sim.url,
            "--samples",
            "1",
            "--conditions",
            "fine_tuned",
            "--out",
            tmp_path / "run",
        )
    assert result.exit_code == 0, result.output
    assert len(slept) >= 3 and max(slept) <= 0.2, slept  # was 10 s each: ~50 s of a 60 s run
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert manifest["options"]["poll_interval"] is None  # the backend decides, poll by poll


def test_ctrl_c_names_the_run_directory_to_resume(tmp_path, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.Pipeline, "probe", interrupted)
    out = tmp_path / "my run"
    result = invoke("run", SCENARIOS / "helol.yaml", "--samples", "1", "--out", out)
    assert result.exit_code == 1
    assert f"error: interrupted; `harness resume '{out}'` continues where this stopped" in result.output
    monkeypatch.undo()
    assert invoke("resume", out).exit_code == 0


def test_resuming_a_finished_openai_run_needs_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-first-hour")
    out = tmp_path / "run"
    with Simulator() as sim:
        assert (
            invoke(
                "run",
                SCENARIOS / "helol.yaml",
                "--backend",
                "openai",
                "--api-base",
                sim.url,
                "--samples",
                "1",
                "--out",
                out,
            ).exit_code
            == 0
        )
    before = (out / "summary.json").read_text()
    monkeypatch.delenv("OPENAI_API_KEY")
    (out / "report.md").unlink()  # killed before its reports were written, say
    result = invoke("resume", out)
    assert result.exit_code == 0, result.output
    assert (out / "report.md").exists() and (out / "summary.json").read_text() == before
    # A run with work left still needs its key, and says so.
    state = json.loads((out / "state.json").read_text())
    lines = (out / "responses.jsonl").read_text().splitlines()
    (out / "responses.jsonl").write_text("\n".join(lines[1:]) + "\n")
    (out / "state.json").write_text(json.dumps({**state, "status": "incomplete"}))
    again = invoke("resume", out)
    assert again.exit_code == 2 and "OPENAI_API_KEY" in again.output


def test_compare_labels_of_one_scenario_stay_short(tmp_path):
    from harness.reports.compare import _labels

    class Summary:
        scenario = "helol"

    long_dirs = [tmp_path / ("x" * 200) / f"helol-20261201-204353-{tail}" for tail in ("0eb8ac", "91f2d3")]
    labels = _labels([SimpleNamespace(summary=Summary(), dir=d) for d in long_dirs])
    assert labels == ["helol (0eb8ac)", "helol (91f2d3)"]
    same = [SimpleNamespace(summary=Summary(), dir=tmp_path / f"cell{i}" / "run") for i in range(3)]
    assert _labels(same) == ["helol #1", "helol #2", "helol #3"]


def test_compare_of_two_runs_of_one_scenario_is_readable(tmp_path):
    for name in ("a", "b"):
        assert (
            invoke("run", SCENARIOS / "helol.yaml", "--samples", "1", "--out", tmp_path / name / "run").exit_code == 0
        )
    result = invoke("compare", tmp_path / "a/run", tmp_path / "b/run")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("| condition"))
    assert "helol #1 − helol #2" in header and len(header) < 200


def test_a_dead_port_is_reported_in_a_users_words_at_once(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-first-hour")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    result = invoke(
        "run",
        ROOT / "scenarios/helol.yaml",
        "--backend",
        "openai",
        "--api-base",
        f"http://127.0.0.1:{port}/v1",
        "--samples",
        "1",
        "--out",
        tmp_path / "run",
    )
    assert result.exit_code == 1 and time.monotonic() - start < 15
    assert (
        f"uploading the training file: cannot reach http://127.0.0.1:{port}/v1 (connection refused); "
        "is the server running and the api base right?"
    ) in result.output
    assert "find_files" not in result.output and "upload_training_file" not in result.output
