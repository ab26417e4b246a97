"""The openai backend reading real OpenAI answers: recorded bodies and headers
(tests/fixtures/openai-recorded/) replayed through a vcrpy cassette with sockets blocked.
Every status of a job, events paged newest first with metrics events, and each error with the
behaviour it asks for: wait for a slot, stop for good saying what to do, or wait as long as
the answer says and try again."""

from __future__ import annotations

import asyncio
import copy

import pytest
from pytest_socket import disable_socket, enable_socket

from backends.base import AccountError, BackendError, ChatRequest, JobLimitReached, JobSpec
from backends.openai import OpenAIBackend
from harness.running import recording
from tests.backends.recorded import cassette, jobs_in, load

SPEC = JobSpec(base_model="gpt-3.5-turbo", training_file="file-MNu4SQN4hf2nJmWVXyv8qW")
CREATE = {
    "method": "POST",
    "path": "/v1/fine_tuning/jobs",
    "body": {"model": SPEC.base_model, "training_file": SPEC.training_file},
}
HELLO = ChatRequest(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Hello!"}])
CHAT = {
    "method": "POST",
    "path": "/v1/chat/completions",
    "body": {"model": "gpt-3.5-turbo", "messages": HELLO.messages, "temperature": 1.0},
}


@pytest.fixture(scope="module", autouse=True)
def import_before_blocking():
    import litellm  # noqa: F401  (urllib3 probes an IPv6 socket at import time)
    import vcr  # noqa: F401


@pytest.fixture
def replay(tmp_path):
    """replay(exchanges) -> (backend, waits): an openai backend answered by `exchanges` only,
    every socket but the event loop's own (unix) ones blocked."""
    waits: list[float] = []
    started: list = []

    def start(exchanges):
        path = cassette(tmp_path / "recorded.yaml", exchanges)
        ctx = recording.cassette(path, "replay")
        ctx.__enter__()
        started.append(ctx)
        return OpenAIBackend(api_key="sk-replay", max_retries=6, sleep=waits.append), waits

    disable_socket(allow_unix_socket=True)
    try:
        yield start
    finally:
        for ctx in started:
            ctx.__exit__(None, None, None)
        enable_socket()


def answer(name: str, body=None):
    fixture = load(name)
    return fixture["status"], fixture.get("headers", {}), fixture["body"] if body is None else body


def one_job(name: str, status: str) -> dict:
    return next(j for j in jobs_in(name) if j["status"] == status)


# -- every status of a job ------------------------------------------------------------------------

STATUSES = [
    ("validating_files", "dotnet-job-create.json"),
    ("running", "langnostic-job-statuses.json"),
    ("succeeded", "dotnet-jobs-list-100.json"),
    ("succeeded", "qtran-job-lifecycle.json"),
    ("succeeded", "issue-job-succeeded-2023.json"),
    ("failed", "dotnet-jobs-list-100.json"),
    ("failed", "langnostic-job-failed-invalid-training-file.json"),
    ("cancelled", "dotnet-job-cancel.json"),
]


@pytest.mark.parametrize("status,name", STATUSES, ids=[f"{s}:{n.split('-')[0]}" for s, n in STATUSES])
def test_every_recorded_status_of_a_job(status, name, replay):
    job = one_job(name, status)
    backend, _ = replay([({"method": "GET", "path": f"/v1/fine_tuning/jobs/{job['id']}"}, 200, {}, job)])
    got = backend.get_job(job["id"])
    assert (got.id, got.status, got.base_model) == (job["id"], status, job["model"])
    assert got.done is (status in ("succeeded", "failed", "cancelled"))
    if status == "succeeded":  # the run adopts the model and prices the tokens
        assert got.fine_tuned_model == job["fine_tuned_model"] and got.trained_tokens == job["trained_tokens"] > 0
    else:
        assert got.fine_tuned_model is None and got.trained_tokens is None
    if status == "failed":  # the run stops with the provider's words and what to do
        assert got.error.startswith(f"{job['error']['code']}: {job['error']['message']}")
        advice = {"invalid_training_file": "harness validate-data", "deleted_training_file": "start a new run"}
        assert advice.get(job["error"]["code"], "") in got.error
    else:
        assert got.error is None  # error {} on a healthy job is no error


def test_a_queued_job(replay):
    """No recording caught a job in `queued` (the events say it passes through it): the
    recorded create answer with only its status changed."""
    job = dict(load("dotnet-job-create.json")["body"], status="queued")
    backend, _ = replay([({"method": "GET", "path": f"/v1/fine_tuning/jobs/{job['id']}"}, 200, {}, job)])
    got = backend.get_job(job["id"])
    assert got.status == "queued" and not got.done


def test_create_reads_the_recorded_answer(replay):
    backend, waits = replay([(CREATE, *answer("dotnet-job-create.json"))])
    job = backend.create_job(SPEC)
    assert (job.status, job.base_model, job.error) == ("validating_files", "gpt-3.5-turbo-0125", None)
    assert waits == [] and not backend.simulated


# -- events ----------------------------------------------------------------------------------------


def test_events_paged_newest_first_with_metrics_come_back_oldest_first(replay):
    """QTRAN's recorded page (ten events, newest first, has_more true), served as two pages of
    five: the backend follows the `after` cursor towards older events and stops at the one it
    already has."""
    page = load("qtran-job-events-newest-first.json")
    events, job_id = page["body"]["data"], page["request"]["path"].split("/")[-2]
    path = f"/v1/fine_tuning/jobs/{job_id}/events"
    first = {"object": "list", "data": events[:5], "has_more": True}
    second = {"object": "list", "data": events[5:], "has_more": True}
    backend, _ = replay(
        [
            ({"method": "GET", "path": path, "query": {"limit": "100"}}, 200, {}, first),
            ({"method": "GET", "path": path, "query": {"limit": "100", "after": events[4]["id"]}}, 200, {}, second),
        ]
    )
    got = backend.list_events(job_id, after=events[-1]["id"])
    assert [e.id for e in got] == [e["id"] for e in reversed(events[:-1])]
    assert got[-1].message == "The job has successfully completed"
    assert [e.message for e in got][:4] == [e["message"] for e in reversed(events[5:9])]
    assert "Step 300/300: training loss=0.00, validation loss=0.00, full validation loss=0.05" in [
        e.message for e in got
    ]
    assert [e.created_at for e in got] == sorted(e.created_at for e in got)


def test_a_whole_recorded_event_list(replay):
    page = load("langnostic-job-events.json")
    job_id = page["request"]["path"].split("/")[-2]
    query = {"limit": "100"}
    backend, _ = replay([({**page["request"], "query": query}, 200, {}, page["body"])])
    got = backend.list_events(job_id)
    assert [e.message.split(":")[0] for e in got] == [
        "Created fine-tuning job",
        "Validating training file",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
    ]


# -- errors and the behaviour each asks for ------------------------------------------------------------


def test_active_job_limit_is_a_wait_for_a_slot_never_retried(replay):
    backend, waits = replay([(CREATE, *answer("ruby-job-create-429-active-limit.json"))])
    with pytest.raises(JobLimitReached) as caught:
        backend.create_job(SPEC)
    assert caught.value.active == 3 and waits == [] and backend.retries == 0
    assert "maximum of 3 active requests (2 running, 1 pending)" in str(caught.value)


def test_daily_cap_stops_for_today(replay):
    backend, waits = replay([(CREATE, *answer("issue-job-create-429-daily-limit.json"))])
    with pytest.raises(AccountError) as caught:
        backend.create_job(SPEC)
    assert caught.value.resume_later and waits == [] and "resume tomorrow" in str(caught.value)


@pytest.mark.parametrize(
    "name,says",
    [
        ("dotnet-job-create-400-model-not-available.json", ["model_not_available", "--base-model"]),
        ("dotnet-job-create-400-invalid-file.json", ["HTTP 400", "invalid training_file: Invalid File Name"]),
    ],
)
def test_create_refusals_are_final(name, says, replay):
    backend, waits = replay([(CREATE, *answer(name))])
    with pytest.raises(BackendError) as caught:
        backend.create_job(SPEC)
    assert not caught.value.retryable and not isinstance(caught.value, AccountError) and waits == []
    assert all(s in str(caught.value) for s in says) and load(name)["body"]["error"]["message"] in str(caught.value)


def test_unknown_job_is_final(replay):
    backend, waits = replay([({"method": "GET", "path": "/v1/fine_tuning/jobs/123"}, *answer("ruby-job-404.json"))])
    with pytest.raises(BackendError) as caught:
        backend.get_job("123")
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (404, "fine_tune_not_found", False)


@pytest.mark.parametrize("name", ["dotnet-chat-401.json", "issue-chat-429-insufficient-quota.json"])
def test_a_refused_key_or_no_quota_stops_at_once(name, replay):
    backend, waits = replay([(CHAT, *answer(name))])
    with pytest.raises(AccountError) as caught:
        asyncio.run(backend.complete(HELLO))
    assert waits == [] and backend.retries == 0
    assert ("set OPENAI_API_KEY" if "401" in name else "add credit") in str(caught.value)


def test_a_refused_key_on_the_files_api(replay):
    """ruby-openai's recorded 401 (Aug 2023, POST /v1/files), served to the files listing."""
    listing = {"method": "GET", "path": "/v1/files", "query": {"purpose": "fine-tune"}}
    backend, _ = replay([(listing, *answer("ruby-files-401.json"))])
    with pytest.raises(AccountError, match="refused the API key"):
        backend.find_files("run.jsonl")


def test_a_chat_rate_limit_waits_as_long_as_its_message_says(replay):
    """The recorded 429 carries no retry-after: "Please try again in 7m12s" is the wait."""
    status, _, body = answer("issue-chat-429-requests-per-day.json")
    backend, waits = replay([(CHAT, status, {}, body), (CHAT, *answer("ruby-chat-completion.json"))])
    done = asyncio.run(backend.complete(HELLO))
    assert waits == [432.0] and backend.retries == 1
    assert done.text == "Hi there! How can I assist you today?" and (done.prompt_tokens, done.completion_tokens) == (
        9,
        10,
    )
    assert done.model == "gpt-3.5-turbo-0613"


def test_a_rate_limit_with_only_reset_headers_waits_for_the_exhausted_limit(replay):
    """A 429 without retry-after or a wait in its message: the exhausted limit's
    x-ratelimit-reset-* header (a Go duration) is the wait. The recorded chat answer's headers,
    with the requests limit run out."""
    status, headers, _ = answer("ruby-chat-completion.json")
    limited = dict(
        copy.deepcopy(headers), **{"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
    )
    body = {
        "error": {"message": "Rate limit reached.", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    backend, waits = replay([(CHAT, 429, limited, body), (CHAT, *answer("ruby-chat-completion.json"))])
    asyncio.run(backend.complete(HELLO))
    assert waits == [360.0]


def test_a_chat_answer_from_a_fine_tuned_model(replay):
    fixture = load("langnostic-chat-fine-tuned.json")
    request = {**fixture["request"], "body": {**fixture["request"]["body"], "temperature": 1.0}}
    backend, _ = replay([(request, 200, {}, fixture["body"])])
    ask = ChatRequest(model=request["body"]["model"], messages=request["body"]["messages"])
    done = asyncio.run(backend.complete(ask))
    assert done.model == "ft:gpt-3.5-turbo-0613:personal::8wJ6CtY5" and done.completion_tokens == 367
