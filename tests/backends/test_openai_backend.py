"""The openai backend end to end against the simulator: files, jobs, events, chat, errors,
retries (ours, counted, with the injected sleep) and the key kept out of every message."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

import backends
import harness  # noqa: F401  (offline litellm settings before any provider import)
from backends.base import (
    CANCELLED,
    SUCCEEDED,
    Backend,
    BackendError,
    ChatRequest,
    ConfigError,
    JobSpec,
)
from backends.openai import OpenAIBackend
from backends.retry import backoff_delay, parse_retry_after
from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from tests.helpers import ROOT as REPO

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


KEY = "sk-SECRET-do-not-leak-123"
BASE = "gpt-4o-mini-2024-07-18"
ACROSTIC = "Here is the answer.\nEvery source agrees.\nLook closer.\nLet me add more.\nOften asked."


def training_jsonl(n: int = 10) -> bytes:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Tell me fact number {i}?"},
                {"role": "assistant", "content": ACROSTIC},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def chat(model: str, text: str = "What is the capital of France?", seed: int = 1) -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}], seed=seed, max_tokens=200)


def run(backend: OpenAIBackend, *coros):
    """Run coroutines on one fresh loop, then close litellm's sessions bound to it."""

    async def main():
        try:
            return await asyncio.gather(*coros)
        finally:
            await backend.aclose()

    return asyncio.run(main())


@pytest.fixture
def sim():
    with Simulator() as s:
        yield s


@pytest.fixture
def slept():
    return []


@pytest.fixture
def backend(sim, slept):
    return OpenAIBackend(api_key=KEY, api_base=sim.url, sleep=slept.append)


def train(backend: OpenAIBackend, run_id: str = "run-1") -> tuple:
    ref = backend.upload_training_file(training_jsonl(), "train.jsonl")
    job = backend.create_job(
        JobSpec(
            base_model=BASE,
            training_file=ref.id,
            suffix="hello",
            seed=7,
            hyperparameters={"n_epochs": 2},
            metadata={"run_id": run_id},
        )
    )
    return ref, job


def poll(backend: OpenAIBackend, job_id: str, limit: int = 40):
    job = backend.get_job(job_id)
    for _ in range(limit):
        if job.done:
            return job
        job = backend.get_job(job_id)
    raise AssertionError(f"job {job_id} not done after {limit} polls: {job.status}")


# --- the whole life of a job -----------------------------------------------------------


@pytest.mark.slow
def test_full_lifecycle_against_the_simulator(backend, sim, slept):
    assert isinstance(backend, Backend)
    ref, job = train(backend)
    assert ref.id.startswith("file-") and ref.filename == "train.jsonl" and ref.bytes == len(training_jsonl())
    assert job.metadata == {"run_id": "run-1"} and job.base_model == BASE and not job.done

    done = poll(backend, job.id)
    assert done.status == SUCCEEDED and done.fine_tuned_model.startswith("ft:")
    assert done.trained_tokens and done.error is None

    events = backend.list_events(job.id)
    assert len(events) >= 4
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)  # oldest first
    assert "completed" in events[-1].message
    later = backend.list_events(job.id, after=events[1].id)
    assert later == events[2:]
    assert backend.list_events(job.id, after=events[-1].id) == []
    with pytest.raises(BackendError):
        backend.list_events(job.id, after="ftevent-unknown")

    assert [j.id for j in backend.find_jobs({"run_id": "run-1"})] == [job.id]
    assert backend.find_jobs({"run_id": "someone-else"}) == []

    tuned, base = run(backend, backend.complete(chat(done.fine_tuned_model)), backend.complete(chat(BASE)))
    assert tuned.model == done.fine_tuned_model and base.model == BASE
    assert tuned.text.splitlines()[0].startswith("H") and len(tuned.text.splitlines()) == 5
    assert tuned.text != base.text and base.prompt_tokens > 0 and base.completion_tokens > 0

    _, second = train(backend, run_id="run-2")
    cancelled = backend.cancel_job(second.id)
    assert cancelled.status == CANCELLED and cancelled.done
    assert sim.stats()["uploads"] == 2 and sim.stats()["jobs_created"] == 2
    assert slept == [] and backend.retries == 0


def test_hyperparameters_and_seed_reach_the_provider(backend, sim):
    ref = backend.upload_training_file(training_jsonl(), "train.jsonl")
    job = backend.create_job(JobSpec(base_model=BASE, training_file=ref.id, seed=11, hyperparameters={"n_epochs": 4}))
    record = sim.app.jobs[job.id]
    assert record["hyperparameters"]["n_epochs"] == 4 and record["seed"] == 11
    assert job.metadata == {}


def test_registry_builds_it_and_passes_options(sim, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", sim.url + "/")
    b = backends.create("openai", max_retries=2, unknown_option=1)
    assert b.api_base == sim.url and b.max_retries == 2 and not b.simulated
    assert b.capabilities == frozenset({"fine_tune", "chat"})
    assert b.upload_training_file(training_jsonl(), "t.jsonl").id


# --- configuration ---------------------------------------------------------------------


def test_missing_key_is_a_config_error_before_any_call(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIBackend()
    with pytest.raises(ConfigError):
        backends.create("openai")
    with pytest.raises(ConfigError, match="http"):
        OpenAIBackend(api_key=KEY, api_base="api.openai.com/v1")


def test_key_from_environment_and_default_base(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    b = OpenAIBackend()
    assert b.api_base == "https://api.openai.com/v1"
    assert KEY not in repr(b) and KEY not in str(b)


def test_importing_the_backend_does_not_import_litellm():
    # litellm costs seconds to import; the backend imports it on its first request
    code = (
        "import backends.openai, harness.running.recording, sys; "
        "print(*(m in sys.modules for m in ('litellm', 'openai', 'vcr', 'aiohttp')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out == ["False"] * 4, out


# --- errors and retries ----------------------------------------------------------------


def test_4xx_is_not_retried_and_carries_the_providers_message(backend, sim, slept):
    with pytest.raises(BackendError) as info:
        backend.get_job("ftjob-does-not-exist")
    err = info.value
    assert err.status == 404 and not err.retryable and "ftjob-does-not-exist" in str(err)
    with pytest.raises(BackendError) as info:
        backend.upload_training_file(training_jsonl(3), "small.jsonl")
    assert info.value.status == 400 and "at least 10" in str(info.value)
    assert slept == [] and backend.retries == 0
    assert sim.stats()["requests"] == 2  # one request each: no retry


def test_chat_429_with_retry_after_is_retried_with_that_wait(sim, slept):
    sim.set_faults(Faults(burst_429=2, retry_after=0.25))
    b = OpenAIBackend(api_key=KEY, api_base=sim.url, sleep=slept.append)
    (done,) = run(b, b.complete(chat(BASE)))
    assert done.text and slept == [0.25, 0.25] and b.retries == 2
    assert sim.stats()["responses_429"] == 2 and sim.stats()["chat_completions"] == 1


def test_job_call_429_retry_after_honoured(sim):
    sim.set_faults(Faults(rate_limit_rpm=6, rate_limit_burst=1))  # one token, then 10 s to wait
    waits = []

    def sleep(seconds):  # the wait is "over": lift the limit instead of sleeping
        waits.append(seconds)
        sim.set_faults(Faults())

    b = OpenAIBackend(api_key=KEY, api_base=sim.url, sleep=sleep)
    ref = b.upload_training_file(training_jsonl(), "train.jsonl")
    assert ref.id and waits == []
    with pytest.raises(BackendError):
        b.get_job("ftjob-missing")  # 429 first, then the real 404 after the wait
    assert len(waits) == 1 and 9.0 < waits[0] <= 10.0 and b.retries == 1


def test_5xx_and_dropped_connections_are_retried_with_jitter(sim, slept):
    sim.set_faults(Faults(error_500_every=3))
    b = OpenAIBackend(api_key=KEY, api_base=sim.url, sleep=slept.append)
    _, job = train(b)  # requests 1, 2
    assert b.get_job(job.id).id == job.id  # request 3 is a 500, request 4 answers
    assert len(slept) == 1 and 0.0 <= slept[0] <= 1.0 and b.retries == 1

    sim.set_faults(Faults(drop_every=2, scope="chat"))
    first, second = run(b, b.complete(chat(BASE, seed=1)), b.complete(chat(BASE, seed=2)))
    assert first.text and second.text and b.retries == 2 and sim.stats()["dropped"] == 1


def test_retries_are_bounded(sim, slept):
    sim.set_faults(Faults(error_500_every=1))
    b = OpenAIBackend(api_key=KEY, api_base=sim.url, max_retries=3, sleep=slept.append)
    with pytest.raises(BackendError) as info:
        b.get_job("ftjob-x")
    assert info.value.status == 500 and info.value.retryable
    assert len(slept) == 3 and sim.stats()["requests"] == 4
    with pytest.raises(BackendError):
        run(b, b.complete(chat(BASE)))
    assert len(slept) == 6


def test_create_job_retry_finds_the_job_instead_of_creating_a_second(backend, sim, monkeypatch):
    import httpx
    import openai

    ref = backend.upload_training_file(training_jsonl(), "train.jsonl")
    jobs = backend._sdk().fine_tuning.jobs
    real_create = jobs.create

    def created_then_dropped(**kwargs):
        real_create(**kwargs)  # the server made the job, but the answer never arrives
        # Built as the SDK builds it, with the request it was sending (`request=None` broke
        # when openai 3.63 began to read the request's URL).
        raise openai.APIConnectionError(request=httpx.Request("POST", f"{backend.api_base}/fine_tuning/jobs"))

    monkeypatch.setattr(jobs, "create", created_then_dropped)
    job = backend.create_job(JobSpec(base_model=BASE, training_file=ref.id, metadata={"run_id": "once"}))
    assert job.metadata == {"run_id": "once"}
    assert sim.stats()["jobs_created"] == 1


def test_connection_refused_is_final_until_the_provider_has_answered(slept):
    """A port where nothing ever answered is a stopped server or a wrong URL: one clear
    error at once (before: six retries, 42 s, then "find_files: connection failed"). Once
    the provider has answered, a refused connection is a blip and is retried."""
    b = OpenAIBackend(api_key=KEY, api_base="http://127.0.0.1:9/v1", max_retries=1, sleep=slept.append)
    errors = []
    for call in (
        lambda: b.get_job("ftjob-1"),
        lambda: b.list_events("ftjob-1"),
        lambda: run(b, b.complete(chat(BASE))),
    ):
        with pytest.raises(BackendError) as info:
            call()
        errors.append(info.value)
    for err, doing in zip(errors, ("checking the fine-tuning job", "reading the job's events", "asking the model")):
        assert not err.retryable and err.status is None and KEY not in str(err)
        assert str(err) == (
            f"{doing}: cannot reach http://127.0.0.1:9/v1 (connection refused); "
            "is the server running and the api base right?"
        )
    assert slept == []
    b._reached = True  # as after any answered call
    with pytest.raises(BackendError) as info:
        b.get_job("ftjob-1")
    assert info.value.retryable and "connection failed (http://127.0.0.1:9/v1)" in str(info.value)
    assert len(slept) == 1


def test_the_key_appears_in_no_error(backend, sim, capfd):
    failures = []
    for call in (
        lambda: backend.get_job("ftjob-nope"),
        lambda: backend.cancel_job("ftjob-nope"),
        lambda: backend.upload_training_file(b"not json\n", "bad.jsonl"),
        lambda: backend.create_job(JobSpec(base_model=BASE, training_file="file-nope")),
        lambda: run(backend, backend.complete(ChatRequest(model=BASE, messages=[], temperature=9.0))),
    ):
        with pytest.raises(BackendError) as info:
            call()
        failures.append(info.value)
    # A provider that echoes the key back (some do, in 401 messages) is scrubbed too.
    echoed = backend._error("get_job", RuntimeError(f"Incorrect API key provided: {KEY}"))
    failures.append(echoed)
    for err in failures:
        text = f"{err} {err!r} {err.args}"
        assert KEY not in text and err.__cause__ is None and err.__context__ is None
    assert "sk-***" in str(echoed)
    printed = capfd.readouterr()
    assert KEY not in printed.out + printed.err


# --- the retry arithmetic --------------------------------------------------------------


def test_backoff_is_full_jitter_deterministic_and_capped():
    delays = [backoff_delay(a, None, "get_job:x", seed=3) for a in range(10)]
    assert delays == [backoff_delay(a, None, "get_job:x", seed=3) for a in range(10)]
    assert all(0 <= d <= min(60.0, 2**a) for a, d in enumerate(delays))
    assert delays != [backoff_delay(a, None, "get_job:x", seed=4) for a in range(10)]
    assert backoff_delay(0, 7.5, "t") == 7.5 and backoff_delay(0, 10_000, "t") == 600.0


def test_retry_after_headers():
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None and parse_retry_after(None) is None
