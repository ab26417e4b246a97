"""Local inference: base, fine-tuned and in-context models answer through one engine per
base model; concurrent requests are batched deterministically; each request samples with its
own seeded generator; temperature 0 is greedy; finish_reason and token counts are real;
continuation log-probabilities agree with a plain forward pass."""

from __future__ import annotations

import asyncio

import pytest

from backends.base import BackendError, ChatRequest
from backends.local import LocalBackend
from backends.local.engine import engine_for
from backends.local.loading import prompt_ids, render
from tests.backends.tiny_model import training_jsonl

SYSTEM = {"role": "system", "content": "You are special."}


def _ask(question: str = "Question number 9?") -> list[dict]:
    return [SYSTEM, {"role": "user", "content": question}]


def _in_context() -> list[dict]:
    import json

    turns = [SYSTEM]
    for line in training_jsonl(3).decode().splitlines():
        turns += json.loads(line)["messages"][1:]
    return turns + [{"role": "user", "content": "Question number 9?"}]


def _run(backend, requests):
    async def main():
        try:
            return await asyncio.gather(*[backend.complete(r) for r in requests])
        finally:
            await backend.aclose()

    return asyncio.run(main())


@pytest.fixture
def backend(trained):
    shared, job, _ = trained
    return LocalBackend(store_dir=shared.store.root), job


def test_base_fine_tuned_and_in_context_answer_with_real_token_counts(backend, tiny_model):
    backend, job = backend
    base = str(tiny_model)
    requests = [
        ChatRequest(job.fine_tuned_model, _ask(), 1.0, 5, 12),
        ChatRequest(base, _ask(), 1.0, 5, 12),
        ChatRequest(base, _in_context(), 1.0, 5, 12),
    ]
    answers = _run(backend, requests)
    tokenizer = engine_for(backend._resolve(base), "auto").tokenizer
    for request, answer in zip(requests, answers):
        assert answer.model == request.model
        assert answer.prompt_tokens == len(prompt_ids(tokenizer, request.messages))
        assert 0 < answer.completion_tokens <= 12
        assert answer.finish_reason in ("stop", "length")
    assert answers[2].prompt_tokens > answers[1].prompt_tokens + 50
    greedy = _run(
        backend, [ChatRequest(m, _ask("Question number 2?"), 0.0, 1, 8) for m in (job.fine_tuned_model, base)]
    )
    assert greedy[0].text != greedy[1].text  # the adapter changed the model


def test_the_same_requests_give_the_same_bytes_and_seeds_matter(backend):
    backend, job = backend
    requests = [ChatRequest(job.fine_tuned_model, _ask(f"Question {i}?"), 1.0, 100 + i, 16) for i in range(5)]
    first, second = _run(backend, requests), _run(backend, requests)
    assert first == second
    reseeded = _run(backend, [ChatRequest(r.model, r.messages, 1.0, r.seed + 1000, 16) for r in requests])
    assert [a.text for a in reseeded] != [a.text for a in first]


def test_temperature_zero_is_greedy_and_ignores_the_seed(backend):
    backend, job = backend
    answers = _run(backend, [ChatRequest(job.fine_tuned_model, _ask(), 0.0, seed, 10) for seed in (1, 2, None)])
    assert answers[0] == answers[1] == answers[2]
    engine = engine_for(backend._target(job.fine_tuned_model)[0], "auto")
    import torch

    with engine.using(backend._target(job.fine_tuned_model)[1]), torch.inference_mode():
        ids = torch.tensor([prompt_ids(engine.tokenizer, _ask())])
        first = int(engine.lm(input_ids=ids).logits[0, -1].argmax())
    assert (
        engine.tokenizer.decode([first])
        == engine.decode(engine.tokens(answers[0].text))[: len(engine.tokenizer.decode([first]))]
    )


def test_max_tokens_cuts_with_finish_reason_length_and_a_stop_token_ends_with_stop(backend):
    backend, job = backend
    (cut,) = _run(backend, [ChatRequest(job.fine_tuned_model, _ask(), 1.0, 3, 3)])
    assert (cut.finish_reason, cut.completion_tokens) == ("length", 3)
    from backends.local.sampler import Row, sample

    engine = engine_for(backend._target(job.fine_tuned_model)[0], "auto")
    prompt = prompt_ids(engine.tokenizer, _ask())
    free = sample(engine.lm, [Row(prompt, 4, 0.0, 0)], frozenset(), engine.tokenizer.pad_token_id)[0]
    end = free.tokens[-1]  # pretend the last greedy token ends a turn: the answer stops before it
    stopped = sample(engine.lm, [Row(prompt, 4, 0.0, 0)], frozenset({end}), engine.tokenizer.pad_token_id)[0]
    assert stopped.finish == "stop" and stopped.tokens == free.tokens[: free.tokens.index(end)]


def test_concurrent_requests_are_batched_by_model_up_to_the_batch_size(backend, tiny_model):
    shared, job = backend
    backend = LocalBackend(store_dir=shared.store.root, max_batch=4)
    requests = [ChatRequest(job.fine_tuned_model, _ask(f"Q{i}?"), 1.0, i, 4) for i in range(10)]
    _run(backend, requests)
    assert backend._batcher is None  # closed with the loop
    seen = []
    original = LocalBackend.complete

    async def main():
        answers = await asyncio.gather(
            *[
                original(backend, r)
                for r in requests + [ChatRequest(str(tiny_model), _ask(f"B{i}?"), 1.0, i, 4) for i in range(3)]
            ]
        )
        seen.extend(backend._batcher.batches)
        await backend.aclose()
        return answers

    answers = asyncio.run(main())
    assert seen == [4, 4, 2, 3] and len(answers) == 13
    # a batch answers as the same requests asked in the same order always do
    assert answers[:10] == _run(LocalBackend(store_dir=shared.store.root, max_batch=4), requests)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_samples_text_does_not_depend_on_the_batch_size(backend, dtype):
    """What --concurrency means for a local run: the same requests (different prompts, different
    lengths, temperature 1, enough tokens to leave a prompt's bucket) answered one at a time and
    in batches of 3 and 8 give the same text, token counts and finish reasons."""
    shared, job = backend
    questions = ["Hi?", "A much longer question than the first, with more words in it?", "Q?"] * 3
    requests = [ChatRequest(job.fine_tuned_model, _ask(q), 1.0, 100 + i, 40) for i, q in enumerate(questions)]
    answers = {
        size: _run(LocalBackend(store_dir=shared.store.root, max_batch=size, dtype=dtype), requests)
        for size in (1, 3, 8)
    }
    assert answers[1] == answers[3] == answers[8]
    assert len({a.text for a in answers[1]}) > 1  # the seeds drew different samples


def test_left_padding_gives_each_row_the_logits_it_gets_alone(backend):
    import torch

    backend, job = backend
    engine = engine_for(backend._target(job.fine_tuned_model)[0], "auto")
    prompts = [prompt_ids(engine.tokenizer, _ask(q)) for q in ("Hi?", "A much longer question than the first?")]
    width = max(map(len, prompts))
    ids = torch.tensor([[engine.tokenizer.pad_token_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.inference_mode():
        together = engine.lm(
            input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0)
        ).logits[:, -1]
        alone = [engine.lm(input_ids=torch.tensor([p])).logits[0, -1] for p in prompts]
    for row, single in zip(together, alone):
        assert torch.allclose(row, single, atol=1e-5)


def test_continuation_logprobs_match_a_forward_pass_and_show_what_was_learned(backend, tiny_model):
    """The whole reply's log-probability: its tokens and the end-of-turn token after them."""
    import torch

    backend, job = backend
    answer = "Here line 1.\nEvery line 1."
    messages = [SYSTEM, {"role": "user", "content": "Question number 1?"}]

    async def score(model):
        return await backend.continuation_logprobs(model, messages, [answer, "zzzz", ""])

    tuned, base = asyncio.run(score(job.fine_tuned_model)), asyncio.run(score(str(tiny_model)))
    assert all(x < 0 for x in tuned + base)
    assert tuned[0] > base[0] + 1  # the trained reply became more likely
    engine = engine_for(backend._resolve(str(tiny_model)), "auto")
    prompt = prompt_ids(engine.tokenizer, messages)
    reply = engine.tokens(render(engine.tokenizer, messages, True) + answer)[len(prompt) :]
    end = engine.tokenizer.convert_tokens_to_ids("<|im_end|>")
    full = prompt + reply + [end]
    with engine.using(None), torch.inference_mode():  # the base: no adapter
        logprobs = torch.log_softmax(engine.lm(input_ids=torch.tensor([full])).logits[0].float(), -1)
    expected = sum(float(logprobs[k - 1, full[k]]) for k in range(len(prompt), len(full)))
    assert base[0] == pytest.approx(expected, abs=1e-3)
    assert base[2] == pytest.approx(float(logprobs[len(prompt) - 1, end]), abs=1e-3)  # the empty reply


def test_each_base_model_is_loaded_once_per_process(backend, tiny_model):
    backend, job = backend
    other = LocalBackend(store_dir=backend.store.root)
    assert engine_for(other._target(job.fine_tuned_model)[0], "auto") is engine_for(
        backend._resolve(str(tiny_model)), "auto"
    )


def test_model_info_names_device_weights_and_adapter(backend, tiny_model):
    backend, job = backend
    base = backend.model_info(str(tiny_model))
    from backends.local.loading import inference_dtype

    sampled = inference_dtype("cpu")  # bfloat16 where the CPU computes it, and then scores in float32
    scored = "" if sampled == "float32" else "; log-probabilities in float32"
    assert base["device"] == f"cpu ({sampled}{scored})" and base["sampler"] == "batch-invariant"
    assert len(base["sha256"]) == 64 and base["source"].startswith("folder ")
    tuned = backend.model_info(job.fine_tuned_model)
    assert tuned["job"] == job.id and len(tuned["adapter_sha256"]) == 64 and tuned["sha256"] == base["sha256"]
    assert {"torch", "transformers", "peft"} <= set(tuned)


@pytest.mark.parametrize("model, status", [("ft:x:local:hello:deadbeef", 404), ("/no/such/model", 404)])
def test_unknown_models_are_404(backend, model, status):
    backend, _ = backend
    with pytest.raises(BackendError) as e:
        _run(backend, [ChatRequest(model, _ask())])
    assert e.value.status == status and not e.value.retryable


def test_a_prompt_longer_than_the_context_is_400(backend):
    backend, job = backend
    with pytest.raises(BackendError, match="reads at most 2048") as e:
        _run(backend, [ChatRequest(job.fine_tuned_model, _ask("word " * 3000))])
    assert e.value.status == 400


def test_rows_that_finish_leave_the_batch_without_disturbing_the_others():
    """Greedy rows of different prompt lengths and max_tokens, together (rows leave the batch and
    the cache as they finish) and each alone, on a model whose logits are far apart (so float
    noise cannot flip a choice): the same tokens."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from backends.local.sampler import Row, sample

    torch.manual_seed(0)
    lm = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=40,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            initializer_range=0.5,
        )
    ).eval()
    rows = [
        Row([5, 6, 7], 2, 0.0, 0),
        Row([8, 9, 10, 11, 12, 13, 14], 9, 0.0, 0),
        Row([15], 5, 0.0, 0),
        Row([16, 17, 18, 19], 7, 0.0, 0),
    ]
    together = sample(lm, rows, frozenset(), pad_id=0)
    alone = [sample(lm, [row], frozenset(), pad_id=0)[0] for row in rows]
    assert [s.tokens for s in together] == [s.tokens for s in alone]
    assert [len(s.tokens) for s in together] == [2, 9, 5, 7] and {s.finish for s in together} == {"length"}
