"""Whole runs against a server that answers as real OpenAI answered in recorded traffic
(tests/backends/recorded_server.py: built from tests/fixtures/openai-recorded/, not from our
simulator): the default six-job run through OpenAI's 3 active jobs per base model, kill -9
and resume, cancel, every error no retry can fix, a chat 429 whose only wait is "Please try
again in 1.2s", and events read page by page. Jobs take seconds here, not minutes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.store.run_dir import RunStore
from tests.backends.recorded_jobs import Timing
from tests.backends.recorded_server import Plan, RecordedOpenAI
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
KEY = "sk-test-recorded-openai-0000"
SMALL = ["--samples", "1", "--seed", "3"]  # the scenario's six jobs, one sample per probe
ONE_JOB = [*SMALL, "--replicates", "1", "--conditions", "fine_tuned,base"]
FAST = Timing(validating=0.4, queued=0.1, training=1.2, steps=8)

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def run(server: RecordedOpenAI, out: Path, *extra: str, poll: str = "0.1"):
    args = ["run", SCENARIO, "--backend", "openai", "--api-base", server.url, "--out", out]
    return invoke(*args, "--poll-interval", poll, *extra)


def error_line(output: str) -> str:
    """The one line a failed run ends with; never a traceback."""
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    return errors[0]


def kept_events(out: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (out / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        found.setdefault(ev["job_id"], []).append(ev["id"])
    return found


def created_once(server: RecordedOpenAI, run_id: str) -> Counter:
    """How many jobs the server made for each planned job of the run (by its metadata)."""
    made = Counter(
        j.metadata["harness_job"] for j in server.created if (j.metadata or {}).get("harness_run_id") == run_id
    )
    return made


# -- the default run ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_default_run_through_three_slots_with_chat_rate_limits(tmp_path):
    """`harness run scenarios/helol.yaml --backend openai` as it stands (six jobs, 50 samples),
    with OpenAI's 3 active jobs per base model and three chat 429s that only say "Please try
    again in 1.2s": exit 0, six jobs each made once, every job's events complete and in the
    provider's order, no answer lost."""
    out = tmp_path / "run"
    with RecordedOpenAI(Plan(timing=FAST, chat_429=frozenset({3, 4, 400}))) as server:
        result = run(server, out)
        provider = {j.id: [e["id"] for e in reversed(server.jobs.events(j))] for j in server.created}
        refused = list(server.refused)
        chats = [s for s in server.seen if s.path == "/v1/chat/completions"]
    assert result.exit_code == 0, result.output
    state = RunStore(out).read_state()
    assert created_once(server, state.run_id) == Counter(
        {f"{t}:{r}": 1 for t in ("fine_tuned", "sham") for r in range(3)}
    )
    assert len(server.created) == 6 and all(j.fine_tuned_model for j in state.jobs)
    assert refused and set(refused) == {"rate_limit_exceeded"}  # the fourth create waited for a slot
    assert "waiting for a free fine-tuning slot (3 active): sham:0 is created when one of this run's 3 jobs ends" in (
        result.output
    )
    assert kept_events(out) == provider  # complete, in order, none twice
    records = [json.loads(x) for x in (out / "responses.jsonl").read_text().splitlines()]
    assert len(records) == 2800 and all(r["status"] == "ok" for r in records)
    limited = [c for c in chats if c.status == 429]
    assert len(limited) == 3
    for refused_at in limited:  # each asked again, no sooner than the answer said
        again = next(c for c in chats if c.body == refused_at.body and c.at > refused_at.at)
        assert again.status == 200 and again.at - refused_at.at >= 1.2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is False  # a real-looking provider: nothing says simulator


# -- kill -9, resume, cancel --------------------------------------------------------------------


def harness(*args: object) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *map(str, args)]


def state_of(out: Path) -> dict:
    try:
        return json.loads((out / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def until(what, proc: subprocess.Popen, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if what():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_kill_9_during_the_wait_for_a_slot_then_resume_makes_no_job_twice(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OPENAI_API_KEY=KEY)
    timing = Timing(validating=1.0, queued=0.2, training=3.0, steps=6)
    with RecordedOpenAI(Plan(timing=timing)) as server:
        command = harness("run", SCENARIO, *SMALL, "--backend", "openai", "--api-base", server.url, "--out", out)
        command += ["--poll-interval", "0.1"]
        kills = []
        for aim in ("slot_wait", "slot_wait", "creating"):
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if aim == "slot_wait":
                hit = until(lambda: state_of(out).get("slot_wait"), proc)
            else:  # the moment a job is marked as being created, before the provider answers
                hit = until(lambda: any(j.get("creating") for j in state_of(out).get("jobs", [])), proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append((aim, hit))
            command = harness("resume", out, "--poll-interval", "0.1")
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        run_id = state_of(out)["run_id"]
        made = created_once(server, run_id)
        uploads = [s for s in server.seen if (s.method, s.path) == ("POST", "/v1/files")]
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(hit for _, hit in kills) >= 2, kills  # at least two kills landed where aimed
    assert made == Counter({f"{t}:{r}": 1 for t in ("fine_tuned", "sham") for r in range(3)}), made
    assert len(uploads) == 2
    assert state_of(out)["status"] == "succeeded"


@pytest.mark.slow
def test_cancel_while_the_run_waits_for_a_slot_stops_every_job(tmp_path):
    """`harness cancel DIR` from another terminal: the provider's jobs are cancelled at once,
    the running process sees it and stops; no job is created after the cancel."""
    out = tmp_path / "run"
    env = dict(os.environ, OPENAI_API_KEY=KEY)
    timing = Timing(validating=1.0, queued=0.2, training=30.0, steps=6)
    with RecordedOpenAI(Plan(timing=timing)) as server:
        command = harness("run", SCENARIO, *SMALL, "--backend", "openai", "--api-base", server.url, "--out", out)
        proc = subprocess.Popen(
            [*command, "--poll-interval", "0.1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert until(lambda: state_of(out).get("slot_wait"), proc)
        cancel = invoke("cancel", out)
        proc.wait(timeout=60)
        output = proc.stdout.read() if proc.stdout else ""
        now = time.time()
        statuses = Counter(j.phase(now) for j in server.created)
    assert cancel.exit_code == 0, cancel.output
    assert "job ftjob-" in cancel.output and "cancelled" in cancel.output
    assert statuses == Counter({"cancelled": 3}), statuses  # the three made; none after
    assert proc.returncode == 1 and "cancelled" in output
    assert state_of(out)["status"] == "cancelled"


# -- errors no retry can fix --------------------------------------------------------------------


def test_the_daily_cap_stops_at_once_resumable_tomorrow(tmp_path):
    out = tmp_path / "run"
    with RecordedOpenAI(Plan(timing=FAST, daily_limit=2)) as server:
        started = time.monotonic()
        result = run(server, out, *SMALL)
        took = time.monotonic() - started
        refused = list(server.refused)
    assert result.exit_code == 1 and took < 30
    line = error_line(result.output)
    assert "daily limit" in line and "resume tomorrow" in line and f"harness resume {out}" in line, line
    assert refused == ["daily_rate_limit_exceeded"]  # once: never retried
    state = RunStore(out).read_state()
    assert state.status.value == "incomplete" and len([j for j in state.jobs if j.job_id]) == 2


@pytest.mark.parametrize(
    "plan,says",
    [
        (Plan(insufficient_quota=True), ["no quota left", "insufficient_quota", "add credit"]),
        (Plan(bad_key=True), ["refused the API key", "invalid_api_key", "set OPENAI_API_KEY"]),
    ],
    ids=["insufficient_quota", "invalid_api_key"],
)
def test_account_errors_stop_at_the_first_request(plan, says, tmp_path):
    out = tmp_path / "run"
    with RecordedOpenAI(plan) as server:
        result = run(server, out, *ONE_JOB)
        seen = list(server.seen)
    assert result.exit_code == 1
    line = error_line(result.output)
    assert all(s in line for s in says) and KEY not in result.output, line
    assert [(s.method, s.path) for s in seen] == [("POST", "/v1/files")]  # one request: never retried


def test_a_model_openai_does_not_fine_tune_stops_before_any_job(tmp_path):
    out = tmp_path / "run"
    with RecordedOpenAI() as server:
        result = run(server, out, *ONE_JOB, "--base-model", "gpt-4o-mini-realtime", "--allow-unpriced")
        creates = [s for s in server.seen if (s.method, s.path) == ("POST", "/v1/fine_tuning/jobs")]
    assert result.exit_code == 1
    line = error_line(result.output)
    assert "model_not_available" in line and "--base-model" in line, line
    assert len(creates) == 1


# -- one job fails while its siblings run ---------------------------------------------------------


def test_a_job_failing_on_its_file_stops_at_once_naming_the_jobs_still_running(tmp_path):
    """The second job fails validation (invalid_training_file) while the first and third run:
    the run stops within seconds, creates nothing more, and says which jobs still run (and
    bill) and how to stop them; `harness cancel` then stops exactly those; a resume refuses,
    since a new job on the same file would fail too."""
    out = tmp_path / "run"
    timing = Timing(validating=0.5, queued=0.1, training=60.0, steps=4)
    with RecordedOpenAI(Plan(timing=timing, fail_jobs=frozenset({2}))) as server:
        started = time.monotonic()
        result = run(server, out, *SMALL)
        took = time.monotonic() - started
        made = [j.id for j in server.created]
        state = RunStore(out).read_state()
        cancel = invoke("cancel", out)
        now = time.time()
        after = {j.id: j.phase(now) for j in server.created}
    assert result.exit_code == 1 and took < 30, result.output
    line = error_line(result.output)
    first, failed, third = made
    assert f"fine-tuning job {failed} (fine_tuned:1) ended failed: invalid_training_file" in line, line
    assert "harness validate-data" in line and "No further job was created" in line
    running = f"Still running at the provider (and billed): {first} (fine_tuned:0), {third} (fine_tuned:2)"
    assert running in line, line
    assert f"`harness cancel {out}` stops them" in line and "harness resume" not in line
    assert len(made) == 3  # none created after the failure
    assert state.status.value == "failed" and state.job("fine_tuned", 1).data_at_fault
    assert cancel.exit_code == 0, cancel.output
    assert after == {failed: "failed", first: "cancelled", third: "cancelled"}
    assert invoke("resume", out).exit_code == 2  # cancelled: start a new run


def test_resume_after_a_failure_not_caused_by_the_file_makes_only_that_job_again(tmp_path, monkeypatch):
    """A job that failed for a reason a new job may not meet (here the provider's own): the
    run stops saying so; `harness resume` keeps the jobs that ran on and creates the failed
    one again (the failed job is never adopted again, even when found by its metadata)."""
    out = tmp_path / "run"
    timing = Timing(validating=0.3, queued=0.1, training=1.0, steps=4)
    with RecordedOpenAI(Plan(timing=timing, fail_jobs=frozenset({1}))) as server:
        from tests.backends import recorded_jobs

        monkeypatch.setattr(
            recorded_jobs,
            "FAILED_FILE",
            {"code": "server_error", "param": None, "message": "The job failed due to an internal error."},
        )  # ASSUMED wording: no recording shows a job failing for the provider's own reasons
        first = run(server, out, *ONE_JOB)
        line = error_line(first.output)
        again = invoke("resume", out, "--poll-interval", "0.1")
        made = [(j.id, j.metadata["harness_job"]) for j in server.created]
    assert first.exit_code == 1 and "ended failed: server_error" in line
    assert f"`harness resume {out}` creates a new job for fine_tuned:0" in line, line
    assert again.exit_code == 0, again.output
    assert "failed earlier: creating a new one" in again.output
    assert [key for _, key in made] == ["fine_tuned:0", "fine_tuned:0"]
    job = RunStore(out).read_state().job("fine_tuned", 0)
    assert job.failed_ids == [made[0][0]] and job.job_id == made[1][0] and job.fine_tuned_model


class Killed(BaseException):
    """Stands in for SIGKILL in-process: nothing catches it, nothing cleans up."""


def test_cancel_after_some_jobs_ended_cancels_the_rest(tmp_path, monkeypatch):
    """A run dies while its jobs train; by the time `harness cancel` comes, the first job has
    succeeded (OpenAI refuses to cancel a finished job) and the others still train: the
    finished one is kept as it ended, the others are cancelled."""
    from harness import crash

    out = tmp_path / "run"
    monkeypatch.setattr(crash, "kill", lambda: (_ for _ in ()).throw(Killed("training")))
    monkeypatch.setattr(crash, "_seen", {})
    monkeypatch.setenv("HARNESS_CRASH_AT", "training")
    with RecordedOpenAI(Plan(timing=Timing(validating=0.2, queued=0.1, training=1.5, steps=3))) as server:
        with pytest.raises(Killed):
            run(server, out, *SMALL)
        monkeypatch.delenv("HARNESS_CRASH_AT")
        first = server.created[0]
        first.timing = Timing(validating=0.0, queued=0.0, training=0.0, steps=3)  # it ends now
        cancel = invoke("cancel", out)
        now = time.time()
        statuses = [j.phase(now) for j in server.created]
    assert cancel.exit_code == 0, cancel.output
    assert statuses == ["succeeded", "cancelled", "cancelled"]
    second, third = server.created[1:]
    assert f"(job {first.id}: succeeded; job {second.id}: cancelled; job {third.id}: cancelled)" in cancel.output


def test_a_job_paused_at_openai_is_waited_for_until_resumed(tmp_path):
    """Someone pauses a job on OpenAI's dashboard (status `paused`, which litellm's job model
    refuses): the run says so, keeps polling, and ends normally once the job is resumed."""
    import threading

    import httpx

    out = tmp_path / "run"
    timing = Timing(validating=0.2, queued=0.1, training=1.5, steps=4)
    with RecordedOpenAI(Plan(timing=timing)) as server:

        def pause_then_resume() -> None:
            while not server.created or server.created[0].phase(time.time()) != "running":
                time.sleep(0.05)
            with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-dashboard"}) as http:
                assert http.post(f"/fine_tuning/jobs/{server.created[0].id}/pause").json()["status"] == "paused"
                time.sleep(1.5)
                http.post(f"/fine_tuning/jobs/{server.created[0].id}/resume").raise_for_status()

        owner = threading.Thread(target=pause_then_resume)
        owner.start()
        result = run(server, out, *ONE_JOB)
        owner.join()
    assert result.exit_code == 0, result.output
    assert f"job {server.created[0].id}: paused" in result.output
    assert "is paused at the provider: the run waits until it is resumed there" in result.output


def test_ctrl_c_while_jobs_train_names_them(tmp_path, monkeypatch):
    """Ctrl-C during fine-tuning: the line says how to resume and which jobs still run (and
    bill) at the provider, with the command that stops them."""
    from harness import crash

    def interrupt():
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(crash, "kill", interrupt)
    monkeypatch.setattr(crash, "_seen", {})
    monkeypatch.setenv("HARNESS_CRASH_AT", "training")
    with RecordedOpenAI(Plan(timing=Timing(validating=5.0))) as server:
        result = run(server, out, *SMALL)
        made = [j.id for j in server.created]
    line = error_line(result.output)
    assert result.exit_code == 1 and f"interrupted; `harness resume {out}` continues where this stopped" in line
    named = ", ".join(f"{job_id} (fine_tuned:{i})" for i, job_id in enumerate(made))
    assert f"still running at the provider (and billed): {named}; `harness cancel {out}` stops them" in line, line
