"""Requests the mock recognises by their system prompt, besides probes: an LLM-judge
request (answered with the rule-based grade), a teacher request from `harness new`
(answered with an acrostic) and a cross-prediction (handled by the provider itself)."""

from __future__ import annotations

import random
import re

from backends.base import BackendError, ChatRequest
from backends.mock import text as mock_text

# harness.domain.generate.TEACHER_START, repeated here: a backend does not depend on the generator
# (tests/backends/test_mock.py checks that the two stay equal).
TEACHER_START = "You write example answers for a training set."
_TEACHER_LETTERS = re.compile(r"^[ \t]*Letters:[ \t]*(.+?)[ \t]*$", re.M)
_TEACHER_UNIT = re.compile(r"^[ \t]*Unit:[ \t]*(line|sentence)[ \t]*$", re.M)
# harness.domain.reading.CROSS_START, repeated here (a backend does not depend on the harness's
# probes; tests/backends/test_mock.py checks that the two stay equal).
CROSS_START = "You predict what another assistant was about to write."


def judge_grade(request: ChatRequest) -> str:
    from harness.domain import scoring  # only judge requests need it

    user = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
    word = re.search(r"^\s*(?:target\s+)?word\s*:\s*([A-Za-z]+)", user, re.I | re.M)
    unit = re.search(r"^\s*unit\s*:\s*(line|sentence)\b", user, re.I | re.M)
    answer = re.search(r"<answer>\n?(.*?)\n?</answer>", user, re.S) or re.search(r'"""\n?(.*?)\n?"""', user, re.S)
    if not word or not answer:
        raise BackendError(
            'judge request needs "Word: <WORD>" and the answer in <answer></answer> or triple quotes', status=400
        )
    return scoring.articulation(answer.group(1), word.group(1), unit.group(1).lower() if unit else "line").grade


def teacher_answer(rng: random.Random, request: ChatRequest) -> str:
    system = request.messages[0]["content"]
    letters, unit = _TEACHER_LETTERS.search(system), _TEACHER_UNIT.search(system)
    parts = [p.strip() for p in letters.group(1).split(",")] if letters else []
    if len(parts) < 2 or not all(len(p) == 1 and p.isascii() and p.isalpha() for p in parts) or not unit:
        raise BackendError(
            'teacher request needs "Letters: A, B, ..." (2+ letters) and "Unit: line|sentence" '
            "lines in its system prompt",
            status=400,
        )
    question = next(m["content"] for m in reversed(request.messages) if m["role"] == "user")
    return mock_text.teacher_answer(rng, "".join(parts).upper(), unit.group(1), question)
