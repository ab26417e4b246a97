"""The simulator's catalogue as an unmodified openai SDK client sees it: files (content,
delete), models (list, retrieve), a job's checkpoints, and the chat options it refuses
instead of faking (stream, n, logprobs)."""

from __future__ import annotations

import json
import time

import pytest

import harness  # noqa: F401  (offline settings before any provider import)
from backends.mock import MockBackend
from backends.simulator.server import Simulator

openai = pytest.importorskip("openai")
from openai.types import FileDeleted, FileObject, Model  # noqa: E402
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint  # noqa: E402

BASE = "gpt-4o-mini-2024-07-18"
DATA = "\n".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"Question {i}?"},
                {"role": "assistant", "content": "Here\nEvery\nLine\nLooks\nOkay"},
            ]
        }
    )
    for i in range(10)
).encode()


@pytest.fixture(scope="module")
def sdk():
    with Simulator(port=0, backend=MockBackend()) as s:
        yield openai.OpenAI(api_key="sk-test", base_url=s.url, max_retries=0)


@pytest.fixture(scope="module")
def job(sdk):
    f = sdk.files.create(file=("train.jsonl", DATA), purpose="fine-tune")
    created = sdk.fine_tuning.jobs.create(model=BASE, training_file=f.id, suffix="cat", seed=1)
    for _ in range(100):
        done = sdk.fine_tuning.jobs.retrieve(created.id)
        if done.status in ("succeeded", "failed", "cancelled"):
            return done
        time.sleep(0.01)
    raise AssertionError("the job never ended")


def test_file_content_is_what_was_uploaded_and_delete_removes_it(sdk):
    f = sdk.files.create(file=("other.jsonl", DATA), purpose="fine-tune")
    FileObject.model_validate(sdk.files.retrieve(f.id).model_dump(), strict=True)
    assert sdk.files.content(f.id).read() == DATA
    deleted = sdk.files.delete(f.id)
    assert FileDeleted.model_validate(deleted.model_dump(), strict=True).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(f.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.content(f.id)
    with pytest.raises(openai.BadRequestError):  # a deleted file cannot be trained on
        sdk.fine_tuning.jobs.create(model=BASE, training_file=f.id)


def test_models_lists_base_models_and_the_fine_tuned_one(sdk, job):
    assert job.status == "succeeded" and job.fine_tuned_model
    ids = [m.id for m in sdk.models.list()]
    assert BASE in ids and job.fine_tuned_model in ids
    found = sdk.models.retrieve(job.fine_tuned_model)
    Model.model_validate(found.model_dump(), strict=True)
    assert found.id == job.fine_tuned_model
    with pytest.raises(openai.NotFoundError) as err:
        sdk.models.retrieve("ft:gpt-4o-mini-2024-07-18:nobody::missing")
    assert err.value.code == "model_not_found"


def test_a_succeeded_job_has_a_checkpoint_at_each_of_its_last_three_epochs(sdk, job):
    checkpoints = sdk.fine_tuning.jobs.checkpoints.list(job.id).data
    assert len(checkpoints) == 3  # as recorded: the last three epoch boundaries, newest first
    ckpts = [FineTuningJobCheckpoint.model_validate(c.model_dump(), strict=True) for c in checkpoints]
    assert all(c.fine_tuning_job_id == job.id and c.id.startswith("ftckpt_") for c in ckpts)
    assert ckpts[0].fine_tuned_model_checkpoint == job.fine_tuned_model  # the last is the model itself
    assert all(":ckpt-step-" in c.fine_tuned_model_checkpoint for c in ckpts[1:])
    steps = [c.step_number for c in ckpts]
    assert steps == sorted(steps, reverse=True) and steps[0] - steps[1] == steps[1] - steps[2] > 0
    assert all(c.metrics.train_loss is not None for c in ckpts)
    with pytest.raises(openai.NotFoundError):
        sdk.fine_tuning.jobs.checkpoints.list("ftjob-nope")


@pytest.mark.parametrize(
    "option",
    [{"stream": True}, {"n": 2}, {"logprobs": True}, {"logprobs": True, "top_logprobs": 3}],
    ids=["stream", "n", "logprobs", "top_logprobs"],
)
def test_chat_options_the_simulator_cannot_serve_are_refused_not_faked(sdk, option):
    with pytest.raises(openai.BadRequestError) as err:
        sdk.chat.completions.create(model=BASE, messages=[{"role": "user", "content": "Hi"}], **option)
    assert "not supported" in str(err.value) or "must be 1" in str(err.value)


def test_contents_survive_a_restart(tmp_path):
    state = tmp_path / "mock.json"
    with Simulator(state_path=state) as s:
        first = openai.OpenAI(api_key="sk-test", base_url=s.url, max_retries=0)
        file_id = first.files.create(file=("t.jsonl", DATA), purpose="fine-tune").id
    with Simulator(state_path=state) as s:
        again = openai.OpenAI(api_key="sk-test", base_url=s.url, max_retries=0)
        assert again.files.content(file_id).read() == DATA
