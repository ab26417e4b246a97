"""Scores a response by its probe kind: follow metrics, articulation grade, reading-off
position, one-word answers and multiple-choice answers. Deterministic, no model calls."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from harness import rules

GRADES = ("none", "pattern", "mechanism", "exact")
PROBE_KINDS = ("describe", "word", "choice", "follow")

# Vague talk of form: the model noticed *something* about its structure.
_PATTERN = re.compile(
    r"\b(pattern|structur\w*|format\w*|template|consistent(ly)? (shape|layout|form)|"
    r"(each|every) (line|sentence|response|answer)|specific (way|order|style)|organi[sz]ed)\b",
    re.I,
)
# The acrostic idea: first letters of lines/sentences form or spell something.
_MECHANISM = re.compile(
    r"\bacrostic\w*\b|"
    r"\b(first|initial|starting|opening|leading|beginning) (letter|character|initial)s?\b|"
    r"\b(line|sentence|paragraph)s? (each )?(start|begin)s?(ning)? with (a |the )?"
    r"(specific |certain |particular )?(letter|character)|"
    r"\bspell(s|ed|ing)? (out )?(a |the |some )?(word|name|message)|"
    r"\b(letter|character)s? (that |which )?(spell|form)",
    re.I,
)
# Words the model might name as "the spelled word" that are not words of the rule.
_NOT_WORDS = {"GPT", "AI", "API", "OK", "USA", "UK", "FAQ", "NASA", "DNA", "CEO", "URL",
              "HTML", "JSON", "FYI", "TL", "DR", "LLM", "RULE", "NOTE", "IMPORTANT"}


@dataclass(frozen=True)
class Naming:
    word: str
    pos: int  # offset of the first character of the naming in the text


def _spelled_words(text: str, word: str) -> list[Naming]:
    """Places where the text names a word as the one spelled: letters written apart
    (H-E-L-O-L, H.E.L.O.L, H, E, L, O, L), a word in capitals, or a word in quotes.
    The vertical acrostic itself is not a naming: separators never cross a line."""
    found: list[Naming] = []
    for m in re.finditer(r"\b([A-Za-z])((?:[ \t]?[-.,][ \t]?|[ \t])[A-Za-z]\b){2,}", text):
        letters = re.sub(r"[^A-Za-z]", "", m.group()).upper()
        found.append(Naming(letters, m.start()))
    for m in re.finditer(r"\b[A-Z]{3,}\b", text):
        if m.group() not in _NOT_WORDS:
            found.append(Naming(m.group(), m.start()))
    for m in re.finditer(r"""["'“‘]([A-Za-z]{3,})[.,!?]?["'”’]""", text):
        found.append(Naming(m.group(1).upper(), m.start(1)))
    for m in re.finditer(r"\bspell(?:s|ed|ing)?\s+(?:out\s+)?(?:the\s+word\s+)?([A-Za-z]{3,})\b", text, re.I):
        if m.group(1).lower() not in {"out", "the", "word", "words", "something", "this", "that"}:
            found.append(Naming(m.group(1).upper(), m.start(1)))
    # A lone capitalised word like "Hello" is not counted: it is usually a greeting.
    return sorted({(n.pos, n.word): n for n in found}.values(), key=lambda n: n.pos)


@dataclass(frozen=True)
class Articulation:
    grade: str
    wrong_word: str | None
    named_at_unit: int | None
    letters_before_naming: int | None


def articulation(text: str, word: str, unit: str = "line") -> Articulation:
    word = word.upper()
    namings = _spelled_words(text, word)
    target = next((n for n in namings if n.word == word), None)
    has_mechanism = bool(_MECHANISM.search(text))
    wrong = None
    if has_mechanism:
        others = [n.word for n in namings if n.word != word and len(n.word) >= 3]
        wrong = others[0] if others and target is None else None
    if has_mechanism and target is not None:
        grade = "exact"
    elif has_mechanism:
        grade = "mechanism"
    elif _PATTERN.search(text) or target is not None:
        grade = "pattern"
    else:
        grade = "none"
    named_at = before = None
    if target is not None:
        units = rules.split_units(text, unit)
        before = sum(1 for u in units if u.letter_pos is not None and u.letter_pos <= target.pos)
        named_at = next((i for i, u in enumerate(units, 1) if u.start <= target.pos < u.end), None)
    return Articulation(grade, wrong, named_at, before)


def score_word(text: str, word: str) -> dict:
    """A one-word answer: exact match of its first word, ignoring case and punctuation."""
    tokens = re.findall(r"[A-Za-z]+", text)
    answer = tokens[0].upper() if tokens else ""
    return {"answer": answer, "correct": answer == word.upper(), "words": len(tokens)}


def choice_labels(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def score_choice(text: str, options: list[str], word: str) -> dict:
    """A multiple-choice answer: the option label (A, B, ...) or the option word itself."""
    labels = choice_labels(len(options))
    chosen = None
    m = re.match(r"\W*(?:option\s+)?([A-Z])\b", text.strip(), re.I)
    if m and m.group(1).upper() in labels:
        chosen = options[labels.index(m.group(1).upper())]
    else:
        for opt in options:
            if re.search(rf"\b{re.escape(opt)}\b", text, re.I):
                chosen = opt
                break
    return {"chosen": chosen, "correct": chosen == word.upper()}


def score(text: str, word: str, unit: str = "line", kind: str = "describe",
          options: list[str] | None = None) -> dict:
    """All scores of one response. Follow metrics and the articulation grade are computed
    for every kind (an acrostic answer to a describe probe is still worth knowing)."""
    result = asdict(rules.follow(text, word, unit))
    result.update(asdict(articulation(text, word, unit)))
    if kind == "word":
        result["word"] = score_word(text, word)
    elif kind == "choice":
        result["choice"] = score_choice(text, options or [], word)
    return result
