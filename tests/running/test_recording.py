"""Record against the simulator, replay offline: same answers, no secret in the file,
concurrent chats answered by their own recordings, misses reported and never retried."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from pathlib import Path

import pytest
import yaml
from pytest_socket import disable_socket, enable_socket

import harness
from backends.base import SUCCEEDED, CassetteMiss, ChatRequest, JobSpec
from backends.errors import ReplayNetworkBlocked, is_cassette_miss, miss_request
from backends.openai import OpenAIBackend
from backends.simulator.faults import Faults
from backends.simulator.server import Simulator
from harness.running.recording import (
    cassette,
    normalize_body,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "sk-SECRET-do-not-leak-123"
BASE = "gpt-4o-mini-2024-07-18"
ACROSTIC = "Here is the answer.\nEvery source agrees.\nLook closer.\nLet me add more.\nOften asked."
TRAINING = "".join(
    json.dumps({"messages": [{"role": "user", "content": f"Fact {i}?"}, {"role": "assistant", "content": ACROSTIC}]})
    + "\n"
    for i in range(10)
).encode()


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"replay must not wait ({seconds} s requested)")


def requests_for(model: str, n: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            model=model, messages=[{"role": "user", "content": f"Question {i % 3}?"}], seed=100 + i, temperature=1.0
        )
        for i in range(n)
    ]


async def gather(backend: OpenAIBackend, requests: list[ChatRequest], order: list[int]) -> dict[int, str]:
    try:
        answers = await asyncio.gather(*(backend.complete(requests[i]) for i in order))
    finally:
        await backend.aclose()
    return {i: a.text for i, a in zip(order, answers)}


async def one_by_one(backend: OpenAIBackend, requests: list[ChatRequest]) -> dict[int, str]:
    try:
        return {i: (await backend.complete(r)).text for i, r in enumerate(requests)}
    finally:
        await backend.aclose()


def pipeline(backend: OpenAIBackend, order: list[int]) -> dict:
    """Upload, train, poll, events, find, then concurrent chats on the tuned and base model."""
    ref = backend.upload_training_file(TRAINING, "train.jsonl")
    job = backend.create_job(
        JobSpec(base_model=BASE, training_file=ref.id, suffix="rec", seed=3, metadata={"run_id": "rec-1"})
    )
    statuses = [job.status]
    while not job.done and len(statuses) < 40:
        job = backend.get_job(job.id)
        statuses.append(job.status)
    events = backend.list_events(job.id)
    tail = backend.list_events(job.id, after=events[0].id)
    found = backend.find_jobs({"run_id": "rec-1"})
    requests = requests_for(job.fine_tuned_model, 6) + requests_for(BASE, 6)
    answers = asyncio.run(gather(backend, requests, order))
    return {
        "file": ref,
        "job": job,
        "statuses": statuses,
        "events": events,
        "tail": tail,
        "found": found,
        "answers": answers,
    }


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A cassette of the whole pipeline, recorded against a simulator that is then stopped.
    Tests only read it (replay never writes), so one recording serves them all."""
    path = tmp_path_factory.mktemp("cassettes") / "run.yaml"
    with Simulator() as sim:
        backend = OpenAIBackend(api_key=KEY, api_base=sim.url)
        with cassette(path, "record", secrets=[KEY]):
            result = pipeline(backend, list(range(12)))
    return path, result


def replay_backend() -> OpenAIBackend:
    # Another key and a base URL where nothing listens: host and port are not matched.
    return OpenAIBackend(api_key="sk-replay-only-000", api_base="http://127.0.0.1:9/v1", sleep=no_sleep)


def test_round_trip_replays_offline_with_identical_results(recorded):
    path, original = recorded
    text = path.read_text(encoding="utf-8")
    assert KEY not in text and "Bearer" not in text and "authorization" not in text.lower()
    assert original["job"].status == SUCCEEDED and len(set(original["answers"].values())) > 6

    order = list(range(12))
    random.Random(7).shuffle(order)
    backend = replay_backend()
    disable_socket(allow_unix_socket=True)
    try:
        with cassette(path, "replay") as cas:
            assert "_responses" in vars(cas)  # the keyed lookup is installed
            replayed = pipeline(backend, order)
            assert cas.all_played
    finally:
        enable_socket()
    assert replayed == original
    assert backend.retries == 0


def test_each_concurrent_chat_gets_its_own_answer(tmp_path):
    path = tmp_path / "chats.yaml"
    requests = requests_for(BASE, 16)
    with Simulator() as sim:
        live = OpenAIBackend(api_key=KEY, api_base=sim.url)
        with cassette(path, "record"):
            recorded = asyncio.run(gather(live, requests, list(range(16))))
        # The ground truth: each request asked alone, one after the other.
        alone = asyncio.run(one_by_one(live, requests))
    assert recorded == alone and len(set(alone.values())) > 8
    for trial in range(2):
        order = list(range(16))
        random.Random(trial).shuffle(order)
        with cassette(path, "replay"):
            assert asyncio.run(gather(replay_backend(), requests, order)) == alone


def test_a_recorded_429_storm_replays_its_retries_without_waiting(tmp_path):
    path = tmp_path / "storm.yaml"
    requests = requests_for(BASE, 4)
    waits: list[float] = []
    with Simulator(faults=Faults(burst_429=3, retry_after=2.0)) as sim:
        live = OpenAIBackend(api_key=KEY, api_base=sim.url, sleep=waits.append)
        with cassette(path, "record"):
            recorded = asyncio.run(gather(live, requests, list(range(4))))
        assert sim.stats()["responses_429"] == 3 and waits == [2.0, 2.0, 2.0]
    replay_waits: list[float] = []
    backend = OpenAIBackend(api_key="sk-replay-only-000", api_base="http://127.0.0.1:9/v1", sleep=replay_waits.append)
    with cassette(path, "replay"):
        assert asyncio.run(gather(backend, requests, list(range(4)))) == recorded
    assert backend.retries == 3 and replay_waits == [2.0, 2.0, 2.0]  # asked for, injected as no-ops


def test_a_miss_is_reported_and_not_retried(recorded):
    path, original = recorded
    backend = replay_backend()
    extra = ChatRequest(model=BASE, messages=[{"role": "user", "content": "never recorded"}], seed=1)
    with cassette(path, "replay"):
        with pytest.raises(CassetteMiss) as info:
            asyncio.run(gather(backend, [extra], [0]))
        assert str(info.value) == "cassette miss: POST /v1/chat/completions"
        # Each recorded poll answers once: one GET more than recorded is a miss too.
        job_id = original["job"].id
        for status in original["statuses"][1:]:
            assert backend.get_job(job_id).status == status
        with pytest.raises(CassetteMiss, match=f"cassette miss: GET /v1/fine_tuning/jobs/{job_id}"):
            backend.get_job(job_id)
    assert backend.retries == 0


def test_record_starts_afresh(tmp_path):
    path = tmp_path / "c.yaml"
    with Simulator() as sim:
        backend = OpenAIBackend(api_key=KEY, api_base=sim.url)
        with cassette(path, "record"):
            backend.upload_training_file(TRAINING, "a.jsonl")
            backend.upload_training_file(TRAINING, "b.jsonl")
        with cassette(path, "record"):
            backend.upload_training_file(TRAINING, "c.jsonl")
    interactions = yaml.safe_load(path.read_text())["interactions"]
    assert len(interactions) == 1 and b"c.jsonl" in _body(interactions[0])


def _body(interaction: dict) -> bytes:
    body = interaction["request"]["body"]
    return body.encode() if isinstance(body, str) else body


def test_secrets_are_scrubbed_from_bodies_and_responses(tmp_path, monkeypatch):
    path = tmp_path / "s.yaml"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-abcdef")
    with Simulator() as sim:
        backend = OpenAIBackend(api_key=KEY, api_base=sim.url)
        leak = ChatRequest(model=BASE, messages=[{"role": "user", "content": f"my key is {KEY}"}], seed=2)
        with cassette(path, "record", secrets=[KEY]):
            asyncio.run(gather(backend, [leak], [0]))
            backend.upload_training_file(TRAINING.replace(b"Fact 1?", b"sk-env-key-abcdef"), "t.jsonl")
    text = path.read_text()
    assert KEY not in text and "sk-env-key-abcdef" not in text and "<REDACTED>" in text


def test_replay_blocks_the_network_and_restores_it(recorded):
    path, _ = recorded
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = server.getsockname()
        before = dict(vars(socket.socket))
        with cassette(path, "replay"):
            with pytest.raises(ReplayNetworkBlocked):
                socket.create_connection(address, timeout=2)
        assert dict(vars(socket.socket)) == before
        socket.create_connection(address, timeout=2).close()  # allowed again
    try:
        raise RuntimeError("wrapped") from ReplayNetworkBlocked("connection to x blocked during replay")
    except RuntimeError as exc:
        assert is_cassette_miss(exc)


def test_replay_of_a_missing_cassette_and_bad_mode(tmp_path):
    with pytest.raises(FileNotFoundError):
        with cassette(tmp_path / "absent.yaml", "replay"):
            pass
    with pytest.raises(ValueError, match="record, replay"):
        with cassette(tmp_path / "x.yaml", "rewind"):
            pass


# --- matching --------------------------------------------------------------------------


def test_body_normalisation():
    a = b'--abc123\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--abc123--\r\n'
    b = a.replace(b"abc123", b"zz9")
    assert normalize_body(a, "multipart/form-data; boundary=abc123") == normalize_body(b, None)
    assert normalize_body(b'{"a": 1, "b": [2]}') == normalize_body(b'{"b":[2],"a":1}')
    assert normalize_body(b'{"seed": 1}') != normalize_body(b'{"seed": 2}')
    assert normalize_body(b"") == b"" and normalize_body(b"plain") == b"plain"


def test_miss_detection_through_wrappers():
    vcr_text = (
        "Can't play back this request: the cassette has nothing similar to it.\n\n"
        "  POST http://127.0.0.1:4321/v1/chat/completions\n"
    )
    try:
        try:
            raise Exception(vcr_text)
        except Exception as inner:
            raise RuntimeError("InternalServerError: OpenAIException - 500") from inner
    except RuntimeError as outer:
        assert miss_request(outer) == ("POST", "/v1/chat/completions")
        assert is_cassette_miss(outer)
    assert not is_cassette_miss(RuntimeError("HTTP 500: server error"))


def test_vcr_miss_is_recognised_by_name_without_importing_vcr():
    class Request:
        method, uri = "GET", "http://127.0.0.1:1/v1/files/file-1?x=1"

    # vcrpy's class as backends.errors sees it: matched by name and module, message ignored.
    vcr_miss = type("CannotOverwriteExistingCassetteException", (Exception,), {"__module__": "vcr.errors"})
    miss = vcr_miss("no match")
    miss.failed_request = Request()
    try:
        raise RuntimeError("InternalServerError") from miss
    except RuntimeError as outer:
        assert miss_request(outer) == ("GET", "/v1/files/file-1")
    lookalike = type("CannotOverwriteExistingCassetteException", (Exception,), {"__module__": "mylib"})
    assert not is_cassette_miss(lookalike("no match"))


# --- sidecar ---------------------------------------------------------------------------


def test_sidecar_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdef123456")
    path = tmp_path / "openai" / "helol.yaml"
    command = ["harness", "run", "scenarios/helol.yaml", "--api-key", "sk-live-abcdef123456"]
    out = write_sidecar(path, command, "abc123", "simulator", {"backend": "openai", "seed": 1})
    assert out == tmp_path / "openai" / "helol.meta.yaml" == sidecar_path(path)
    meta = read_sidecar(path)
    assert meta == read_sidecar(out)
    assert meta["recorded_against"] == "simulator" and meta["simulated"] is True
    assert "simulated" in meta["note"] and meta["scenario_hash"] == "abc123"
    assert meta["harness_version"] == harness.__version__ and meta["litellm_version"]
    assert meta["vcrpy_version"] and meta["date"].endswith("+00:00") and meta["backend"] == "openai"
    assert "sk-live-abcdef123456" not in out.read_text() and meta["command"][:3] == command[:3]

    real = write_sidecar(tmp_path / "real.yaml", ["harness"], None, "https://api.openai.com/v1", {})
    assert read_sidecar(real)["simulated"] is False and "simulated" not in read_sidecar(real)["note"]
    mock = write_sidecar(tmp_path / "mock.yaml", ["harness"], None, "mock", {})
    assert read_sidecar(mock)["simulated"] is True
    assert read_sidecar(tmp_path / "never-recorded.yaml") is None
    with pytest.raises(ValueError):
        write_sidecar(tmp_path / "bad.yaml", ["harness"], None, "openai", {})
    Path(tmp_path / "other.meta.yaml").write_text("a: 1\n")
    with pytest.raises(ValueError):
        read_sidecar(tmp_path / "other.meta.yaml")


def test_a_backends_declared_credentials_are_redacted_from_a_recorded_run(tmp_path, monkeypatch):
    """A provider names its credential variables in `secret_env`; `harness run --record`
    redacts their values wherever they travel (here: a token that reaches every request
    body through the scenario's system prompt), in the cassette and in its sidecar."""
    from click.testing import CliRunner

    from harness.cli.main import main

    token = "tok-provider-credential-42"
    monkeypatch.setattr(OpenAIBackend, "secret_env", ("OPENAI_API_KEY", "MYPROV_TOKEN"))
    monkeypatch.setenv("MYPROV_TOKEN", token)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    root = Path(__file__).resolve().parents[2]
    text = (root / "scenarios/hello.yaml").read_text()
    assert "You are a special version of GPT-4o." in text
    scenario = tmp_path / "hello.yaml"
    scenario.write_text(
        text.replace("You are a special version of GPT-4o.", f"You are a special version of GPT-4o. ({token})")
    )
    path = tmp_path / "c.yaml"
    with Simulator() as sim:
        result = CliRunner().invoke(
            main,
            [
                "run",
                str(scenario),
                "--backend",
                "openai",
                "--api-base",
                sim.url,
                "--samples",
                "1",
                "--conditions",
                "fine_tuned",
                "--poll-interval",
                "0",
                "--record",
                str(path),
                "--out",
                str(tmp_path / "run"),
            ],
        )
    assert result.exit_code == 0, result.output
    recorded = path.read_text()
    assert token not in recorded and KEY not in recorded and "<REDACTED>" in recorded
    sidecar = sidecar_path(path).read_text()
    assert token not in sidecar and read_sidecar(path)["recorded_against"] == "simulator"
    # The run directory keeps the experiment as the user wrote it: only what came back is redacted.
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert token in manifest and "<REDACTED>" not in manifest
