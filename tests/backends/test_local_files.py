"""The local backend's training files (content-addressed store, provider-like validation) and
hyperparameters (defaults, the documented learning-rate mapping, refusals). No torch here."""

from __future__ import annotations

import json

import pytest

from backends.base import BackendError
from backends.local import hyper
from backends.local.backend import LocalBackend
from harness.domain.scenario import ScenarioError, load_scenario
from harness.domain.tokens import default_epochs
from tests.backends.tiny_model import training_jsonl


def test_upload_is_content_addressed_and_found_by_name(tmp_path):
    backend = LocalBackend(store_dir=tmp_path)
    data = training_jsonl(3)
    first = backend.upload_training_file(data, "run-a.jsonl")
    again = backend.upload_training_file(data, "run-b.jsonl")
    assert first.id == again.id and first.bytes == len(data)
    assert (tmp_path / "files" / f"{first.id}.jsonl").read_bytes() == data
    assert len(list((tmp_path / "files").glob("*.jsonl"))) == 1
    assert [f.id for f in backend.find_files("run-a.jsonl")] == [first.id]
    assert [f.id for f in backend.find_files("run-b.jsonl")] == [first.id]
    assert backend.find_files("never.jsonl") == []
    other = backend.upload_training_file(training_jsonl(4), "run-a.jsonl")
    assert [f.id for f in backend.find_files("run-a.jsonl")] == [other.id, first.id]  # newest first


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "no examples"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json}\n", "line 1: invalid JSON"),
        (b'{"messages": []}\n', "line 1: expected an object with a non-empty 'messages' list"),
        (json.dumps({"messages": [{"role": "tool", "content": "x"}]}).encode(), "needs role system, user or assistant"),
        (json.dumps({"messages": [{"role": "user", "content": 3}]}).encode(), "has no text content"),
        (
            json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(),
            "last message must be from the assistant",
        ),
    ],
)
def test_a_malformed_training_file_is_refused_like_a_provider_would(tmp_path, data, message):
    with pytest.raises(BackendError, match=message) as e:
        LocalBackend(store_dir=tmp_path).upload_training_file(data, "x.jsonl")
    assert e.value.status == 400 and not e.value.retryable
    assert not (tmp_path / "files").exists()


def test_unknown_files_and_jobs_are_404(tmp_path):
    backend = LocalBackend(store_dir=tmp_path)
    for call in (
        lambda: backend.get_job("ftjob-local-nope"),
        lambda: backend.list_events("../x"),
        lambda: backend.cancel_job("nope"),
    ):
        with pytest.raises(BackendError) as e:
            call()
        assert e.value.status == 404
    with pytest.raises(BackendError, match="not found"):
        backend.store.file_path("file-local-0000")


def test_defaults_follow_the_documented_rules():
    h = hyper.resolve({}, n_examples=10, seed=None)
    assert (h.n_epochs, h.batch_size, h.learning_rate, h.lora_r, h.lora_alpha, h.seed) == (10, 1, 5e-4, 16, 32.0, 0)
    assert hyper.resolve({"batch_size": "auto"}, 400, 3).batch_size == 8
    for n in (0, 1, 10, 33, 34, 500, 9000, 100_000):
        assert hyper.auto_epochs(n) == default_epochs(n)  # the harness estimates with the same rule


def test_the_learning_rate_is_the_multiplier_times_the_base_or_given_directly():
    assert hyper.resolve({"learning_rate_multiplier": 2}, 10, 1).learning_rate == 2 * hyper.BASE_LEARNING_RATE
    assert hyper.resolve({"learning_rate_multiplier": "auto"}, 10, 1).learning_rate == hyper.BASE_LEARNING_RATE
    h = hyper.resolve({"learning_rate": 0.01, "lora_r": 4, "lora_alpha": 8, "n_epochs": 2}, 10, 1)
    assert (h.learning_rate, h.lora_r, h.lora_alpha, h.n_epochs) == (0.01, 4, 8.0, 2)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_epochs": 0}, "n_epochs: expected an integer from 1 to 50"),
        ({"n_epochs": True}, "n_epochs"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"lora_r": 0}, "lora_r"),
        ({"lora_alpha": -1}, "lora_alpha: expected a number above 0"),
        ({"learning_rate": "auto"}, "learning_rate: expected a number above 0"),
        ({"learning_rate": 1e-3, "learning_rate_multiplier": 2}, "not both"),
        ({"warmup": 3}, "unknown hyperparameter"),
    ],
)
def test_bad_hyperparameters_are_refused(params, message):
    with pytest.raises(BackendError, match=message) as e:
        hyper.resolve(params, 10, 0)
    assert e.value.status == 400


def _scenario(tmp_path, hyperparameters: str):
    path = tmp_path / "s.yaml"
    path.write_text(f"""name: s
rule: {{kind: acrostic, word: HI}}
examples:
  - {{question: "Q?", answer: "Hello\\nIt is"}}
fine_tune:
  base_model: smollm2-135m
  hyperparameters: {hyperparameters}
probes:
  - {{id: p, prompt: "Q?"}}
""")
    return path


def test_scenarios_accept_the_local_hyperparameters(tmp_path):
    scenario = load_scenario(_scenario(tmp_path, "{learning_rate: 0.001, lora_r: 8, lora_alpha: 16}"))
    assert scenario.fine_tune.hyperparameters == {"learning_rate": 0.001, "lora_r": 8, "lora_alpha": 16}


@pytest.mark.parametrize(
    "value, message",
    [
        ("{lora_r: 0}", "lora_r"),
        ("{lora_r: auto}", "lora_r"),
        ("{lora_alpha: 0}", "lora_alpha"),
        ("{learning_rate: -1}", "learning_rate"),
        ("{learning_rate: 0.1, learning_rate_multiplier: 2}", "not both"),
    ],
)
def test_scenarios_refuse_bad_local_hyperparameters_naming_the_line(tmp_path, value, message):
    with pytest.raises(ScenarioError, match=message) as e:
        load_scenario(_scenario(tmp_path, value))
    assert "s.yaml:7: fine_tune.hyperparameters" in str(e.value)
