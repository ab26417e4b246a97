"""Local fine-tuning jobs as a provider's: a detached worker per job, events with the loss,
a LoRA adapter, found again by metadata; a killed worker restarts from its epoch checkpoint
and ends with the same adapter bytes; cancel kills it; a failing worker fails the job."""

from __future__ import annotations

import os
import re
import shutil
import signal

import pytest

from backends.base import JobSpec
from backends.jobs import runner as jobs
from backends.jobs.worker import HOLD_ENV
from backends.local import LocalBackend
from tests.backends.tiny_model import TRAIN_HYPER, pid_alive, training_jsonl, wait_for

ADAPTER = "adapter_model.safetensors"


def _job_dir(backend, job):
    return backend.store.root / "jobs" / job.id


def _start(backend, tiny_model, run: str, data: bytes | None = None, **spec):
    file = backend.upload_training_file(data or training_jsonl(), f"{run}.jsonl")
    fields = dict(suffix="hello", hyperparameters=TRAIN_HYPER, seed=7, metadata={"run": run}) | spec
    return backend.create_job(JobSpec(str(tiny_model), file.id, **fields))


def _finish(backend, job):
    return wait_for(lambda: (j := backend.get_job(job.id)).done and j, timeout=180, step=0.2)


def _messages(backend, job):
    return [e.message for e in backend.list_events(job.id)]


def test_a_job_trains_a_lora_adapter_and_reports_the_loss_falling(trained):
    backend, job, _ = trained
    assert re.fullmatch(r"ft:.*:local:hello:[0-9a-f]{8}", job.fine_tuned_model)
    assert job.trained_tokens > 0 and job.metadata == {"run": "shared"}
    messages = _messages(backend, job)
    steps = [float(m.split("loss=")[1].split(",")[0]) for m in messages if m.startswith("Step ")]
    epochs = [float(m.split("loss=")[1].split(",")[0]) for m in messages if m.startswith("Epoch ")]
    assert len(steps) == 3 * 6 and len(epochs) == 3
    assert epochs == sorted(epochs, reverse=True) and epochs[-1] < epochs[0] - 0.1
    assert all("tokens/s" in m for m in messages if m.startswith(("Step ", "Epoch ")))
    assert messages[-2] == f"New fine-tuned model created: {job.fine_tuned_model}"
    assert (_job_dir(backend, job) / "adapter" / ADAPTER).is_file()
    events = backend.list_events(job.id)
    assert backend.list_events(job.id, after=events[-3].id) == events[-2:]


def test_jobs_are_found_again_by_their_metadata(trained):
    backend, job, _ = trained
    again = LocalBackend(store_dir=backend.store.root)  # a new process would see the same
    assert [j.id for j in again.find_jobs({"run": "shared"})] == [job.id]
    assert again.find_jobs({"run": "other"}) == []
    assert again.get_job(job.id) == job


def test_a_killed_worker_restarts_from_its_checkpoint_and_makes_the_same_adapter(
    trained, tiny_model, tmp_path, monkeypatch
):
    shared, reference, data = trained
    backend = LocalBackend(store_dir=tmp_path / "store")
    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv(HOLD_ENV, str(hold))  # the worker pauses after epoch 1 (inherited env)
    job = _start(backend, tiny_model, "killed", data)
    job_dir = _job_dir(backend, job)
    wait_for(lambda: any(m.startswith("Epoch 1/3") for m in _messages(backend, job)))
    pid = int((job_dir / "worker.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not jobs.alive(job_dir))
    monkeypatch.delenv(HOLD_ENV)  # the restarted worker runs through
    job = backend.get_job(job.id)
    assert job.status == "running"
    job = _finish(backend, job)
    assert job.status == "succeeded"
    messages = _messages(backend, job)
    assert any(f"worker (pid {pid}) is gone" in m and "epoch 1 checkpoint" in m for m in messages)
    assert "Continuing from the epoch 1 checkpoint" in messages
    assert sum(m.startswith("Epoch 1/3") for m in messages) == 1  # epoch 1 was not trained twice
    assert [j.id for j in backend.find_jobs({"run": "killed"})] == [job.id]
    ours = (job_dir / "adapter" / ADAPTER).read_bytes()
    theirs = (_job_dir(shared, reference) / "adapter" / ADAPTER).read_bytes()
    assert ours == theirs
    assert job.fine_tuned_model.rsplit(":", 1)[1] == reference.fine_tuned_model.rsplit(":", 1)[1]  # another store


def test_jobs_on_one_machine_train_one_at_a_time(tiny_model, tmp_path, monkeypatch):
    backend = LocalBackend(store_dir=tmp_path / "store")
    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv(HOLD_ENV, str(hold))  # the first pauses after its epoch 1, holding the slot
    first = _start(backend, tiny_model, "first")
    wait_for(lambda: any(m.startswith("Epoch 1/3") for m in _messages(backend, first)))
    second = _start(backend, tiny_model, "second", seed=8)
    wait_for(lambda: "Queued: another job is training on this machine" in _messages(backend, second))
    assert backend.get_job(second.id).status == "queued"
    assert not any(m.startswith("Loading ") for m in _messages(backend, second))
    hold.unlink()
    assert _finish(backend, first).status == "succeeded"
    assert _finish(backend, second).status == "succeeded"
    started = [m for m in _messages(backend, second) if m.startswith("Loading ")]
    assert len(started) == 1  # it trained once the first had finished


def test_a_worker_that_keeps_dying_fails_the_job_with_a_clear_message(tiny_model, tmp_path):
    backend = LocalBackend(store_dir=tmp_path / "store")
    job = _start(backend, tiny_model, "dies")
    job_dir = _job_dir(backend, job)
    jobs.update_state(job_dir, restarts=jobs.MAX_RESTARTS)
    os.killpg(int((job_dir / "worker.pid").read_text()), signal.SIGKILL)
    wait_for(lambda: not jobs.alive(job_dir))
    job = backend.get_job(job.id)
    assert job.status == "failed"
    assert f"stopped without finishing {jobs.MAX_RESTARTS + 1} times" in job.error
    assert "worker.log" in job.error
    assert backend.get_job(job.id).status == "failed"  # and stays so: no restart


def test_cancel_kills_the_worker_and_the_job_stays_cancelled(trained, tiny_model, tmp_path, monkeypatch):
    backend = LocalBackend(store_dir=tmp_path / "store")
    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv(HOLD_ENV, str(hold))
    job = _start(backend, tiny_model, "cancel")
    job_dir = _job_dir(backend, job)
    wait_for(lambda: any(m.startswith("Epoch 1/3") for m in _messages(backend, job)))
    pid = int((job_dir / "worker.pid").read_text())
    job = backend.cancel_job(job.id)
    assert job.status == "cancelled" and not pid_alive(pid)
    hold.unlink()
    assert backend.get_job(job.id).status == "cancelled"
    assert _messages(backend, job)[-1] == "Job cancelled"
    assert not (job_dir / "adapter").exists()
    shared, done, _ = trained
    assert shared.cancel_job(done.id).status == "succeeded"  # a finished job is left as it is


def test_a_worker_that_raises_fails_the_job_with_the_reason(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "chat_template.jinja").write_text("{{ raise_exception('this template refuses to render') }}")
    backend = LocalBackend(store_dir=tmp_path / "store")
    job = _finish(backend, _start(backend, broken, "broken"))
    assert job.status == "failed"
    assert "this template refuses to render" in job.error and "worker.log" in job.error
    assert "Traceback" in (_job_dir(backend, job) / "worker.log").read_text()


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"hyperparameters": {"n_epochs": 0}}, "n_epochs"),
        ({"suffix": "a:b"}, "suffix"),
    ],
)
def test_a_bad_job_spec_is_refused_before_a_worker_starts(tiny_model, tmp_path, spec, message):
    from backends.base import BackendError

    backend = LocalBackend(store_dir=tmp_path / "store")
    with pytest.raises(BackendError, match=message):
        _start(backend, tiny_model, "bad", **spec)
    assert not (tmp_path / "store" / "jobs").exists()
