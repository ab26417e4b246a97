"""A run killed at any step resumes without a second upload, a second job, or a sample
asked twice, and ends equal to an uninterrupted run.

The kill is in-process here (the crash point raises instead of SIGKILL, leaving exactly
the files a kill leaves, torn line included) so that the suite stays fast; one test does a
real kill -9 of a `harness run` subprocess, and scripts/kill_resume.py does it at random
moments."""

import json
import os
import signal
import subprocess
import sys

import pytest

from backends.simulator.server import Simulator
from harness import crash
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
ARGS = [
    "--samples",
    "1",
    "--seed",
    "5",
    "--poll-interval",
    "0",
    "--backend",
    "openai",
    "--replicates",
    "1",
    "--conditions",
    "fine_tuned,base",
]  # one job: the replicate kills are in test_replicates

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


class Killed(BaseException):
    """Stands in for SIGKILL: nothing catches it, nothing cleans up."""


@pytest.fixture
def sim(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-resume")
    with Simulator(port=0) as s:
        yield s


def counted(sim):
    stats = sim.stats()
    return stats["uploads"], stats["jobs_created"]


def responses(run_dir):
    lines = (run_dir / "responses.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-resume")
    out = tmp_path_factory.mktemp("clean") / "run"
    with Simulator(port=0) as s:
        result = invoke("run", SCENARIO, *ARGS, "--api-base", s.url, "--out", out)
        assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text())


# The stand-in kill abandons the event loop mid-probe, leaving the calls it had started
# un-awaited; a real SIGKILL leaves nothing to warn about.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.parametrize(
    "point", ["upload_unsaved", "after_upload", "after_create_job", "training", "probing:5", "mid_record:9"]
)
def test_kill_then_resume(point, sim, tmp_path, monkeypatch, uninterrupted):
    out = tmp_path / "run"

    def die():
        raise Killed(point)

    monkeypatch.setattr(crash, "kill", die)
    monkeypatch.setattr(crash, "_seen", {})
    monkeypatch.setenv("HARNESS_CRASH_AT", point)
    with pytest.raises(Killed):
        invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out)
    monkeypatch.delenv("HARNESS_CRASH_AT")
    status = invoke("status", out)
    assert status.exit_code == 0 and "status     interrupted (no harness process is running it" in status.output
    if point in ("training", "probing:5", "mid_record:9"):  # the simulator has answered by now
        assert "SIMULATED" in status.output and json.loads((out / "state.json").read_text())["simulated"]

    second = invoke("resume", out)
    assert second.exit_code == 0, second.output
    assert counted(sim) == (1, 1)
    records = responses(out)
    keys = [(r["condition"], r["probe"], r["sample"]) for r in records]
    assert len(keys) == len(set(keys)) == 2 * 8 * 1
    assert json.loads((out / "summary.json").read_text()) == uninterrupted


def test_kill_while_creating_the_run_directory_then_run_again(sim, tmp_path, monkeypatch, uninterrupted):
    """Killed between the state file and the manifest: nothing was spent, `resume` says to
    start again, and `run` with the same --out does so in the half-made directory."""
    out = tmp_path / "run"

    def die():
        raise Killed("creating_run")

    monkeypatch.setattr(crash, "kill", die)
    monkeypatch.setattr(crash, "_seen", {})
    monkeypatch.setenv("HARNESS_CRASH_AT", "creating_run")
    with pytest.raises(Killed):
        invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out)
    monkeypatch.delenv("HARNESS_CRASH_AT")
    assert (out / "state.json").exists() and not (out / "manifest.json").exists()
    assert counted(sim) == (0, 0)
    (out / ".manifest.json.123.abcd1234.tmp").write_text("{")  # a kill inside the atomic write

    for command in ("resume", "status"):
        refused = invoke(command, out)
        assert refused.exit_code == 2
        assert "interrupted while its directory was being created" in refused.output
        assert f"harness run SCENARIO --out {out}" in refused.output

    again = invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out)
    assert again.exit_code == 0, again.output
    assert counted(sim) == (1, 1)
    assert json.loads((out / "summary.json").read_text()) == uninterrupted


def test_run_still_refuses_a_directory_that_is_not_a_half_made_run(tmp_path):
    (tmp_path / "state.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")  # a state.json among other files is not ours to reuse
    result = invoke("run", SCENARIO, "--samples", "1", "--out", tmp_path)
    assert result.exit_code == 2 and "already exists and is not empty" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "state.json").read_text() == "{}"
    status = invoke("status", tmp_path)
    assert status.exit_code == 2 and "manifest.json: not found" in status.output


@pytest.mark.slow
def test_real_kill_9_mid_probing_then_resume(tmp_path):
    """A real SIGKILL of a `harness run` process (on the mock, which keeps its provider
    state in the run directory, so no litellm start-up is paid in the subprocess)."""
    args = ["--samples", "3", "--seed", "5"]
    clean, out = tmp_path / "clean", tmp_path / "run"
    assert invoke("run", SCENARIO, *args, "--out", clean).exit_code == 0
    env = dict(os.environ, HARNESS_CRASH_AT="probing:15")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(SCENARIO), *args, "--out", str(out)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert len(responses(out)) == 14  # what was answered before the kill is kept
    from harness.store.run_dir import RunStore

    store = RunStore(out)
    with store.locked():  # a live process holds the lock: the run is running, not interrupted
        assert "status     running" in invoke("status", out).output
    result = invoke("resume", out)
    assert result.exit_code == 0, result.output
    provider = json.loads((out / "mock-provider.json").read_text())
    assert len(provider["files"]) == 2 and len(provider["jobs"]) == 6  # real and sham files; 3 + 3 fine-tunes
    assert (out / "summary.json").read_bytes() == (clean / "summary.json").read_bytes()


def test_torn_last_line_is_dropped_and_asked_again(tmp_path):
    from harness.store.files import append_jsonl, read_jsonl_lines

    path = tmp_path / "r.jsonl"
    append_jsonl(path, {"a": 1})
    with open(path, "ab") as f:
        f.write(b'{"a": 2, "tex')
    append_jsonl(path, {"a": 3})
    records, dropped = read_jsonl_lines(path)
    assert records == [(1, {"a": 1}), (3, {"a": 3})] and dropped == 1


def test_resume_of_a_finished_run_asks_nothing(sim, tmp_path):
    out = tmp_path / "run"
    assert invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out).exit_code == 0
    chats = sim.stats()["chat_requests"]
    assert invoke("resume", out).exit_code == 0
    assert sim.stats()["chat_requests"] == chats and counted(sim) == (1, 1)


def test_failed_job_stops_the_run_with_the_provider_message(tmp_path, monkeypatch):
    from backends.simulator.faults import Faults

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-resume")
    with Simulator(port=0, faults=Faults(fail_jobs=True)) as s:
        result = invoke("run", SCENARIO, *ARGS, "--api-base", s.url, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "ended failed" in result.output
    state = json.loads((tmp_path / "run/state.json").read_text())
    assert state["status"] == "failed" and "failed" in state["error"]


def kill_while_training(sim, out, monkeypatch):
    """A run that died while its fine-tuning job was running (the job is still live)."""
    monkeypatch.setattr(crash, "kill", lambda: (_ for _ in ()).throw(Killed("training")))
    monkeypatch.setattr(crash, "_seen", {})
    monkeypatch.setenv("HARNESS_CRASH_AT", "training")
    with pytest.raises(Killed):
        invoke("run", SCENARIO, *ARGS, "--api-base", sim.url, "--out", out)
    monkeypatch.delenv("HARNESS_CRASH_AT")


def test_cancel_marks_the_run(sim, tmp_path, monkeypatch):
    out = tmp_path / "run"
    kill_while_training(sim, out, monkeypatch)
    result = invoke("cancel", out)
    assert result.exit_code == 0 and "cancelled" in result.output
    assert json.loads((out / "state.json").read_text())["status"] == "cancelled"
    assert invoke("resume", out).exit_code == 2


def test_cancel_refuses_a_finished_run(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", SCENARIO, "--samples", "1", "--out", out).exit_code == 0
    before = (out / "state.json").read_bytes()
    result = invoke("cancel", out)
    assert result.exit_code == 2 and "already ended succeeded" in result.output
    assert (out / "state.json").read_bytes() == before


def test_cancel_while_another_process_runs_it_cancels_the_job_and_writes_nothing(sim, tmp_path, monkeypatch):
    from harness.store.run_dir import RunStore

    out = tmp_path / "run"
    kill_while_training(sim, out, monkeypatch)
    before = (out / "state.json").read_bytes()
    live = RunStore(out)
    live.lock()  # stands in for the `harness run` process still driving it
    try:
        result = invoke("cancel", out)
    finally:
        live.unlock()
    assert result.exit_code == 0, result.output
    assert "the running process will stop when it sees the job cancelled" in result.output
    assert (out / "state.json").read_bytes() == before
    # The running process, at its next poll, sees the job cancelled and stops.
    resumed = invoke("resume", out)
    assert resumed.exit_code == 1 and "ended cancelled" in resumed.output, resumed.output
    assert json.loads((out / "state.json").read_text())["status"] == "cancelled"


def test_status_probes_never_make_a_starting_run_refuse(tmp_path):
    """`harness status` probes the run lock for an instant; a `resume` or `cancel` that
    takes the lock at that moment waits briefly instead of refusing."""
    import threading
    import time

    from harness.store.run_dir import RunStore

    stop = threading.Event()

    def probe():  # far more often than anyone runs `status`: a probe every millisecond
        while not stop.is_set():
            RunStore(tmp_path).in_use()
            time.sleep(0.001)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for _ in range(300):
            store = RunStore(tmp_path)
            store.lock()
            store.unlock()
    finally:
        stop.set()
        prober.join()
