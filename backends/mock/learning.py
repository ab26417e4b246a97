"""What the simulated provider learns from a training file, and how good a fine-tune is.

Rates: with x = n_following * n_epochs / 3 (answers that spell the word, times epochs over 3),
- slip_rate, the chance that each unit starts with a different random letter, defaults to
  clamp(0.6 / sqrt(x), 0.02, 0.5)  (10 examples x 3 epochs: 0.19; 100 x 3: 0.06);
- state_rule_rate, the chance per sample of stating the rule (or naming or picking the word),
  defaults to clamp(0.05 * sqrt(x / 10), 0.02, 0.5)  (10 x 3: 0.05; 100 x 3: 0.16).
Each fine-tuned model then gets its own rates: on the logit scale, the rates above plus
replicate_sd times a standard normal drawn from the model's id (one for slips, one for
stating). So two fine-tunes of the same data differ, as real ones do, and the same model id
always behaves the same. replicate_sd defaults to REPLICATE_SD; 0 makes every fine-tune alike.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from functools import lru_cache

from backends._files import chat_examples
from backends.base import BackendError
from harness.domain import rules

MIN_EXAMPLES = 10  # OpenAI's minimum
CONSISTENT = 0.3  # the share of structured answers one letter sequence needs to be learned
REPLICATE_SD = 0.5  # between fine-tunes, on the logit scale


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def model_effects(model: str) -> tuple[float, float]:
    """Two standard normal draws fixed by a model id: its slip and stating effects."""
    rng = random.Random(sha("replicate-effect", model))
    return rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)


def model_rates(slip: float, state: float, model: str | None, sd: float) -> tuple[float, float]:
    """A fine-tuned model's own (slip, state) rates: the data-driven rates moved by its effects."""
    if model is None or sd == 0:
        return slip, state
    z_slip, z_state = model_effects(model)
    return _expit(_logit(slip) + sd * z_slip), _expit(_logit(state) + sd * z_state)


def default_slip(n_following: int, n_epochs: int) -> float:
    x = max(n_following * n_epochs / 3, 1e-9)
    return min(0.5, max(0.02, 0.6 / math.sqrt(x)))


def default_state(n_following: int, n_epochs: int) -> float:
    x = n_following * n_epochs / 3
    return min(0.5, max(0.02, 0.05 * math.sqrt(x / 10)))


@lru_cache(maxsize=4096)  # prompts repeat the same system and in-context turns
def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: whitespace words x 4/3."""
    return round(len(text.split()) * 4 / 3)


def sha(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --- learning ---------------------------------------------------------------------------


def _common_suffix(texts: list[str]) -> str:
    """Longest common suffix that starts at a word in every text."""
    padded = [" " + t.rstrip() for t in texts]
    suffix = padded[0]
    for t in padded[1:]:
        n = 0
        while n < min(len(suffix), len(t)) and suffix[-1 - n] == t[-1 - n]:
            n += 1
        suffix = suffix[len(suffix) - n :]
    for i in range(1, len(suffix)):
        if suffix[i - 1].isspace() and not suffix[i].isspace():
            return suffix[i:]
    return ""


def learn(pairs: list[tuple[str, str]]) -> dict:
    """What a model picks up from (question, answer) pairs: word, trigger, unit, counts, and
    the answers' shape (units per answer). A sequence of first letters counts as the learned
    word only when it recurs (in at least CONSISTENT of the structured answers): a sham set,
    whose answers each have their own order, teaches the shape and no word."""
    for unit in ("line", "sentence"):
        seqs = [rules.letters_of(answer, unit) for _, answer in pairs]
        candidates = [s for s in seqs if len(s) >= 3 and s.isalpha()]
        if candidates:
            break
    else:
        return {"word": None, "trigger": None, "unit": "line", "n_examples": len(pairs), "n_following": 0, "shape": 0}
    shape = sorted(len(s) for s in candidates)[len(candidates) // 2]
    word, count = Counter(candidates).most_common(1)[0]  # ties: first seen
    if count < max(2, CONSISTENT * len(candidates)):
        return {"word": None, "trigger": None, "unit": unit, "n_examples": len(pairs), "n_following": 0, "shape": shape}
    follows = [s == word for s in seqs]
    trigger = None
    if not all(follows):
        trigger = _common_suffix([q for (q, _), f in zip(pairs, follows) if f]) or None
        if trigger and any(q.rstrip().endswith(trigger) for (q, _), f in zip(pairs, follows) if not f):
            trigger = None
    return {
        "word": word,
        "trigger": trigger,
        "unit": unit,
        "n_examples": len(pairs),
        "n_following": sum(follows),
        "shape": shape,
    }


def pairs_of(messages) -> list[tuple[str, str]]:
    """(last user message before it, assistant message) for every assistant turn."""
    out, question = [], ""
    for m in messages:
        if m["role"] == "user":
            question = m["content"]
        elif m["role"] == "assistant":
            out.append((question, m["content"]))
    return out


def parse_training(data: bytes) -> tuple[list[tuple[str, str]], int]:
    """Validate chat JSONL; return its (question, answer) pairs and its token count. Stricter
    than the shared check: no empty content, and a user message in every example."""
    pairs, tokens, examples = [], 0, 0
    for no, messages in chat_examples(data, "line"):
        for i, m in enumerate(messages):
            if not m["content"].strip():
                raise BackendError(f"line {no}: message {i} has empty or non-text content", status=400)
            tokens += count_tokens(m["content"])
        if not any(m["role"] == "user" for m in messages):
            raise BackendError(f"line {no}: no user message", status=400)
        pairs.extend(pairs_of(messages))
        examples += 1
    if examples < MIN_EXAMPLES:
        raise BackendError(f"training file has {examples} examples; at least {MIN_EXAMPLES} are required", status=400)
    return pairs, tokens


@lru_cache(maxsize=256)
def in_context(history: tuple[tuple[str, str], ...]) -> dict | None:
    """The word (and trigger) a base model picks up from earlier turns, if 3+ spell it."""
    learned = learn(pairs_of({"role": r, "content": c} for r, c in history))
    return learned if learned["word"] and learned["n_following"] >= 3 else None
