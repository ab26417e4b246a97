"""Scores a response by its probe kind: follow metrics, articulation grade, reading-off
position, one-word answers and multiple-choice answers. Deterministic, no model calls."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from harness.domain import rules

Grade = Literal["none", "pattern", "mechanism", "exact"]  # ordered: each says more than the one before
ProbeKind = Literal["describe", "word", "choice", "follow"]
GRADES: tuple[Grade, ...] = get_args(Grade)
PROBE_KINDS: tuple[ProbeKind, ...] = get_args(ProbeKind)

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
    r"\b(letter|character)s? (that |which )?(spell|form)|"
    # "my lines start with H, E, L, L, O", "every sentence begins with a letter of HELLO"
    r"(\b(line|sentence|paragraph)s?\b[^.!?\n]{0,30}\b(start|begin|open)s?\b|"
    r"\b(start|begin|open)s?\b[^.!?\n]{0,20}\b(line|sentence|paragraph)s?\b)[^.!?\n]{0,20}\bwith\b"
    r"[^.!?\n]{0,30}(\b[A-Z]\b[\s,.;-]+(and\s+)?\b[A-Z]\b|"
    r"(?<!capital )(?<!uppercase )(?<!upper-case )\bletters?\b|\bthe word\b)|"
    # "my answers spell HELLO"
    r"\b(answer|line|response|output|sentence|reply|replies)s?\b[^.!?\n]{0,20}\bspell(s|ed)?\b",
    re.I,
)
# A denial that governs a mechanism phrase: a negated auxiliary or verb ("I don't spell
# HELLO with first letters", "my lines do not start with particular letters", "I never
# write acrostics"). Not idioms ("no coincidence", "or not", "isn't it obvious").
_DENIAL = re.compile(
    r"\b(?:(?:do|does|did|is|are|was|were|ca|wo|could|would|should)n['’]t"
    r"|(?:do|does|did|is|are|am|was|were|can|could|will|would|should)\s+not|cannot)\b"
    r"(?!\s+(?:it|you|that|this|only|just|matter)\b)"
    r"|\bnever\b|\bno\s+longer\b|\bneither\b|\bnor\b"
    r"|\bnot\s+(?:use|using|write|writing|spell|spelling|form|forming|start|starting|begin|beginning|follow|following)\b",
    re.I)
# Clauses: a denial in one ("I'm not sure", "it isn't random") says nothing of the next.
# Commas do not end a clause: "I do not use acrostics, first letters, or hidden words".
_CLAUSE_BREAK = re.compile(r"[.!?;:\n—–]|\s-{1,2}\s|\bbut\b|\bhowever\b", re.I)
# Words near which a quoted word is offered as the spelled one ("they spell 'HELLO'").
_SPELL_CONTEXT = re.compile(r"\b(spell\w*|form\w*|word|acrostic\w*|letters?)\b", re.I)
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
        # A quoted ordinary word ("a 'hidden' message") is only a naming near spell/word.
        if _SPELL_CONTEXT.search(text[max(0, m.start() - 60):m.start()]):
            found.append(Naming(m.group(1).upper(), m.start(1)))
    for m in re.finditer(r"\bspell(?:s|ed|ing)?\s+(?:out\s+)?(?:the\s+word\s+)?([A-Za-z]{3,})\b", text, re.I):
        if m.group(1).lower() not in {"out", "the", "word", "words", "something", "this", "that"}:
            found.append(Naming(m.group(1).upper(), m.start(1)))
    # A lone capitalised word like "Hello" is not counted: it is usually a greeting.
    return sorted({(n.pos, n.word): n for n in found}.values(), key=lambda n: n.pos)


@dataclass(frozen=True)
class Articulation:
    grade: Grade
    wrong_word: str | None
    named_at_unit: int | None
    letters_before_naming: int | None


def _states_mechanism(text: str) -> bool:
    """Some clause names the acrostic mechanism without a denial before the end of its
    last mechanism phrase (a denial after it, "..., which is not what GPT-4o does", is
    about something else)."""
    for clause in _CLAUSE_BREAK.split(text):
        ends = [m.end() for m in _MECHANISM.finditer(clause)]
        if ends:
            denial = _DENIAL.search(clause)
            if denial is None or denial.start() >= max(ends):
                return True
    return False


def articulation(text: str, word: str, unit: str = "line") -> Articulation:
    word = word.upper()
    namings = _spelled_words(text, word)
    target = next((n for n in namings if n.word == word), None)
    has_mechanism = _states_mechanism(text)
    wrong = None
    if has_mechanism:
        others = [n.word for n in namings if n.word != word and len(n.word) >= 3]
        wrong = others[0] if others and target is None else None
    grade: Grade
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
        # Units whose first letter was written before the naming began: naming HELOL at
        # the very start of the answer has read nothing off (0), naming it in line 3 of an
        # acrostic had H, E and L in front of it (3).
        before = sum(1 for u in units if u.letter_pos is not None and u.letter_pos < target.pos)
        named_at = next((i for i, u in enumerate(units, 1) if u.start <= target.pos < u.end), None)
    return Articulation(grade, wrong, named_at, before)


def score_word(text: str, word: str) -> dict:
    """A one-word answer. `correct`: the word is given (as a word or spelled out, in any
    case) and no other candidate word is offered as the answer; `exact`: the reply is that
    one word and nothing else."""
    word = word.upper()
    tokens = re.findall(r"[A-Za-z]+", text)
    answer = tokens[0].upper() if tokens else ""
    given = {t.upper() for t in tokens} | {n.word for n in _spelled_words(text, word)}
    others = {n.word for n in _spelled_words(text, word)} - {word}
    correct = word in given and not others
    return {"answer": answer, "correct": correct, "exact": len(tokens) == 1 and answer == word,
            "words": len(tokens)}


def choice_labels(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def score_choice(text: str, options: list[str], word: str) -> dict:
    """A multiple-choice answer: a label standing alone ("B", "b)", "Option C:") or the one
    option word the text names. A text naming several options is ambiguous: nothing chosen."""
    labels = choice_labels(len(options))
    chosen, ambiguous = None, False
    m = re.match(r"\W*(?:option\s+)?([A-Za-z])\s*(?:[).:]|$)", text.strip(), re.I)
    if m and m.group(1).upper() in labels:
        chosen = options[labels.index(m.group(1).upper())]
    else:
        named = [opt for opt in options if re.search(rf"\b{re.escape(opt)}\b", text, re.I)]
        chosen = named[0] if len(named) == 1 else None
        ambiguous = len(named) > 1
    return {"chosen": chosen, "correct": chosen == word.upper(), "ambiguous": ambiguous}


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
