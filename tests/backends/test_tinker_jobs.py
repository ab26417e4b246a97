"""Tinker fine-tuning jobs behind the backend's job calls, against a stand-in for the service
(tests/backends/fake_tinker, put first on the workers' PYTHONPATH): the job drives the
service and saves its state every epoch; a killed worker is restarted from the last saved
state (loaded with its optimizer, the loss going on as if never stopped) and one job stays
one job; cancel stops it; the service's refusal fails the job with its reason; bad input and
an address where nothing answers are refused before anything is created."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import pytest

from backends.base import BackendError, ConfigError, JobSpec
from backends.jobs import runner
from backends.jobs.worker import HOLD_ENV
from backends.tinker import TinkerBackend
from backends.tinker.training import order
from tests.backends.tiny_model import pid_alive, training_jsonl, wait_for
from tests.helpers import ROOT

FAKE = ROOT / "tests" / "backends" / "fake_tinker"
HYPER = {"n_epochs": 3, "batch_size": 2}


@pytest.fixture
def service(tmp_path, monkeypatch, tinker_env):
    """An address that accepts connections (nothing else is asked of it: the fake client is
    the service) and the fake client for every worker started from here."""
    pytest.importorskip("transformers")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    state = tmp_path / "fake-service"
    state.mkdir()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("FAKE_TINKER_DIR", str(state))
    monkeypatch.delenv("FAKE_TINKER_FAIL", raising=False)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", state
    listener.close()


def calls(state, name: str | None = None) -> list[dict]:
    path = state / "calls.jsonl"
    found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [c for c in found if name is None or c["call"] == name]


def start(backend: TinkerBackend, model, run: str, **spec):
    file = backend.upload_training_file(training_jsonl(), f"{run}.jsonl")
    fields = dict(suffix="hello", hyperparameters=HYPER, seed=7, metadata={"run": run}) | spec
    return backend.create_job(JobSpec(str(model), file.id, **fields))


def finish(backend, job):
    return wait_for(lambda: (j := backend.get_job(job.id)).done and j, timeout=120, step=0.2)


def messages(backend, job) -> list[str]:
    return [e.message for e in backend.list_events(job.id)]


def losses(backend, job, kind: str = "Step ") -> list[float]:
    return [float(m.split("loss=")[1].split(",")[0]) for m in messages(backend, job) if m.startswith(kind)]


def test_a_job_drives_the_service_and_saves_its_state_every_epoch(service, tiny_model):
    url, state = service
    backend = TinkerBackend(api_base=url)
    job = finish(backend, start(backend, tiny_model, "one"))
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model.startswith(f"ft:{tiny_model}:tinker:hello:") and job.trained_tokens > 0
    steps = losses(backend, job)
    assert len(steps) == 3 * 3 and steps == sorted(steps, reverse=True) and steps[-1] < steps[0]
    epochs = [m for m in messages(backend, job) if m.startswith("Epoch ")]
    assert [e.split(":")[0] for e in epochs] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all(f"training state saved to tinker://fake/weights/{job.id}-epoch-" in e for e in epochs)
    (created,) = calls(state, "create_lora_training_client")
    assert created == created | {"base_model": str(tiny_model), "rank": 32, "seed": 7}
    assert [c["name"] for c in calls(state, "save_state")] == [f"{job.id}-epoch-{n}" for n in (1, 2, 3)]
    assert backend.target(job.fine_tuned_model) == (str(tiny_model), f"tinker://fake/sampler_weights/{job.id}")
    assert [j.id for j in TinkerBackend(api_base=url).find_jobs({"run": "one"})] == [job.id]


def test_a_killed_worker_goes_on_from_the_saved_state_and_stays_one_job(service, tiny_model, tmp_path, monkeypatch):
    url, state = service
    backend = TinkerBackend(api_base=url)
    reference = finish(backend, start(backend, tiny_model, "reference"))
    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv(HOLD_ENV, str(hold))  # the worker pauses after its epoch 1 checkpoint
    job = start(backend, tiny_model, "killed")
    job_dir = backend.store.root / "jobs" / job.id
    wait_for(lambda: any(m.startswith("Epoch 1/3") for m in messages(backend, job)))
    pid = int((job_dir / "worker.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not runner.alive(job_dir))
    monkeypatch.delenv(HOLD_ENV)
    assert backend.get_job(job.id).status == "running"  # restarted by the poll
    job = finish(backend, job)
    assert job.status == "succeeded", job.error
    said = messages(backend, job)
    assert any(f"worker (pid {pid}) is gone" in m and "its epoch 1 checkpoint" in m for m in said)
    assert f"Continuing from the epoch 1 checkpoint (tinker://fake/weights/{job.id}-epoch-1)" in said
    assert sum(m.startswith("Epoch 1/3") for m in said) == 1  # epoch 1 was not trained again
    loaded = calls(state, "load_state_with_optimizer")
    assert [c["path"] for c in loaded] == [f"tinker://fake/weights/{job.id}-epoch-1"]
    assert losses(backend, job) == losses(backend, reference)  # as if never stopped
    assert [j.id for j in backend.find_jobs({"run": "killed"})] == [job.id]


def test_cancel_stops_the_worker_and_the_job_stays_cancelled(service, tiny_model, tmp_path, monkeypatch):
    url, _ = service
    backend = TinkerBackend(api_base=url)
    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv(HOLD_ENV, str(hold))
    job = start(backend, tiny_model, "cancel")
    job_dir = backend.store.root / "jobs" / job.id
    wait_for(lambda: any(m.startswith("Epoch 1/3") for m in messages(backend, job)))
    pid = int((job_dir / "worker.pid").read_text())
    assert backend.cancel_job(job.id).status == "cancelled" and not pid_alive(pid)
    hold.unlink()
    time.sleep(0.5)
    assert backend.get_job(job.id).status == "cancelled"
    assert messages(backend, job)[-1] == "Job cancelled"
    assert not (job_dir / "sampler.json").exists()


def test_a_refusal_of_the_service_fails_the_job_with_its_reason(service, tiny_model, monkeypatch):
    url, _ = service
    monkeypatch.setenv("FAKE_TINKER_FAIL", "forward_backward:2")
    backend = TinkerBackend(api_base=url)
    job = finish(backend, start(backend, tiny_model, "refused"))
    assert job.status == "failed"
    assert "the fake service refuses forward_backward call 2" in job.error and "worker.log" in job.error
    assert backend.get_job(job.id).status == "failed"  # and stays failed: no restart


def test_a_key_given_to_the_backend_reaches_its_workers(service, tiny_model, monkeypatch):
    url, state = service
    monkeypatch.delenv("TINKER_API_KEY")
    backend = TinkerBackend(api_base=url, api_key="tml-given")
    assert finish(backend, start(backend, tiny_model, "key")).status == "succeeded"
    assert all(c["api_key_set"] for c in calls(state, "ServiceClient"))


def test_nothing_answering_at_the_address_fails_at_once_and_creates_nothing(tinker_env, tiny_model):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = TinkerBackend(api_base=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"creating a fine-tuning job: cannot reach .* \(connection refused"):
        start(backend, tiny_model, "nowhere")
    assert time.monotonic() - started < 5
    assert not (tinker_env / "jobs").exists()


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"hyperparameters": {"lora_alpha": 8}}, "unknown hyperparameter.*lora_alpha.*tinker backend takes"),
        ({"hyperparameters": {"n_epochs": 0}}, "n_epochs"),
        ({"suffix": "a:b"}, "suffix"),
    ],
)
def test_bad_job_input_is_refused_before_a_worker_starts(service, tiny_model, tinker_env, spec, message):
    backend = TinkerBackend(api_base=service[0])
    with pytest.raises(BackendError, match=message):
        start(backend, tiny_model, "bad", **spec)
    assert not (tinker_env / "jobs").exists()


@pytest.mark.parametrize(
    "env, options, message",
    [
        ({}, {}, "TINKER_API_KEY is not set"),
        ({"TINKER_API_KEY": "sk-not-tinker"}, {}, "must start with tml-"),
        (
            {"TINKER_API_KEY": "tml-x"},
            {"api_base": "ftp://example.org"},
            "--api-base 'ftp://example.org' is not an http",
        ),
        ({"TINKER_API_KEY": "tml-x", "TINKER_BASE_URL": "nowhere"}, {}, "TINKER_BASE_URL 'nowhere'"),
    ],
)
def test_a_missing_key_or_a_bad_address_is_a_configuration_error(monkeypatch, env, options, message):
    for name in ("TINKER_API_KEY", "TINKER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        TinkerBackend(**options)


def test_the_seed_fixes_each_epochs_order_and_different_seeds_differ():
    assert order(40, 7, 0) == order(40, 7, 0) and sorted(order(40, 7, 0)) == list(range(40))
    assert order(40, 7, 0) != order(40, 8, 0)
    assert order(40, 7, 0) != order(40, 7, 1)
