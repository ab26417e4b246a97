"""A stand-in for the official `tinker` client, for the tinker backend's job tests: put this
folder first on PYTHONPATH and a training worker drives it instead of a service. It keeps its
state in $FAKE_TINKER_DIR (saved training states, and calls.jsonl: every call, in order, from
every process), so a test can read what the worker asked for and a restarted worker can load
what a killed one saved. The loss of every example falls with the optimizer steps taken:
3 / (1 + 0.2 x steps) per trained token.

$FAKE_TINKER_FAIL=NAME:K makes the K-th call of NAME in a process raise, as a service
refusing a request would.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future
from pathlib import Path

from tinker import types

__version__ = "0.0.fake"
_counts: dict[str, int] = {}


class TinkerError(Exception):
    pass


def _dir() -> Path:
    return Path(os.environ["FAKE_TINKER_DIR"])


def _record(call: str, **details) -> None:
    _counts[call] = _counts.get(call, 0) + 1
    with open(_dir() / "calls.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"call": call, "pid": os.getpid(), **details}) + "\n")
    failing, _, k = os.environ.get("FAKE_TINKER_FAIL", "").partition(":")
    if failing == call and _counts[call] == int(k):
        raise TinkerError(f"Error code: 400 - the fake service refuses {call} call {k}")


def _done(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class _Result:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class TrainingClient:
    def __init__(self, base_model: str, rank: int, seed: int | None):
        self.base_model, self.rank, self.seed = base_model, rank, seed
        self.steps = 0

    def get_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.base_model)

    def forward_backward(self, data: list, loss_fn: str) -> Future:
        _record("forward_backward", examples=len(data), steps=self.steps, loss_fn=loss_fn)
        logprob = -3.0 / (1 + 0.2 * self.steps)
        outputs = [
            {
                "logprobs": types.TensorData(
                    data=[logprob] * len(d.loss_fn_inputs["target_tokens"].tolist()), dtype="float32"
                )
            }
            for d in data
        ]
        return _done(_Result(loss_fn_outputs=outputs, metrics={}))

    def optim_step(self, params) -> Future:
        _record("optim_step", learning_rate=params.learning_rate)
        self.steps += 1
        return _done(_Result())

    def save_state(self, name: str) -> Future:
        _record("save_state", name=name, steps=self.steps)
        (_dir() / "states").mkdir(exist_ok=True)
        (_dir() / "states" / f"{name}.json").write_text(json.dumps({"steps": self.steps, "seed": self.seed}))
        return _done(_Result(path=f"tinker://fake/weights/{name}"))

    def load_state_with_optimizer(self, path: str) -> Future:
        _record("load_state_with_optimizer", path=path)
        saved = json.loads((_dir() / "states" / f"{path.rsplit('/', 1)[1]}.json").read_text())
        self.steps = saved["steps"]
        return _done(_Result())

    def save_weights_for_sampler(self, name: str) -> Future:
        _record("save_weights_for_sampler", name=name, steps=self.steps)
        return _done(_Result(path=f"tinker://fake/sampler_weights/{name}"))


class ServiceClient:
    def __init__(self, base_url: str | None = None, api_key: str | None = None):
        _record("ServiceClient", base_url=base_url, api_key_set=bool(api_key))

    def create_lora_training_client(self, base_model: str, rank: int = 32, seed: int | None = None) -> TrainingClient:
        _record("create_lora_training_client", base_model=base_model, rank=rank, seed=seed)
        return TrainingClient(base_model, rank, seed)
