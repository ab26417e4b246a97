"""The recorded-traffic server (tests/backends/recorded_server.py) answers as the recordings
do, so that runs against it test the harness against reality, and the openai backend reads
it: events paged newest first over several pages, jobs found by their metadata as the
OpenAPI spec's `metadata[k]=v` filter finds them."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from backends.base import ChatRequest, JobSpec
from backends.openai import OpenAIBackend
from tests.backends.recorded import IDS, load
from tests.backends.recorded_jobs import Timing
from tests.backends.recorded_server import Plan, RecordedOpenAI
from tests.backends.test_conformance import EVENT_KINDS, event_kind

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
TRAIN = b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}\n' * 10


def client(server: RecordedOpenAI, key: str = "sk-test-recorded-server") -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"})


def upload(http: httpx.Client) -> str:
    return http.post("/files", data={"purpose": "fine-tune"}, files={"file": ("t.jsonl", TRAIN)}).json()["id"]


def test_a_job_from_creation_to_success_as_recorded():
    timing = Timing(validating=0.3, queued=0.1, training=0.6, steps=6)
    with RecordedOpenAI(Plan(timing=timing)) as server, client(server) as http:
        file = http.post("/files", data={"purpose": "fine-tune"}, files={"file": ("t.jsonl", TRAIN)})
        created = http.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file.json()["id"]})
        job_id = created.json()["id"]
        time.sleep(1.2)
        done = http.get(f"/fine_tuning/jobs/{job_id}").json()
        events = http.get(f"/fine_tuning/jobs/{job_id}/events").json()
        checkpoints = http.get(f"/fine_tuning/jobs/{job_id}/checkpoints").json()
    real_file = load("dotnet-file-upload.json")["body"]
    assert list(file.json()) == list(real_file) and file.json()["status"] == "processed"
    first = created.json()
    assert list(first) == list(load("dotnet-job-create.json")["body"])  # the recorded keys, in order
    assert first["error"] == {} and first["estimated_finish"] is None and first["metadata"] is None
    assert first["hyperparameters"] == {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
    assert (
        first["model"] == "gpt-4o-mini-2024-07-18" and first["result_files"] == [] and first["trained_tokens"] is None
    )
    assert done["status"] == "succeeded" and done["hyperparameters"] == {
        "n_epochs": 3,
        "batch_size": 1,
        "learning_rate_multiplier": 2,
    }
    assert IDS["job"].match(job_id) and IDS["model"].match(done["fine_tuned_model"])
    assert done["fine_tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:personal::")  # no suffix: "::"
    assert len(done["result_files"]) == 1 and done["trained_tokens"] > 0
    assert set(events) == {"object", "data", "has_more"} and events["has_more"] is False
    kinds = [event_kind(e["message"]) for e in reversed(events["data"])]
    order = [k for k, _ in EVENT_KINDS]
    assert None not in kinds and [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)
    assert [e["created_at"] for e in events["data"]] == sorted((e["created_at"] for e in events["data"]), reverse=True)
    assert set(checkpoints) == set(load("dotnet-job-checkpoints.json")["body"]) and len(checkpoints["data"]) == 3
    assert checkpoints["data"][0]["fine_tuned_model_checkpoint"] == done["fine_tuned_model"]


def test_the_limits_and_refusals_as_recorded():
    timing = Timing(validating=30.0)
    with RecordedOpenAI(Plan(timing=timing)) as server, client(server) as http:
        file_id = upload(http)
        made = [
            http.post("/fine_tuning/jobs", json={"model": "gpt-3.5-turbo", "training_file": file_id}) for _ in range(4)
        ]
        bad_model = http.post("/fine_tuning/jobs", json={"model": "gpt-nonexistent", "training_file": file_id})
        no_job = http.get("/fine_tuning/jobs/123")
        no_key = httpx.get(f"{server.url}/files")  # no Authorization header
    with RecordedOpenAI(Plan(timing=timing, daily_limit=1, max_active=0)) as server, client(server) as http:
        file_id = upload(http)
        first, daily = (
            http.post("/fine_tuning/jobs", json={"model": "gpt-4.1", "training_file": file_id}) for _ in range(2)
        )
    full = made[3]
    assert [r.status_code for r in made] == [200, 200, 200, 429]
    real = load("ruby-job-create-429-active-limit.json")
    assert full.json()["error"] | {"message": ""} == real["body"]["error"] | {"message": ""}
    assert "maximum of 3 active requests (0 running, 3 pending) for the model 'gpt-3.5-turbo-0125'" in full.text
    assert not [h for h in full.headers if h.lower().startswith(("retry-after", "x-ratelimit"))]
    assert first.status_code == 200 and daily.status_code == 429
    assert (
        daily.json()["error"]["code"] == "daily_rate_limit_exceeded" and "1 fine-tuning requests per day" in daily.text
    )
    assert bad_model.status_code == 400 and bad_model.json()["error"]["code"] == "model_not_available"
    assert no_job.json() == load("ruby-job-404.json")["body"] and no_key.status_code == 401


def test_a_failed_job_and_its_error_event():
    with (
        RecordedOpenAI(Plan(timing=Timing(validating=0.2), fail_jobs=frozenset({1}))) as server,
        client(server) as http,
    ):
        job_id = http.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": upload(http)}).json()[
            "id"
        ]
        time.sleep(0.4)
        failed = http.get(f"/fine_tuning/jobs/{job_id}").json()
        newest = http.get(f"/fine_tuning/jobs/{job_id}/events").json()["data"][0]
    real = load("langnostic-job-failed-invalid-training-file.json")["body"]["data"][0]
    assert failed["status"] == "failed" and failed["error"] == real["error"] and failed["finished_at"] is None
    assert newest["level"] == "error" and newest["data"] == {
        "error_code": "invalid_training_file",
        "error_param": "training_file",
    }


def test_the_openai_backend_reads_events_page_by_page_and_finds_jobs_by_metadata():
    """250 metrics events: the backend's pages of 100 go newest first towards older events,
    and come back oldest first, complete; `after` returns only newer ones. Jobs are found by
    the `metadata[k]=v` filter (the server ignores any other form)."""
    timing = Timing(validating=0.0, queued=0.0, training=0.3, steps=250)
    with RecordedOpenAI(Plan(timing=timing, max_active=0)) as server:
        backend = OpenAIBackend(api_key="sk-test-recorded-server", api_base=server.url, max_retries=0)
        file = backend.upload_training_file(TRAIN, "run.jsonl")
        jobs = [
            backend.create_job(JobSpec("gpt-4o-mini", file.id, suffix="helol", metadata={"run": r, "job": str(i)}))
            for r in ("a", "b")
            for i in range(3)
        ]
        time.sleep(0.6)
        served = [e["id"] for e in reversed(server.jobs.events(server.jobs.jobs[jobs[0].id]))]
        got = backend.list_events(jobs[0].id)
        newer = backend.list_events(jobs[0].id, after=served[-5])
        found = backend.find_jobs({"run": "b"})
        pages = [s.query for s in server.seen if s.path.endswith("/events")]
        done = asyncio.run(
            backend.complete(
                ChatRequest(
                    model=backend.get_job(jobs[0].id).fine_tuned_model, messages=[{"role": "user", "content": "Hi"}]
                )
            )
        )
    assert len(served) > 250 and [e.id for e in got] == served
    assert [e.id for e in newer] == served[-4:]
    assert [p.get("after") is not None for p in pages[:3]] == [False, True, True]  # three pages of 100
    assert [j.metadata for j in found] == [{"run": "b", "job": str(i)} for i in (2, 1, 0)]  # newest first
    assert re.fullmatch(r"(H|E|L|O)[^\n]*(\n(H|E|L|O)[^\n]*){4}", done.text) and done.model.startswith("ft:")


def test_a_paused_job_is_read_as_paused_not_an_error():
    """litellm's job model refuses a status outside its six; the backend reads jobs with the
    openai SDK, so a paused job (the spec's pause example) is just not done yet."""
    with RecordedOpenAI(Plan(timing=Timing(validating=0.0, queued=0.0, training=30.0))) as server:
        backend = OpenAIBackend(api_key="sk-test-recorded-server", api_base=server.url, max_retries=0)
        job = backend.create_job(JobSpec("gpt-4o-mini", backend.upload_training_file(TRAIN, "t.jsonl").id))
        with client(server) as http:
            paused = http.post(f"/fine_tuning/jobs/{job.id}/pause").json()
        got = backend.get_job(job.id)
        cancelled = backend.cancel_job(job.id)
    assert paused["status"] == got.status == "paused" and not got.done
    assert cancelled.status == "cancelled"
