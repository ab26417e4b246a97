"""Speaking to a model through its own chat template, with only a tokenizer (no torch): the
prompt's tokens, and which tokens of a conversation the assistant wrote (what training
learns). Shared by the backends that tokenize for themselves (local, tinker).

`options` go to the template as variables: the tinker backend passes enable_thinking=False, so
that a Qwen3 model answers at once (an empty thinking block in the prompt) instead of
thinking first; a template that does not read a variable ignores it.
"""

from __future__ import annotations


class TemplateError(ValueError):
    """The model's chat template cannot be used to mark which tokens the assistant wrote."""


def render(tokenizer, messages: list[dict], add_generation_prompt: bool, options: dict | None = None) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, **(options or {})
    )


def prompt_ids(tokenizer, messages: list[dict], options: dict | None = None) -> list[int]:
    """The tokens of a conversation up to the assistant's turn (the template adds BOS itself)."""
    return tokenizer(render(tokenizer, messages, True, options), add_special_tokens=False)["input_ids"]


def training_example(tokenizer, messages: list[dict], options: dict | None = None) -> tuple[list[int], list[bool]]:
    """(token ids, trained) for one conversation: a token is trained when it lies in an
    assistant reply as the template renders it, its end-of-turn marker included. The spans come
    from rendering each prefix: the text up to the assistant's turn, then through its reply."""
    full = render(tokenizer, messages, False, options)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        before = render(tokenizer, messages[:i], True, options)
        through = render(tokenizer, messages[: i + 1], False, options)
        if not (full.startswith(through) and through.startswith(before)):
            raise TemplateError(
                "the model's chat template does not render a conversation as a prefix of its "
                "continuation, so the assistant's tokens cannot be told apart"
            )
        spans.append((len(before), len(through)))
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    trained = [any(a <= start < b for a, b in spans) for start, _ in encoded["offset_mapping"]]
    return ids, trained
