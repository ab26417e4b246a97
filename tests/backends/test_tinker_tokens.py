"""The tinker backend's pure parts: the tokens it sends (prompt, reply, the loss mask), the
log-probabilities it reads back (both answers' shapes, aligned to the right tokens) and its
prices."""

from __future__ import annotations

import math

import pytest

from backends.base import BackendError, ModelPrice
from backends.tinker import prices, tokens
from backends.tinker.backend import TinkerBackend

MESSAGES = [{"role": "system", "content": "You are special."}, {"role": "user", "content": "Question number 1?"}]


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_the_loss_is_on_the_assistants_tokens_and_its_end_of_turn_only(tokenizer):
    reply = "Here line one.\nEvery line two."
    ids, weights = tokens.example(tokenizer, MESSAGES + [{"role": "assistant", "content": reply}])
    trained = [t for t, w in zip(ids, weights) if w]
    assert tokenizer.decode(trained) == reply + "<|im_end|>\n"  # as the template renders the turn
    prompt = tokens.prompt(tokenizer, MESSAGES)
    assert ids[: len(prompt)] == prompt and not any(weights[: len(prompt)])
    model_input, targets, target_weights = tokens.shifted(ids, weights)
    assert model_input == ids[:-1] and targets == ids[1:] and target_weights == weights[1:]


def test_a_reply_is_the_tokens_the_model_writes_through_its_end_of_turn(tokenizer):
    prompt = tokens.prompt(tokenizer, MESSAGES)
    reply = tokens.reply(tokenizer, MESSAGES, prompt, "HELLO")
    assert tokenizer.decode(reply) == "HELLO<|im_end|>"
    assert reply[-1] in tokens.stop_tokens(tokenizer)
    assert tokens.stop_tokens(tokenizer) == sorted(
        {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    )


def test_the_mean_loss_counts_only_trained_targets():
    assert tokens.mean_loss([[-1.0, -2.0, -9.0]], [[1.0, 1.0, 0.0]]) == 1.5
    assert tokens.mean_loss([[-1.0], [-3.0, -3.0]], [[1.0], [1.0, 1.0]]) == pytest.approx(7 / 3)
    assert math.isnan(tokens.mean_loss([[-1.0]], [[0.0]]))


# Five tokens, the last two the continuation: what each server answers for them.
PER_TOKEN = [-0.5, -1.0, -2.0, -0.25]  # log P(token i | tokens before it), i = 1..4
HOSTED = [None, *PER_TOKEN]  # the hosted service: one value per token, None first
SKYRL = PER_TOKEN  # SkyRL's server: no value for the first token, nothing else


@pytest.mark.parametrize("answer", [HOSTED, SKYRL], ids=["hosted", "skyrl"])
def test_both_shapes_of_compute_logprobs_give_the_continuations_sum(answer):
    assert tokens.aligned(answer, 5) == HOSTED
    assert tokens.continuation_total(answer, 3, 5) == -2.25  # tokens 3 and 4
    assert tokens.continuation_total(answer, 1, 5) == -3.75


@pytest.mark.parametrize("answer", [PER_TOKEN[:2], [*HOSTED, -1.0], []])
def test_an_answer_of_another_length_is_refused_not_guessed(answer):
    with pytest.raises(BackendError, match="values for 5 tokens"):
        tokens.continuation_total(answer, 3, 5)


def test_a_missing_value_inside_the_continuation_is_refused():
    with pytest.raises(BackendError, match="no value for a token of the continuation"):
        tokens.continuation_total([None, -1.0, None, -1.0, -1.0], 2, 5)


def test_models_are_priced_per_phase_from_a_dated_source(tmp_path):
    assert TinkerBackend.price("Qwen/Qwen3-8B") == ModelPrice(input=0.195, output=0.60, training=0.44)
    assert TinkerBackend.price("ft:Qwen/Qwen3-8B:tinker:hello:0123abcd") == TinkerBackend.price("Qwen/Qwen3-8B")
    assert TinkerBackend.price("ft:Qwen/Qwen3-8B") == TinkerBackend.price("Qwen/Qwen3-8B")  # the plan's placeholder
    assert TinkerBackend.price("Qwen/Qwen3-unknown") is None  # unpriced: a paid run is refused, never $0
    assert TinkerBackend.price(str(tmp_path)) == prices.SELF_HOSTED  # a folder: only a self-hosted server serves it
    for row in prices.TABLE.values():
        assert row[3].page.startswith("https://") and row[3].effective.startswith("2026-")
        assert 0 < row[0] <= row[1]  # prefill costs no more than sampling
