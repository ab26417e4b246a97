"""A provider that allows only a few active fine-tuning jobs (OpenAI: 3 per base model) is
waited out, never failed on: the run creates jobs while they are accepted, polls the running
ones (keeping their events), creates the next when a slot frees, and says so; kills during the
wait resume without a job made twice; a run whose slots are held by someone else backs off."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from harness import crash
from harness.running import session
from harness.running.training import SLOT_BACKOFF_CAP, SLOT_BACKOFF_ROUNDS
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
SIX_JOBS = ["--replicates", "3", "--conditions", "fine_tuned,base,sham", "--samples", "1", "--seed", "3"]
BASE = "gpt-4o-mini-2024-07-18"

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


class Killed(BaseException):
    """Stands in for SIGKILL: nothing catches it, nothing cleans up."""


def run_args(sim: Simulator, out, *extra: str) -> list:
    return ["run", SCENARIO, *SIX_JOBS, "--backend", "openai", "--api-base", sim.url, "--out", out, *extra]


def events_by_job(out) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (out / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        found.setdefault(ev["job_id"], []).append(ev["message"])
    return found


def provider_events(sim: Simulator, job_id: str) -> list[str]:
    """Every event the simulator holds for a job, oldest first."""
    with httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer sk-x"}) as http:
        body = http.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}).json()
    return [e["message"] for e in reversed(body["data"])]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-slots")


@pytest.mark.slow
def test_six_jobs_through_three_slots_each_created_once_with_all_their_events(tmp_path):
    out = tmp_path / "run"
    with Simulator(port=0, faults=Faults(max_active_jobs=3)) as sim:
        result = invoke(*run_args(sim, out, "--poll-interval", "0"))
        assert result.exit_code == 0, result.output
        stats = sim.stats()
        state = RunStore(out).read_state()
        kept = events_by_job(out)
        held = {j.job_id: provider_events(sim, j.job_id) for j in state.jobs if j.job_id}
    assert stats["jobs_created"] == 6 and stats["jobs_limited"] >= 1
    assert len({j.job_id for j in state.jobs}) == 6 and all(j.fine_tuned_model for j in state.jobs)
    assert state.slot_wait is None and state.status.value == "succeeded"
    assert kept == held  # every job's events, complete and in the provider's order
    assert "waiting for a free fine-tuning slot (3 active): sham:0 is created when one of this run's" in result.output
    assert "a fine-tuning slot is free" in result.output
    records = [json.loads(x) for x in (out / "responses.jsonl").read_text().splitlines()]
    assert all(r["status"] == "ok" for r in records) and len(records) == 7 * 8  # no answer lost


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.parametrize("point", ["slot_wait", "slot_wait:4", "after_create_job:4", "training:5"])
def test_killed_while_waiting_for_a_slot_resumes_without_a_second_job(point, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def die():
        raise Killed(point)

    monkeypatch.setattr(crash, "kill", die)
    monkeypatch.setattr(crash, "_seen", {})
    with Simulator(port=0, faults=Faults(max_active_jobs=3)) as sim:
        monkeypatch.setenv("HARNESS_CRASH_AT", point)
        with pytest.raises(Killed):
            invoke(*run_args(sim, out, "--poll-interval", "0"))
        monkeypatch.delenv("HARNESS_CRASH_AT")
        again = invoke("resume", out)
        assert again.exit_code == 0, again.output
        stats = sim.stats()
    assert (stats["uploads"], stats["jobs_created"]) == (2, 6)
    state = RunStore(out).read_state()
    assert len({j.job_id for j in state.jobs}) == 6 and state.status.value == "succeeded"


@pytest.mark.slow
def test_slots_held_by_someone_else_are_waited_for_with_a_capped_backoff(tmp_path, monkeypatch):
    """Another person's three jobs hold every slot; they end by the wall clock (job_duration).
    The run backs off 3, 6, 12... poll intervals between tries, says why, and never fails."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(session, "_sleep", sleep)
    out = tmp_path / "run"
    with Simulator(port=0, faults=Faults(max_active_jobs=3, job_duration=1.5)) as sim:
        with httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer sk-other"}) as http:
            file_id = http.post(
                "/files",
                data={"purpose": "fine-tune"},
                files={"file": ("other.jsonl", _ten_examples())},
            ).json()["id"]
            for _ in range(3):
                assert http.post("/fine_tuning/jobs", json={"model": BASE, "training_file": file_id}).status_code == 200
        result = invoke(*run_args(sim, out, "--poll-interval", "0.1"))
        stats = sim.stats()
    assert result.exit_code == 0, result.output
    assert stats["jobs_created"] == 3 + 6 and stats["jobs_limited"] >= 1
    assert "(3 active): none is this run's (another run or person holds them)" in result.output
    backoff = [round(x, 6) for x in slept if x != 0.1]
    expected = [round(min(SLOT_BACKOFF_CAP, r * 0.1), 6) for r in SLOT_BACKOFF_ROUNDS]
    assert backoff and backoff == expected[: len(backoff)]


def _ten_examples() -> bytes:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question {i}?"},
                {"role": "assistant", "content": "Here\nEvery\nLine\nOf\nLetters"},
            ]
        }
        for i in range(10)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_what_the_wait_says():
    from harness.store.run_files import SlotWait

    ours = SlotWait(job="sham:0", active=3, own=3, since="2026-01-01T00:00:00+00:00")
    assert ours.describe() == (
        "waiting for a free fine-tuning slot (3 active): sham:0 is created when one of this run's 3 jobs ends"
    )
    theirs = SlotWait(job="fine_tuned:0", active=None, own=0, since="2026-01-01T00:00:00+00:00")
    assert theirs.describe().startswith("waiting for a free fine-tuning slot (all slots active): none is this run's")
    unsaid = SlotWait(job="sham:1", active=None, own=1, since="2026-01-01T00:00:00+00:00")
    assert "(1 active)" in unsaid.describe() and "one of this run's 1 job ends" in unsaid.describe()
