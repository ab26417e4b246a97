"""Fixtures for the local backend's tests: a tiny model folder built once per session, a
fresh store per test, and no hub access (HF_HUB_OFFLINE=1, inherited by training workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.jobs.worker import HOLD_ENV
from backends.local.store import STORE_ENV


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(HOLD_ENV, raising=False)
    for name in ("HARNESS_LOCAL_DEVICE", "HARNESS_LOCAL_DTYPE", "HARNESS_LOCAL_MAX_BATCH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    from tests.backends import tiny_model as builder

    return builder.build(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv(STORE_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def trained(tiny_model, tmp_path_factory):
    """One finished job on the tiny model, shared by the tests that only read it:
    (backend, job, training bytes)."""
    from backends.base import JobSpec
    from backends.local import LocalBackend
    from tests.backends.tiny_model import TRAIN_HYPER, training_jsonl, wait_for

    backend = LocalBackend(store_dir=tmp_path_factory.mktemp("store"), base_model=str(tiny_model))
    data = training_jsonl()
    file = backend.upload_training_file(data, "train.jsonl")
    job = backend.create_job(
        JobSpec(
            str(tiny_model), file.id, suffix="hello", hyperparameters=TRAIN_HYPER, seed=7, metadata={"run": "shared"}
        )
    )
    job = wait_for(lambda: (j := backend.get_job(job.id)).done and j, timeout=180, step=0.2)
    assert job.status == "succeeded", job.error
    return backend, job, data


# -- the tinker backend ----------------------------------------------------------------


@pytest.fixture(scope="session")
def tinker_server(tmp_path_factory):
    """SkyRL's Tinker-API server on loopback serving a tiny random Qwen3 (tests/backends/
    tinker_server.py), started once per session and stopped at its end."""
    import os

    from tests.backends import tinker_server as server

    python = server.venv_python()
    required = os.environ.get(server.REQUIRED_ENV) == "1"  # CI: what is missing fails, never skips
    if python is None:
        if required:
            pytest.fail(server.missing_reason())
        pytest.skip(server.missing_reason())
    for package in ("tinker", "torch"):  # the client, and torch to build the model
        if required:
            __import__(package)
        else:
            pytest.importorskip(package)
    from tests.backends import tiny_model

    model = tiny_model.build(tmp_path_factory.mktemp("models") / "tiny-qwen3", arch="qwen3")
    running = server.start(python, model, tmp_path_factory.mktemp("tinker-server"))
    yield running
    server.stop(running)


@pytest.fixture
def tinker_env(tmp_path, monkeypatch) -> Path:
    """A key the client accepts (the test server takes any tml- key) and a fresh store."""
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    monkeypatch.delenv("TINKER_BASE_URL", raising=False)
    monkeypatch.setenv("HARNESS_TINKER_STORE", str(tmp_path / "tinker-store"))
    return tmp_path / "tinker-store"
