"""Fixtures for the local backend's tests: a tiny model folder built once per session, a
fresh store per test, and no hub access (HF_HUB_OFFLINE=1, inherited by training workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.store import STORE_ENV
from backends.local.worker import HOLD_ENV


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(HOLD_ENV, raising=False)
    monkeypatch.delenv("HARNESS_LOCAL_DEVICE", raising=False)


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
