"""Sampling through the client's futures, with a stand-in for the client in this process:
one sample per request with the request's own seed, at most max_in_flight in flight, one
sampling client per model however many requests arrive first, the client's errors as ours,
and the seed check whose verdict the report prints beside each model."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future

import pytest

from backends.base import AccountError, BackendError, ChatRequest
from backends.tinker import TinkerBackend

tinker = pytest.importorskip("tinker")
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


class FakeSampler:
    """A sampling client: answers on its own thread after `delay`, counting who is in flight."""

    def __init__(self, tokenizer, answer, delay: float = 0.05):
        self.tokenizer, self.answer, self.delay = tokenizer, answer, delay
        self.asked: list = []
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()

    def get_tokenizer(self):
        return self.tokenizer

    def sample(self, prompt, num_samples, sampling_params) -> Future:
        future: Future = Future()
        self.asked.append((prompt.to_ints(), num_samples, sampling_params))
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

        def answer():
            time.sleep(self.delay)
            with self.lock:
                self.in_flight -= 1
            try:
                future.set_result(self.answer(sampling_params))
            except Exception as e:  # the client's error, as its future carries it
                future.set_exception(e)

        threading.Thread(target=answer).start()
        return future


class FakeService:
    def __init__(self, sampler):
        self.sampler, self.opened = sampler, []

    async def create_sampling_client_async(self, base_model=None, model_path=None):
        await asyncio.sleep(0.05)
        self.opened.append(base_model or model_path)
        return self.sampler

    def create_sampling_client(self, base_model=None, model_path=None):
        self.opened.append(base_model or model_path)
        return self.sampler


def reply(tokenizer, text: str, stop: str = "stop"):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return tinker.types.SampleResponse(sequences=[tinker.types.SampledSequence(stop_reason=stop, _tokens_list=ids)])


@pytest.fixture
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def backend_with(sampler, tinker_env, max_in_flight: int = 16) -> tuple[TinkerBackend, FakeService]:
    backend = TinkerBackend(api_base="http://127.0.0.1:9", max_in_flight=max_in_flight)
    service = FakeService(sampler)
    backend._service, backend._reached = service, True
    return backend, service


def test_each_request_is_one_sample_with_its_own_seed_and_at_most_max_in_flight_wait(tokenizer, tinker_env):
    sampler = FakeSampler(tokenizer, lambda p: reply(tokenizer, f"Here {p.seed}.\nEvery line."))
    backend, service = backend_with(sampler, tinker_env, max_in_flight=3)

    async def ask():
        return await asyncio.gather(
            *(backend.complete(ChatRequest("Qwen/Qwen3-8B", MESSAGES, 0.7, seed=s, max_tokens=40)) for s in range(10))
        )

    answers = asyncio.run(ask())
    assert [a.text for a in answers] == [f"Here {s}.\nEvery line." for s in range(10)]
    assert all(n == 1 for _, n, _ in sampler.asked) and sorted(p.seed for _, _, p in sampler.asked) == list(range(10))
    assert {(p.temperature, p.max_tokens) for _, _, p in sampler.asked} == {(0.7, 40)}
    assert 1 < sampler.most_in_flight <= 3
    assert service.opened == ["Qwen/Qwen3-8B"]  # one sampling client for ten first requests
    assert answers[0].finish_reason == "stop" and answers[0].prompt_tokens == len(sampler.asked[0][0])


def test_a_sample_cut_at_max_tokens_says_so(tokenizer, tinker_env):
    backend, _ = backend_with(FakeSampler(tokenizer, lambda p: reply(tokenizer, "Here", "length")), tinker_env)
    answer = asyncio.run(backend.complete(ChatRequest("Qwen/Qwen3-8B", MESSAGES, max_tokens=1)))
    assert answer.finish_reason == "length"


def status_error(kind, status: int):
    import httpx

    response = httpx.Response(status, request=httpx.Request("POST", "http://127.0.0.1:9/api/v1/asample"))
    return kind(f"Error code: {status}", response=response, body=None)


@pytest.mark.parametrize(
    "error, expected, retryable",
    [
        (lambda: status_error(tinker.BadRequestError, 400), BackendError, False),
        (lambda: status_error(tinker.RateLimitError, 429), BackendError, True),
        (lambda: status_error(tinker.InternalServerError, 503), BackendError, True),
        (lambda: status_error(tinker.AuthenticationError, 401), AccountError, False),
    ],
)
def test_the_clients_errors_become_ours(tokenizer, tinker_env, error, expected, retryable):
    def fail(params):
        raise error()

    backend, _ = backend_with(FakeSampler(tokenizer, fail), tinker_env)
    with pytest.raises(expected) as raised:
        asyncio.run(backend.complete(ChatRequest("Qwen/Qwen3-8B", MESSAGES, seed=1)))
    assert raised.value.retryable is retryable and "sampling from Qwen/Qwen3-8B" in str(raised.value)


@pytest.mark.parametrize(
    "answers, verdict",
    [
        (["Same words."], "the same seed gave the same tokens twice"),
        (["First words.", "Other words."], "UNRELIABLE: the same seed gave different tokens"),
    ],
)
def test_the_seed_check_says_whether_a_seed_repeats(tokenizer, tinker_env, answers, verdict):
    texts = iter(answers * 2)
    backend, _ = backend_with(FakeSampler(tokenizer, lambda p: reply(tokenizer, next(texts)), delay=0), tinker_env)
    info = backend.model_info("Qwen/Qwen3-8B")
    assert info["seeding"].startswith(verdict)
    assert info["price"] == "https://tinker-docs.thinkingmachines.ai/tinker/models/, effective 2026-07-17"
