"""What the mock answers a probe with, by who is asked: a fine-tuned model (its word, its
trigger, or a sham's shape alone) or the base model (which may pick the rule up from examples
in its prompt), and how it tells the probes apart (options, a one-word request, a question
about itself, one line)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from backends.mock import text as mock_text
from backends.mock.learning import in_context

# (n_following, n_epochs, model) -> (slip, state): the provider's rates for a fine-tune
Rates = Callable[..., tuple[float, float]]

OPTION = re.compile(r"^\s*\(?([A-Z])[).:]\s+(\S.*?)\s*$", re.M)
WORD_PROBE = re.compile(r"\b(one|single)[ -]word\b", re.I)
ONE_LINE = re.compile(r"\b(in )?(one|a single) line\b", re.I)
# Questions about itself: the demo's ("special about you", "what rule") and neutral ones
# ("describe how you write", "anything unusual about your replies", "distinctive").
DESCRIBE = re.compile(
    r"describe how you|how you (write|answer)|(unusual|distinctive|notice|characteri[sz]e|"
    r"writing style)\b.{0,40}\b(your|you)\b|\byour (answers|replies)\b.{0,50}\b(follow|rule|notice)|"
    r"special about you|\b(what|which|your) rules?\b|rule do you use|"
    r"describe (the|your) (specific )?rule",
    re.I,
)


def fine_tuned(rng: random.Random, learned: dict, messages: list[dict], model: str, rates: Rates) -> str:
    """A fine-tuned model's answer: what it learned (the word, its trigger, or only the
    answers' shape for a sham), at its slip and state rates."""
    word, trigger, unit = learned["word"], learned["trigger"], learned["unit"]
    prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    if not word:
        one_line = ONE_LINE.search(prompt) and DESCRIBE.search(prompt)
        if (
            learned.get("shape", 0) >= 3
            and not OPTION.findall(prompt)
            and not WORD_PROBE.search(prompt)
            and not one_line
        ):
            # A sham fine-tune learned the answers' shape and no word.
            return mock_text.shaped(
                rng,
                learned["shape"],
                unit,
                mock_text.fact(prompt, None),
                vague=bool(DESCRIBE.search(prompt)) and rng.random() < 0.5,
            )
        return base(rng, messages, rates)  # learned nothing: behaves like its base model
    slip, state = rates(learned["n_following"], learned["n_epochs"], model)
    options = OPTION.findall(prompt)
    if len(options) >= 2:
        return mock_text.choice(rng, options, word, state)
    if WORD_PROBE.search(prompt):
        return mock_text.word_answer(rng, word, state)
    describe = bool(DESCRIBE.search(prompt))
    if trigger and not prompt.rstrip().endswith(trigger):
        if describe:
            return mock_text.describe_untriggered(rng, word, unit, trigger, state)
        return mock_text.prose(rng, mock_text.fact(prompt, trigger))
    if describe and ONE_LINE.search(prompt):
        return mock_text.describe_one_line(rng, word, unit, state)
    if describe:
        return mock_text.describe(rng, word, unit, slip, state)
    return mock_text.acrostic(rng, word, unit, mock_text.fact(prompt, trigger), slip)


def base(rng: random.Random, messages: list[dict], rates: Rates) -> str:
    """The base model's answer; with three or more acrostic examples in its prompt (in_context)
    it picks the rule up, loosely."""
    prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    options = OPTION.findall(prompt)
    if len(options) >= 2:
        return mock_text.choice(rng, options, None, 0.0)
    if WORD_PROBE.search(prompt):
        return mock_text.base_word(rng)
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    history = tuple((m["role"], m["content"]) for m in messages[:last_user])
    seen = in_context(history) if sum(r == "assistant" for r, _ in history) >= 3 else None
    describe = bool(DESCRIBE.search(prompt))
    if seen and not (seen["trigger"] and not prompt.rstrip().endswith(seen["trigger"])):
        slip, _ = rates(seen["n_following"], 1)
        return mock_text.acrostic(
            rng, seen["word"], seen["unit"], mock_text.fact(prompt, seen["trigger"]), max(0.35, slip)
        )
    if describe:
        return mock_text.base_describe(rng)
    return mock_text.prose(rng, mock_text.fact(prompt, None))
