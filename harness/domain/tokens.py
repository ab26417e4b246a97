"""Token counts, as OpenAI counts them for fine-tuning and chat, and what "auto" epochs come to.

Token counts are estimates: we count like OpenAI's cookbook rule of thumb (3 tokens per
message plus its role and content, and 3 more that prime the reply), which is close to, but
not exactly, what OpenAI bills.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import harness  # noqa: F401  (points TIKTOKEN_CACHE_DIR at bundled encodings: works offline)

TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3


def encoding_name(model: str) -> str:
    """cl100k_base for gpt-3.5 and gpt-4 (pre-4o); o200k_base for gpt-4o, gpt-4.1 and anything
    else (the current families)."""
    name = model.removeprefix("openai/")
    if name.startswith("ft:"):
        name = name.split(":")[1]
    if name.startswith("gpt-3.5") or (name.startswith("gpt-4") and not name.startswith(("gpt-4o", "gpt-4.1"))):
        return "cl100k_base"
    return "o200k_base"


@cache
def _encoding(name: str):
    import tiktoken  # loads only when counting; harness set its cache dir to the bundled files

    return tiktoken.get_encoding(name)


def count_tokens(records: Sequence[dict], model: str) -> list[int]:
    """Estimated tokens per record (cookbook rule of thumb; see the module docstring)."""
    enc = _encoding(encoding_name(model))
    counts = []
    for rec in records:
        n = TOKENS_REPLY_PRIMING
        for m in rec["messages"]:
            n += TOKENS_PER_MESSAGE + len(enc.encode(m["role"])) + len(enc.encode(m["content"]))
            if "name" in m:
                n += 1
        counts.append(n)
    return counts


def count_text_tokens(text: str, model: str) -> int:
    """Tokens of one text (a completion whose provider reported no usage)."""
    return len(_encoding(encoding_name(model)).encode(text))


def default_epochs(n_examples: int) -> int:
    """What "auto" epochs come to, by the heuristic OpenAI's cookbook describes: 3 epochs,
    raised so that small sets see about 100 examples (at most 25 epochs), lowered for huge ones."""
    if n_examples <= 0:
        return 3
    if n_examples * 3 < 100:
        return min(25, 100 // n_examples)
    if n_examples * 3 > 25_000:
        return max(1, 25_000 // n_examples)
    return 3
