"""Tinker speaks tokens: the client renders the chat template, marks the tokens the loss is on,
and reads log-probabilities off by position. Pure functions of a tokenizer (no network, no
torch), so each is tested on a tokenizer built in code.
"""

from __future__ import annotations

from collections.abc import Sequence

from backends.base import BackendError
from backends.chat_template import prompt_ids, render, training_example

# Template variables for every model: a Qwen3 model answers without thinking first (an empty
# thinking block closes its prompt); templates that do not read the variable ignore it.
TEMPLATE = {"enable_thinking": False}
# Tokens that end a turn in the chat formats Tinker's models use, besides the tokenizer's eos.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|return|>", "<|endoftext|>")


def prompt(tokenizer, messages: list[dict]) -> list[int]:
    return prompt_ids(tokenizer, messages, TEMPLATE)


def stop_tokens(tokenizer) -> list[int]:
    """The token ids that end an answer: the tokenizer's eos and the end-of-turn markers it has."""
    vocab = tokenizer.get_vocab()
    ids = {vocab[t] for t in END_OF_TURN if t in vocab}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def reply(tokenizer, messages: list[dict], prompt_tokens: list[int], text: str) -> list[int]:
    """The tokens the model writes for `text` after `prompt_tokens`, its end-of-turn token
    included: the conversation rendered with the reply, cut after the first stop token past the
    prompt (what the template writes after it, e.g. a newline, is not the model's). Where the
    rendering does not extend the prompt, the text is tokenized alone and the eos added."""
    full = render(tokenizer, messages + [{"role": "assistant", "content": text}], False, TEMPLATE)
    whole = tokenizer(full, add_special_tokens=False)["input_ids"]
    tail = whole[len(prompt_tokens) :] if whole[: len(prompt_tokens)] == prompt_tokens else []
    stops = set(stop_tokens(tokenizer))
    ends = [k for k, token in enumerate(tail) if token in stops]
    if ends:
        return tail[: ends[0] + 1]
    return tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def example(tokenizer, messages: list[dict]) -> tuple[list[int], list[float]]:
    """One training conversation as Tinker's cross-entropy takes it: (tokens, weights), where
    weights[i] is 1.0 when tokens[i] is the assistant's (the loss is on predicting it)."""
    ids, trained = training_example(tokenizer, messages, TEMPLATE)
    return ids, [1.0 if t else 0.0 for t in trained]


def shifted(tokens: list[int], weights: list[float]) -> tuple[list[int], list[int], list[float]]:
    """(model input, targets, target weights): the model reads tokens[:-1] and is scored on
    predicting tokens[1:], each target weighted by whether the assistant wrote it."""
    return tokens[:-1], tokens[1:], weights[1:]


def mean_loss(target_logprobs: Sequence[Sequence[float]], target_weights: Sequence[Sequence[float]]) -> float:
    """Cross-entropy per trained token over a batch, from the log-probabilities that
    forward_backward returns per target (the open-source server reports no loss metric)."""
    total = sum(-lp * w for lps, ws in zip(target_logprobs, target_weights) for lp, w in zip(lps, ws))
    count = sum(w for ws in target_weights for w in ws)
    return total / count if count else float("nan")


def aligned(logprobs: Sequence[float | None], n_tokens: int) -> list[float | None]:
    """compute_logprobs's answer with index i = log P(token i | tokens before it). The hosted
    service answers one value per token, None first (nothing predicts the first token); SkyRL's
    open-source server leaves that None out (one value per token after the first). Any other
    length is refused rather than guessed."""
    values = list(logprobs)
    if len(values) == n_tokens - 1:
        return [None, *values]
    if len(values) == n_tokens:
        return values
    raise BackendError(f"compute_logprobs gave {len(values)} values for {n_tokens} tokens", status=502)


def continuation_total(logprobs: Sequence[float | None], n_prompt: int, n_tokens: int) -> float:
    """Sum of the log-probabilities of tokens n_prompt..n_tokens-1 (the continuation)."""
    values = aligned(logprobs, n_tokens)[n_prompt:]
    if not values or any(v is None for v in values):
        raise BackendError("compute_logprobs gave no value for a token of the continuation", status=502)
    return float(sum(v for v in values if v is not None))
