"""Errors that no retry can fix end the run at once (no retry: one request, not seven), with
one line that names the cause and says what to do, and no traceback: a daily cap on
fine-tuning jobs (the run stays resumable: "resume tomorrow"), an account without credit,
a wrong API key (also in the middle of probing), a base model OpenAI does not fine-tune, and
a job that fails on an invalid training file. Each against the simulator answering as OpenAI
does (the bodies are the recorded ones: tests/backends/test_openai_recorded.py)."""

from __future__ import annotations

import json

import pytest

from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
ONE_JOB = ["--samples", "1", "--seed", "5", "--poll-interval", "0", "--backend", "openai"]
ONE_JOB += ["--replicates", "1", "--conditions", "fine_tuned,base"]

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-retried")


def one_error_line(output: str) -> str:
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    return errors[0]


def run(sim: Simulator, out, *extra):
    return invoke("run", SCENARIO, *ONE_JOB, "--api-base", sim.url, "--out", out, *extra)


@pytest.mark.parametrize(
    "faults,says",
    [
        (Faults(insufficient_quota=True), ["no quota left", "insufficient_quota", "add credit", "harness resume"]),
        (Faults(invalid_api_key=True), ["refused the API key", "invalid_api_key", "set OPENAI_API_KEY"]),
    ],
    ids=["insufficient_quota", "invalid_api_key"],
)
def test_account_errors_stop_at_the_first_request(faults, says, tmp_path):
    out = tmp_path / "run"
    with Simulator(port=0, faults=faults) as sim:
        result = run(sim, out)
        stats = sim.stats()
    assert result.exit_code == 1
    line = one_error_line(result.output)
    assert all(s in line for s in says), line
    assert stats["requests"] == 1 and stats["uploads"] == 0  # the upload was refused, never retried
    assert RunStore(out).read_state().status.value == "failed"


def test_a_wrong_key_in_the_middle_of_probing_stops_every_call(tmp_path):
    out = tmp_path / "run"
    with Simulator(port=0, faults=Faults(invalid_api_key=True)) as sim:
        result = run(sim, out, "--model", "gpt-4o-mini-2024-07-18", "--samples", "20", "--concurrency", "4")
        stats = sim.stats()
    assert result.exit_code == 1 and "set OPENAI_API_KEY" in one_error_line(result.output)
    assert stats["requests"] <= 4  # the calls already in flight, never the 160 samples, never a retry
    records = (out / "responses.jsonl").read_text().splitlines() if (out / "responses.jsonl").exists() else []
    assert records == []  # no sample is recorded as failed: a resume with a good key asks them all


def test_daily_cap_stops_resumable_then_resume_tomorrow_finishes_without_a_second_job(tmp_path):
    out = tmp_path / "run"
    six = ["--replicates", "3", "--conditions", "fine_tuned,base,sham"]
    with Simulator(port=0, faults=Faults(daily_job_limit=2, max_active_jobs=0)) as sim:
        result = run(sim, out, *six)
        line = one_error_line(result.output)
        state = RunStore(out).read_state()
        assert result.exit_code == 1 and sim.stats()["jobs_created"] == 2
        assert "daily_rate_limit_exceeded" in line and "resume tomorrow" in line and f"harness resume {out}" in line
        assert state.status.value == "incomplete"
        assert "resume tomorrow" in invoke("status", out).output
        sim.set_faults(Faults(max_active_jobs=0))  # the next day: the cap is lifted
        again = invoke("resume", out)
        stats = sim.stats()
    assert again.exit_code == 0, again.output
    assert stats["jobs_created"] == 6  # the two made before, and four more: none twice
    assert len({j.job_id for j in RunStore(out).read_state().jobs}) == 6


def test_a_base_model_openai_does_not_fine_tune(tmp_path):
    out = tmp_path / "run"
    with Simulator(port=0) as sim:
        result = run(sim, out, "--base-model", "gpt-nonexistent", "--allow-unpriced")
        stats = sim.stats()
    assert result.exit_code == 1
    line = one_error_line(result.output)
    assert "model_not_available" in line and "Model gpt-nonexistent is not available for fine-tuning" in line
    assert "--base-model" in line and stats["jobs_created"] == 0 and stats["responses_4xx"] == 1


def test_a_job_that_fails_on_an_invalid_training_file(tmp_path):
    out = tmp_path / "run"
    with Simulator(port=0, faults=Faults(invalid_training_file=True)) as sim:
        result = run(sim, out)
    assert result.exit_code == 1
    line = one_error_line(result.output)
    assert "ended failed: invalid_training_file: The job failed due to an invalid training file" in line
    assert "harness validate-data" in line
    events = [json.loads(x)["message"] for x in (out / "events.jsonl").read_text().splitlines()]
    assert any("invalid training file" in e for e in events)
