"""The simulator's limits on fine-tuning jobs, as OpenAI's: a few active jobs per base model
(the next create is a 429 with OpenAI's body and no retry-after or rate-limit headers), a daily
cap, and jobs that advance with the wall clock when given a duration."""

from __future__ import annotations

import time

import httpx
import pytest

from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from tests.backends.test_simulator import BASE, raw, upload

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def create(http: httpx.Client, file_id: str, model: str = BASE) -> httpx.Response:
    return http.post("/fine_tuning/jobs", json={"model": model, "training_file": file_id})


def test_default_limit_is_three_active_jobs_per_base_model_with_openais_429():
    assert Faults().max_active_jobs == 3
    with Simulator() as s, raw(s) as http:
        file_id = upload(http).json()["id"]
        made = [create(http, file_id) for _ in range(3)]
        assert [r.status_code for r in made] == [200, 200, 200]
        http.get(f"/fine_tuning/jobs/{made[0].json()['id']}")  # validated: queued
        http.get(f"/fine_tuning/jobs/{made[0].json()['id']}")  # started: running
        refused = create(http, file_id)
        other_model = create(http, file_id, "gpt-4.1-mini-2025-04-14")
        stats = s.stats()
    assert refused.status_code == 429 and other_model.status_code == 200  # the limit is per base model
    assert refused.json() == {
        "error": {
            "message": "This fine-tune request has been rate-limited. Your organization has reached the maximum "
            f"of 3 active requests (1 running, 2 pending) for the model '{BASE}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    # As recorded: no retry-after, no x-ratelimit-* headers on fine-tuning answers.
    assert not [h for h in refused.headers if h.startswith(("retry-after", "x-ratelimit"))]
    assert stats["jobs_created"] == 4 and stats["jobs_limited"] == 1


def test_a_slot_frees_when_a_job_ends_or_is_cancelled():
    with Simulator(faults=Faults(max_active_jobs=1)) as s, raw(s) as http:
        file_id = upload(http).json()["id"]
        first = create(http, file_id).json()["id"]
        assert create(http, file_id).status_code == 429
        for _ in range(10):
            if http.get(f"/fine_tuning/jobs/{first}").json()["status"] == "succeeded":
                break
        second = create(http, file_id)
        assert second.status_code == 200
        http.post(f"/fine_tuning/jobs/{second.json()['id']}/cancel")
        assert create(http, file_id).status_code == 200


def test_no_limit_when_zero():
    with Simulator(faults=Faults(max_active_jobs=0)) as s, raw(s) as http:
        file_id = upload(http).json()["id"]
        assert {create(http, file_id).status_code for _ in range(8)} == {200}


def test_daily_cap_answers_429_daily_rate_limit_exceeded():
    with Simulator(faults=Faults(max_active_jobs=0, daily_job_limit=2)) as s, raw(s) as http:
        file_id = upload(http).json()["id"]
        codes = [create(http, file_id).status_code for _ in range(3)]
        refused = create(http, file_id).json()["error"]
        other = create(http, file_id, "gpt-4.1-2025-04-14")
    assert codes == [200, 200, 429] and other.status_code == 200
    assert refused == {
        "message": "This fine-tune request has been rate-limited. Your organization has reached the maximum "
        f"of 2 fine-tuning requests per day for the model '{BASE}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "daily_rate_limit_exceeded",
    }


def test_daily_counts_survive_a_restart(tmp_path):
    state = tmp_path / "provider.json"
    faults = Faults(max_active_jobs=0, daily_job_limit=1)
    with Simulator(faults=faults, state_path=state) as s, raw(s) as http:
        assert create(http, upload(http).json()["id"]).status_code == 200
    with Simulator(faults=faults, state_path=state) as s, raw(s) as http:
        assert create(http, upload(http).json()["id"]).status_code == 429


def test_jobs_advance_with_the_wall_clock_when_given_a_duration():
    with Simulator(faults=Faults(job_duration=1.0)) as s, raw(s) as http:
        job_id = create(http, upload(http).json()["id"]).json()["id"]
        early = [http.get(f"/fine_tuning/jobs/{job_id}").json()["status"] for _ in range(20)]
        events_early = http.get(f"/fine_tuning/jobs/{job_id}/events").json()["data"]
        time.sleep(1.1)
        done = http.get(f"/fine_tuning/jobs/{job_id}").json()
        events = http.get(f"/fine_tuning/jobs/{job_id}/events").json()["data"]
    assert set(early) == {"validating_files"}  # polling fast does not make it faster
    assert [e["message"].split(":")[0] for e in events_early] == ["Validating training file", "Created fine-tuning job"]
    assert done["status"] == "succeeded" and done["fine_tuned_model"] and done["finished_at"]
    assert events[0]["message"] == "The job has successfully completed" and len(events) > len(events_early)


def test_a_job_that_should_have_ended_frees_its_slot_unpolled():
    with Simulator(faults=Faults(job_duration=0.3, max_active_jobs=1)) as s, raw(s) as http:
        file_id = upload(http).json()["id"]
        assert create(http, file_id).status_code == 200
        assert create(http, file_id).status_code == 429
        time.sleep(0.4)
        assert create(http, file_id).status_code == 200  # never polled, yet over by the clock


def test_the_start_line_says_how_jobs_behave():
    assert Faults().describe_jobs() == "at most 3 active per base model, one state per poll"
    limits = Faults(max_active_jobs=0, daily_job_limit=5, job_duration=300)
    assert limits.describe_jobs() == "no limit on active jobs, 5 a day per base model, each takes 300 s"
    assert "max_active_jobs=0" in limits.describe()


def test_limits_from_the_environment():
    env = {"HARNESS_SIM_MAX_ACTIVE_JOBS": "2", "HARNESS_SIM_JOB_DURATION": "60", "HARNESS_SIM_DAILY_JOB_LIMIT": "9"}
    f = Faults.from_env(env)
    assert (f.max_active_jobs, f.job_duration, f.daily_job_limit) == (2, 60.0, 9)
