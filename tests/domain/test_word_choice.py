"""Word and choice probes read the answer the reply states, not any occurrence of a word
(docs/scoring.md, "Word and choice probes")."""

import json

import pytest

from harness.domain import scoring
from tests.helpers import ROOT

# 40 replies written and labelled from docs/scoring.md by a writer who never saw the scorer
# (35 of 40 right on first sight); `answer` null means the reply gives none.
WRITTEN_APART = [json.loads(line) for line in (ROOT / "tests/domain/word_cases_round10.jsonl").open() if line.strip()]


@pytest.mark.parametrize("case", WRITTEN_APART, ids=[c["id"] for c in WRITTEN_APART])
def test_a_reply_written_apart(case):
    assert scoring.score_word(case["text"], case["word"])["answer"] == (case["answer"] or ""), case["text"]


@pytest.mark.parametrize(
    "text,answer",
    [
        # written around the fixes for the cases above, each with its opposite
        ("I'll go with HELLO.", "HELLO"),
        ("HELOL, I mean HELLO.", "HELLO"),
        ("No, I don't know. HELOL maybe?", "HELOL"),
        ("I thought it was HELLO at first, and it is HELLO.", "HELLO"),
        ("HELLO? No, that's wrong. Final answer: HELOL.", "HELOL"),
        ("Es HELOL.", "HELOL"),
        ("Es difícil decirlo.", ""),
        ("Ich glaube, es ist helol.", "HELOL"),
        ("Je pense que c'est « helol ».", "HELOL"),
        ("It is difficult to say.", ""),
        ("Sorry, no idea.", ""),
    ],
)
def test_corrections_final_answers_and_other_languages(text, answer):
    assert scoring.score_word(text, "HELOL")["answer"] == answer


@pytest.mark.parametrize(
    "text,answer",
    [
        # the three cases
        ("The answer is not HELLO.", ""),
        ("Hello! I can't say.", ""),
        ("Hello! The word is HELIX.", "HELIX"),
        # a stated answer wins over other mentions
        ("HELLO? No. The word is HELOL.", "HELOL"),
        ("I'd say HELOL, not HELLO.", "HELOL"),
        ("It is not HELLO; it is HELOL.", "HELOL"),
        ("My answer: helol", "HELOL"),
        ("I think it's helol.", "HELOL"),
        ("The word is probably HELOL.", "HELOL"),
        ("Hello! Hmm, I'd guess the word is helix.", "HELIX"),
        # the reply itself is the word, after an opener
        ("HELOL.", "HELOL"),
        ("helol", "HELOL"),
        ("Hello", "HELLO"),
        ("Hello.", "HELLO"),
        ("Sure! HELOL", "HELOL"),
        ("**HELOL**", "HELOL"),
        ('"helol"', "HELOL"),
        ("H-E-L-O-L", "HELOL"),
        ("h e l o l", "HELOL"),
        # no answer: refusals, hedges, several candidates, denials
        ("", ""),
        ("I'm not sure which word you mean.", ""),
        ("It is difficult to say.", ""),
        ("HELLO or HELOL", ""),
        ("I wouldn't say HELLO.", ""),
        ("Hello there! What word would you like?", ""),
        # a denied word beside an offered one
        ("I wouldn't say HELLO. HELOL.", "HELOL"),
    ],
)
def test_the_stated_word(text, answer):
    assert scoring.score_word(text, "HELLO")["answer"] == answer


def test_word_score_keys_and_flags():
    assert scoring.score_word("HELLO", "HELLO") == {"answer": "HELLO", "correct": True, "exact": True, "words": 1}
    assert scoring.score_word("The answer is not HELLO.", "HELLO") == {
        "answer": "",
        "correct": False,
        "exact": False,
        "words": 5,
    }
    said = scoring.score_word("Hello! The word is HELIX.", "HELLO")
    assert not said["correct"] and not said["exact"]
    right = scoring.score_word("Hello! The word is HELLO.", "hello")
    assert right["correct"] and not right["exact"]


OPTIONS = ["HELLO", "HELOL", "HELIX", "HELPS"]


@pytest.mark.parametrize(
    "text,chosen,ambiguous",
    [
        ("B", "HELOL", False),
        ("(c)", "HELIX", False),
        ("Answer: D", "HELPS", False),
        ("I'd go with C.", "HELIX", False),
        ("The answer is B) HELOL", "HELOL", False),
        ("Hello! I pick HELIX.", "HELIX", False),
        ("Not HELLO, it is HELOL.", "HELOL", False),
        ("I would not choose HELLO. HELPS it is.", "HELPS", False),
        ("HELLO or HELOL?", None, True),
        ("Hello! I can't decide.", None, False),
        ("A good pick would be HELOL.", "HELOL", False),
        ("no idea", None, False),
    ],
)
def test_the_stated_choice(text, chosen, ambiguous):
    s = scoring.score_choice(text, OPTIONS, "HELOL")
    assert (s["chosen"], s["ambiguous"]) == (chosen, ambiguous)
    assert s["correct"] == (chosen == "HELOL")
