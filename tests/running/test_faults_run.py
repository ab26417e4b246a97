"""Every simulator fault through a whole `harness run` (openai backend, simulator on loopback),
checked the way a user would: the run exits 0, every (condition, probe, sample) is answered
once, the provider saw one upload and one job, the summary equals a clean run with the same
seed, and the fault really happened (the simulator counted it, the backend retried).

Kept fast: one sample per probe, polls without sleep, Retry-After of 10 ms, backoff scaled
down (BACKOFF_BASE) where the simulator sends no Retry-After, and no charts in report.html
(matplotlib costs ~1 s a run; charts are tested in test_report)."""

import inspect
import json
import socket
import time
from pathlib import Path

import pytest

import backends.openai as openai_backend
import backends.retry as retry_policy
from backends.simulator.faults import Faults, Verdict
from backends.simulator.server import Simulator
from harness.reports import plots
from harness.running import session as runner
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
SAMPLES = 1
ARGS = [
    "--backend",
    "openai",
    "--samples",
    str(SAMPLES),
    "--seed",
    "11",
    "--poll-interval",
    "0",
    "--replicates",
    "1",
    "--conditions",
    "fine_tuned,base",
]
KEY = "sk-test-faults"
RETRY_AFTER = 0.01
DEFAULT_MAX_RETRIES = inspect.signature(openai_backend.OpenAIBackend).parameters["max_retries"].default

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def no_charts(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(plots, "grades_chart", lambda *a, **k: b"")


def run(sim: Simulator, out: Path, *extra):
    return invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out, *extra)


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "responses.jsonl").read_text().splitlines()]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def only_first(sim: Simulator, n: int) -> None:
    """Let the simulator's faults apply to its first n requests only, to aim one at the
    upload (request 1) or the job creation (request 2) and nowhere else."""
    gate = sim.app.gate
    decide = gate.decide
    gate.decide = lambda is_chat: decide(is_chat) if gate.in_scope < n else Verdict()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The uninterrupted run every faulty one must equal (its own simulator: a second job
    at the same simulator gets a differently named model)."""
    out = tmp_path_factory.mktemp("clean") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", KEY)
        no_charts(mp)
        with Simulator(port=0) as sim:
            result = run(sim, out)
            stats = sim.stats()
    assert result.exit_code == 0, result.output
    return {"summary": summary(out), "stats": stats}


@pytest.fixture
def backends_made(monkeypatch):
    """Every backend the CLI builds, to read its retry count afterwards; fast backoff."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    no_charts(monkeypatch)
    monkeypatch.setattr(retry_policy, "BACKOFF_BASE", 0.001)
    made = []
    real = runner.open_backend

    def open_backend(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(runner, "open_backend", open_backend)
    return made


@pytest.fixture
def waits(monkeypatch):
    """The Retry-After each backoff was computed from (None: none was sent)."""
    seen = []
    real = retry_policy.backoff_delay

    def backoff_delay(attempt, retry_after, token, seed=0):
        seen.append(retry_after)
        return real(attempt, retry_after, token, seed)

    monkeypatch.setattr(retry_policy, "backoff_delay", backoff_delay)
    return seen


def assert_complete_and_equal(out: Path, sim: Simulator, clean: dict) -> dict:
    keys = [(r["condition"], r["probe"], r["sample"]) for r in records(out)]
    expected = len(clean["summary"]["cells"]) * SAMPLES
    assert len(keys) == len(set(keys)) == expected
    assert {r["status"] for r in records(out)} == {"ok"}
    stats = sim.stats()
    assert (stats["uploads"], stats["jobs_created"]) == (1, 1)
    assert summary(out) == clean["summary"]
    assert json.loads((out / "state.json").read_text())["status"] == "succeeded"
    return stats


def faulty_run(faults: Faults, out: Path, clean: dict, first: int | None = None):
    """A whole run against a simulator with `faults` (aimed at its first `first` requests
    when given) that must still succeed complete and equal to the clean run."""
    with Simulator(port=0, faults=faults) as sim:
        if first:
            only_first(sim, first)
        result = run(sim, out)
        assert result.exit_code == 0, result.output
        return result, assert_complete_and_equal(out, sim, clean)


# (name, faults, aimed at the first n requests or None for the whole run)
RETRIED = [
    ("500 every 3rd request", Faults(error_500_every=3), None),
    ("500 on the job creation", Faults(error_500_every=2), 2),
    ("connection dropped every 3rd request", Faults(drop_every=3), None),
    ("connection dropped on the job creation", Faults(drop_every=2), 2),
]


@pytest.mark.parametrize("faults,window", [r[1:] for r in RETRIED], ids=[r[0] for r in RETRIED])
def test_retried_faults_leave_no_trace(faults, window, clean, backends_made, tmp_path):
    out = tmp_path / "run"
    result, stats = faulty_run(faults, out, clean, first=window)
    hit = stats["responses_500"] + stats["dropped"]
    assert hit >= 1 and backends_made[0].retries == hit
    assert "retrying: " in result.output and f"(retry 1 of {DEFAULT_MAX_RETRIES} in " in result.output


def test_429_burst_honours_retry_after(clean, backends_made, waits, tmp_path):
    out = tmp_path / "run"
    result, stats = faulty_run(Faults(burst_429=3, retry_after=RETRY_AFTER), out, clean)
    assert stats["responses_429"] == 3 and backends_made[0].retries == 3
    assert waits == [pytest.approx(RETRY_AFTER)] * 3  # the server's wait, not our backoff


def test_job_created_but_its_response_lost_is_found_not_recreated(clean, backends_made, tmp_path):
    out = tmp_path / "run"
    result, stats = faulty_run(Faults(drop_after_every=2), out, clean, first=2)
    assert stats["dropped"] == 1 and stats["job_lists"] == 1  # found by its run id


def test_answers_lost_after_the_work_are_asked_again_and_recorded_once(clean, backends_made, tmp_path):
    out = tmp_path / "run"
    result, stats = faulty_run(Faults(drop_after_every=5), out, clean)
    assert stats["dropped"] >= 3 and backends_made[0].retries >= stats["dropped"]
    # A chat the server answered but the client never heard is paid twice: unavoidable.
    assert stats["chat_completions"] > clean["stats"]["chat_completions"]


def test_upload_done_but_its_response_lost_is_not_uploaded_again(clean, backends_made, tmp_path):
    out = tmp_path / "run"
    _, stats = faulty_run(Faults(drop_after_every=1), out, clean, first=1)  # request 1: the upload
    assert stats["dropped"] == 1


def test_slow_responses(clean, backends_made, tmp_path):
    out = tmp_path / "run"
    result, stats = faulty_run(Faults(slow_every=4, slow_delay=0.05), out, clean)
    assert stats["slowed"] >= 5 and backends_made[0].retries == 0


def test_job_validating_for_a_while(clean, backends_made, tmp_path):
    out = tmp_path / "run"
    result, stats = faulty_run(Faults(validating_polls=3), out, clean)
    assert stats["job_polls"] == clean["stats"]["job_polls"] + 3
    assert ": validating_files" in result.output


def test_failed_job_stops_the_run_with_the_provider_message(backends_made, tmp_path):
    out = tmp_path / "run"
    with Simulator(port=0, faults=Faults(fail_jobs=True)) as sim:
        result = run(sim, out)
        stats = sim.stats()
    provider_says = "The job failed due to an internal error (simulated)."
    assert result.exit_code == 1 and provider_says in result.output
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "failed" and provider_says in state["error"]
    assert state["jobs"][0]["job_status"] == "failed" and not state["jobs"][0]["fine_tuned_model"]
    assert (stats["uploads"], stats["jobs_created"], stats["chat_requests"]) == (1, 1, 0)
    assert not (out / "responses.jsonl").exists()
    assert state["simulated"] is True  # saved when the simulator's job was first seen, not at the end
    reported = invoke("report", out)
    assert reported.exit_code == 0, reported.output
    md = (out / "report.md").read_text()
    assert md.startswith("> **SIMULATED") and "| run status | failed: fine-tuning job ftjob-" in md
    assert provider_says in md and "run failed: fine-tuning job" in reported.output
    assert "fine_tuned: none (no fine-tuned model)" in md


def test_sample_failing_after_all_retries_is_failed_not_a_miss_and_resume_asks_it_again(
    clean, backends_made, waits, tmp_path
):
    out = tmp_path / "run"
    # One lane: the first chat request meets every 429 of the burst and gives up.
    burst = Faults(burst_429=DEFAULT_MAX_RETRIES + 1, retry_after=RETRY_AFTER)
    with Simulator(port=0, faults=burst) as sim:
        result = run(sim, out, "--concurrency", "1")
        # Reports written, but the run is not a success: it ends incomplete, exit 1.
        assert result.exit_code == 1 and "harness resume" in result.output, result.output
        assert json.loads((out / "state.json").read_text())["status"] == "incomplete"
        assert (out / "report.md").exists()
        failed = [r for r in records(out) if r["status"] != "ok"]
        assert len(failed) == 1 and len(records(out)) == len(clean["summary"]["cells"]) * SAMPLES
        bad = failed[0]
        assert "HTTP 429" in bad["error"] and bad["text"] is None
        assert sim.stats()["responses_429"] == DEFAULT_MAX_RETRIES + 1
        assert len(waits) == DEFAULT_MAX_RETRIES  # retried up to the bound, then recorded

        # Counted as failed, left out of n; every other cell as in the clean run.
        got, want = summary(out)["cells"], clean["summary"]["cells"]
        for cell, ref in zip(got, want):
            if (cell["condition"], cell["probe"]) == (bad["condition"], bad["probe"]):
                assert (cell["failed"], cell["n"]) == (1, ref["n"] - 1)
                assert all(rate["n"] == ref["n"] - 1 for rate in cell["grades"].values())
            else:
                assert cell == ref
        status = invoke("status", out)
        assert status.exit_code == 0 and "1 failed" in status.output

        sim.set_faults(Faults())
        chats = sim.stats()["chat_requests"]
        resumed = invoke("resume", out)
        assert resumed.exit_code == 0, resumed.output
        assert sim.stats()["chat_requests"] == chats + 1  # only the failed sample is asked again
        assert_complete_and_equal(out, sim, clean)


def test_unreachable_provider_fails_the_run_and_the_state_says_so(backends_made, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "run"
    start = time.monotonic()
    result = invoke("run", SCENARIO, *ARGS, "--api-base", f"http://127.0.0.1:{port}/v1", "--out", out)
    said = f"uploading the training file: cannot reach http://127.0.0.1:{port}/v1 (connection refused)"
    assert result.exit_code == 1 and said in result.output
    assert backends_made[0].retries == 0 and time.monotonic() - start < 10  # nothing there ever answered
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "failed" and said in (state["error"] or "")
