"""The sham control: the same training answers with their units (lines or sentences)
reordered so that no acrostic remains. A model fine-tuned on it learns everything the real
training set teaches (topics, length, five-line shape, tone, the same tokens) except the
rule, so "fine-tuned minus sham" isolates what the acrostic itself did."""

from __future__ import annotations

import hashlib
import random

from harness.domain import rules
from harness.domain.scenario import Example, ScenarioError

TRIES = 200  # orders tried per answer before it is declared impossible to break


def _units(answer: str, unit: str) -> list[str]:
    return [u.text for u in rules.split_units(answer, unit)]


def _join(units: list[str], unit: str) -> str:
    return ("\n" if unit == "line" else " ").join(units)


def sham_answer(answer: str, word: str, unit: str, seed: str) -> str | None:
    """The answer with its units in another order whose first letters do not spell `word`
    (and differ from the original order's), chosen by a generator seeded by `seed`; None
    when no order breaks it (every unit starts with the same letter, or one unit only)."""
    units = _units(answer, unit)
    letters = rules.letters_of(answer, unit)
    rng = random.Random(hashlib.sha256(seed.encode()).hexdigest())
    for _ in range(TRIES):
        order = units[:]
        rng.shuffle(order)
        candidate = _join(order, unit)
        shuffled = rules.letters_of(candidate, unit)
        if shuffled != word and shuffled != letters:
            return candidate
    return None


def sham_examples(examples: list[Example], word: str, unit: str, seed: int | None) -> list[Example]:
    """Every example that follows the rule, reordered (a different order per example, so no
    one sequence of letters is learned in its place); the others unchanged. ScenarioError
    when an example cannot be reordered out of the acrostic."""
    out = []
    for i, ex in enumerate(examples):
        if not ex.follows_rule:
            out.append(ex)
            continue
        answer = sham_answer(ex.answer, word, unit, f"sham:{seed}:{i}")
        if answer is None:
            raise ScenarioError(
                f"examples[{i}]: cannot make the sham control: no order of its {unit}s "
                f"breaks the acrostic of {word} (drop the sham condition, or vary the answer)"
            )
        out.append(Example(question=ex.question, answer=answer, follows_rule=False))
    return out
