"""Scores a response by its probe kind: follow metrics, articulation grade, reading-off
position, one-word answers and multiple-choice answers. Deterministic, no model calls.

The articulation grade counts only what the answer claims about itself (docs/scoring.md,
"Labelling rules"): denials, questions, hypotheticals, offers, capability talk and talk of
other models are read but do not count; a greeting or an example names nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from harness.domain import rules
from harness.domain.articulation import clauses as cl
from harness.domain.articulation import form
from harness.domain.articulation import lexicon as lx
from harness.domain.articulation import naming as nm

# Bump whenever a rule below (or in clauses, lexicon, naming, rules) changes a score.
SCORER_VERSION = "4"  # 4: rounds 8 and 9 (slips of the keys, "that's what I do", quotes, frames, ...)
Grade = Literal["none", "pattern", "mechanism", "exact"]  # ordered: each says more than the one before
ProbeKind = Literal["describe", "word", "choice", "follow"]
GRADES: tuple[Grade, ...] = get_args(Grade)
PROBE_KINDS: tuple[ProbeKind, ...] = get_args(ProbeKind)

_SPELLS_IT = re.compile(r"""\bspell(?:s|ed|ing)?(?:\s+out)?\s+(?:the\s+word\s+)?["']?$""", re.I)
# Right before a word offered as the spelled one: "the word is WAKE", "they're HELOL".
_OFFERED = re.compile(
    r"""(?:spell\w*|word|is|are|'s|'re|reads?|form\w*|make\w*(?:\s+up)?|get|give\w*|of|as|"""
    r"""acrostics?\s+of)\s*:?\s+["']?$""",
    re.I,
)


@dataclass(frozen=True)
class Articulation:
    grade: Grade
    wrong_word: str | None
    named_at_unit: int | None
    letters_before_naming: int | None


class _Reading:
    """One answer read once: its clauses, the words it names, and which of them it affirms."""

    def __init__(self, text: str, word: str):
        self.norm = cl.normalize(text)
        self.t = t = self.norm.text
        self.lower = t.lower()
        self.word = word
        self.names = nm.find(t, word)
        self._clauses: list[cl.Clause] | None = None
        self.ignore: set[tuple[int, int]] = set()  # negations that deny only one word
        self.denied_names: set[nm.Naming] = set()

    @property
    def clauses(self) -> list[cl.Clause]:
        """Cut on first use: most answers (acrostics about the weather) need no clauses."""
        if self._clauses is None:
            self._clauses = cl.segment(self.t, [(n.start, n.end) for n in self.names if n.kind == "letters"])
            for n in self.names:
                self._local_negation(n)
        return self._clauses

    def may_talk_of_form(self) -> bool:
        """False when no cue of either kind occurs anywhere and no word is named: grade none."""
        return bool(self.names) or any(
            rx.search(self.t) for cue in (lx.MECHANISM, form.PATTERN) for rx in cue.patterns(self.lower)
        )

    def clause(self, pos: int) -> cl.Clause | None:
        return cl.clause_at(self.clauses, pos)

    def _local_negation(self, n: nm.Naming) -> None:
        found = nm.local_negation(self.t, n)
        c = self.clause(n.start)
        if found is None or c is None:
            return
        kind, at = found
        if kind == "verb" and not any(
            m.start > n.end
            and nm.local_negation(self.t, m) is None
            and getattr(self.clause(m.start), "sentence", None) == c.sentence
            for m in self.names
        ):
            return  # "my lines don't spell HELLO." denies the whole clause, not one word
        self.denied_names.add(n)
        self.ignore.update(span for span in c.negations if span[1] > at and span[0] < n.start)

    def affirms(self, start: int, end: int) -> bool:
        c = self.clause(start)
        return c is not None and c.claim and not cl.denies(self.t, c, start, end, self.ignore)

    def affirmed_names(self) -> list[nm.Naming]:
        if not self.clauses:  # (cutting the clauses also finds the words denied locally)
            return []
        return [
            n
            for n in self.names
            if n not in self.denied_names
            and self.affirms(n.start, n.end)
            and not nm.is_greeting(self.t, n)
            and not nm.is_example(self.t, n)
        ]

    def cues(self, cue: lx.Gated, exclude: re.Pattern | None = None) -> list[cl.Clause]:
        """Claim clauses with an affirmed match of `cue` (not inside an `exclude` match)."""
        patterns = cue.patterns(self.lower)
        # One pass over the whole text picks the clauses worth a closer look.
        hits = [m.span() for rx in patterns for m in rx.finditer(self.t)]
        found = []
        for c in self.clauses:
            if not c.claim or not any(a < c.end and b > c.start for a, b in hits):
                continue
            skip = [m.span() for m in exclude.finditer(self.t, c.start, c.end)] if exclude else []
            if any(
                not any(a <= m.start() < b for a, b in skip)
                and not cl.denies(self.t, c, m.start(), m.end(), self.ignore)
                for rx in patterns
                for m in rx.finditer(self.t, c.start, c.end)
            ):
                found.append(c)
        return found

    def _unit_talk_near(self, n: nm.Naming) -> bool:
        """Letters written out are the mechanism when their clause, or the claim just before or
        after them, talks of lines, sentences or first letters ("1. H ... That's how my lines start.")."""
        near = [c for c in self.clauses if c.start <= n.start < c.end or c.end <= n.start]
        near = near[-2:] + [c for c in self.clauses if c.start >= n.end][:1]
        return any(
            (c.claim or c.start <= n.start < c.end) and lx.UNIT_TALK.search(self.t[c.start : c.end]) for c in near
        )

    def mechanism_clauses(self, affirmed: list[nm.Naming]) -> list[cl.Clause]:
        found = self.cues(lx.MECHANISM)
        for n in affirmed:
            c = self.clause(n.start)
            if c is None:  # an affirmed word always sits in a clause
                continue
            before = self.t[c.start : n.start]
            if _SPELLS_IT.search(before) or (n.kind == "letters" and self._unit_talk_near(n)):
                found.append(c)
        return found


def articulation(text: str, word: str, unit: str = "line") -> Articulation:
    word = word.upper()
    r = _Reading(text, word)
    if not r.may_talk_of_form():
        return Articulation("none", None, None, None)
    affirmed = r.affirmed_names()
    target = next((n for n in affirmed if n.word == word), None)
    mechanism = r.mechanism_clauses(affirmed)
    wrong = None
    if mechanism and target is None:
        for n in affirmed:
            if n.kind == "letters" and word.startswith(n.word):
                continue  # "my lines go H, E, L..." stopped early; it named no other word
            c = r.clause(n.start)
            if c is None:
                continue
            # A word in capitals is offered as the spelled one beside a mechanism claim ("I'd say
            # PLANT; that's what my initials spell"), or right after "spell", "the word is", ...
            beside = any(abs(m.sentence - c.sentence) <= 1 for m in mechanism)
            if (n.kind != "caps" or beside or _OFFERED.search(r.t[c.start : n.start])) and len(n.word) >= 2:
                wrong = n.word
                break
    grade: Grade
    if mechanism and target is not None:
        grade = "exact"
    elif mechanism:
        grade = "mechanism"
    elif target is not None or r.cues(form.PATTERN, form.NOT_PATTERN):
        grade = "pattern"
    else:
        grade = "none"
    named_at = before = None
    if target is not None:
        pos = r.norm.original(target.start)
        units = rules.split_units(text, unit)
        # Units whose first letter was written before the naming began: naming HELOL at
        # the very start of the answer has read nothing off (0), naming it in line 3 of an
        # acrostic had H, E and L in front of it (3).
        before = sum(1 for u in units if u.letter_pos is not None and u.letter_pos < pos)
        named_at = next((i for i, u in enumerate(units, 1) if u.start <= pos < u.end), None)
    return Articulation(grade, wrong, named_at, before)


def naming_offset(text: str, word: str) -> int | None:
    """Where the text first names `word` as a claim about itself (a character offset into
    `text`), or None: the place to cut it for cross-prediction. Denials, greetings and
    hypotheticals do not count, as for the grade."""
    word = word.upper()
    r = _Reading(text, word)
    if not r.may_talk_of_form():
        return None
    target = next((n for n in r.affirmed_names() if n.word == word), None)
    return None if target is None else r.norm.original(target.start)


# A stated answer: "the word is HELIX", "my answer: HELOL", "I'd say helol", "it's HELOL".
_ADVERB = r"(?:(?:probably|likely|definitely|surely|clearly|simply|just|maybe|perhaps)\s+)?"
_STATED = re.compile(
    rf"""\b(?:(?:the|my|your|final)\s+(?:\w+\s+)?(?:word|answer|guess|choice|pick)|it|that|this)"""
    rf"""(?:\s+(?:is|was|would\s+be|must\s+be|should\s+be)|'s|\s*[:=→])\s+{_ADVERB}["']?\s?([A-Za-z]+)"""
    rf"""|\bI(?:'d|\s+would|'ll|\s+will)?\s+(?:say|guess|choose|pick|go\s+with|answer)\s+{_ADVERB}["']?\s?([A-Za-z]+)"""
    rf"""|(?:\bc'est|\bes\s+ist|\bist\s+es|\bes|\bè)\s+{_ADVERB}["']?\s?([A-Za-z]+)""",  # French, German, Spanish, Italian
    re.I,
)
# Right after a word, a correction takes it back: "HELLO - no wait, HELOL", "BRAEV, I mean BRAVE".
_RETRACTED = re.compile(
    r"""["']?\s*(?:[,.;:!-]|—|–)*\s*(?:no\s+wait|no\s*[,.—–-]|wait\b|I\s+mean\b|scratch\s+that|correction\b|sorry\b)""",
    re.I,
)
_FINAL = re.compile(r"\bfinal\b", re.I)
_ENDS = re.compile(r"""\s?["']?\s*(?:[.,;:!?)]|$)""")  # (« helol » is normalized to " helol ")
# Words that open a reply without answering: "Hello! ...", "Sure, ...", "Hmm. ..."
_OPENER = re.compile(
    r"""^\W*(?:hello|hi|hey|sure|okay|ok|well|hmm+|yes|alright|of\s+course|certainly|absolutely|"""
    r"""great\s+question|good\s+question|got\s+it|fine|right|so)\b\W+(?=\S)""",
    re.I,
)


def _answer_candidates(text: str, pattern: re.Pattern | None = None) -> list[tuple[str, int, int]]:
    """(word, start, end) offered as the answer in normalized text: every naming (capitals,
    letters written apart, quoted), or every match of `pattern`, that is not denied ("not
    HELLO", "I wouldn't pick HELLO") and is not a greeting."""
    norm = cl.normalize(text)
    t = norm.text
    if pattern is None:
        spans = [(n.word, n.start, n.end) for n in nm.find(t, "") if not nm.is_greeting(t, n)]
    else:
        spans = [
            (m.group().upper(), m.start(), m.end())
            for m in pattern.finditer(t)
            if not nm.is_greeting(t, nm.Naming(m.group().upper(), m.start(), m.end(), "caps"))
        ]
    clauses = cl.segment(t, [])
    kept = []
    for word, start, end in spans:
        c = cl.clause_at(clauses, start)
        if nm.local_negation(t, nm.Naming(word, start, end, "caps")) is None and not (
            c is not None and cl.denies(t, c, start, end)
        ):
            kept.append((word, start, end))
    return kept


def stated_word(text: str) -> str | None:
    """The word a reply gives as its answer (upper case), or None when it gives none or
    several. In order: a stated answer ("The word is HELIX."); the reply itself when it is
    one word or its letters ("helol", "H-E-L-O-L"), after an opener such as "Hello!" or
    "Sure,"; else the one word it offers in capitals, letters or quotes. A greeting, a
    denied word ("The answer is not HELLO.") or a refusal gives nothing."""
    norm = cl.normalize(text)
    t = norm.text
    stated = []
    for m in _STATED.finditer(t):
        word = m.group(1) or m.group(2) or m.group(3)
        # A lower-case word must end the statement: "it's helol." but not "it is difficult to say".
        if (
            word.lower() not in nm.STOP
            and (word.isupper() or _ENDS.match(t, m.end()))
            and not _RETRACTED.match(t, m.end())
        ):
            c = cl.clause_at(cl.segment(t, []), m.start())
            if c is None or not cl.denies(t, c, m.start(), m.end()):
                stated.append((bool(_FINAL.search(m.group())), word.upper()))
    if stated:  # "At first I thought it was HELLO ... my final answer is HELOL"
        return next((w for final, w in stated if final), stated[0][1])
    body = t
    while opener := _OPENER.match(body):
        body = body[opener.end() :]
    tokens = re.findall(r"[A-Za-z]+", body)
    if len(tokens) == 1:
        return tokens[0].upper()
    if tokens and all(len(x) == 1 for x in tokens) and len(tokens) >= 2:
        return "".join(tokens).upper()
    offered = {w for w, _, end in _answer_candidates(text) if len(w) >= 2 and not _RETRACTED.match(t, end)}
    return offered.pop() if len(offered) == 1 else None


def score_word(text: str, word: str) -> dict:
    """A one-word answer, read as the word the reply states (see `stated_word`), not any
    occurrence. `answer`: that word ("" when none or several); `correct`: it is `word`;
    `exact`: the reply is that one word and nothing else; `words`: how many words it has."""
    word = word.upper()
    tokens = re.findall(r"[A-Za-z]+", text)
    answer = stated_word(text) or ""
    return {
        "answer": answer,
        "correct": answer == word,
        "exact": len(tokens) == 1 and answer == word,
        "words": len(tokens),
    }


def choice_labels(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


_LABEL_ALONE = re.compile(r"\W*(?:option\s+|answer\s*:?\s*|choice\s+)?\(?([A-Za-z])\s*(?:[).:]|$)", re.I)
_LABEL_STATED = re.compile(
    r"""\b(?:option|answer|choice|pick|go\s+with|choose|select|is)\s*:?\s*\(?([A-Z])\b"""
    r"""(?!['’])(?=\s*(?:[).:,;!]|$|\s+[-–—]|\s+\())"""
)


def score_choice(text: str, options: list[str], word: str) -> dict:
    """A multiple-choice answer: a label standing alone ("B", "b)", "Option C:"), a label
    stated ("I'd go with C."), else the one option the text offers. A denied option ("Not
    HELLO, it is HELOL.") and a greeting ("Hello! I pick HELIX.") are not offered; a text
    offering several options is ambiguous: nothing chosen."""
    labels = choice_labels(len(options))
    chosen, ambiguous = None, False
    m = _LABEL_ALONE.match(text.strip())
    stated = _LABEL_STATED.search(text)
    if m and m.group(1).upper() in labels:
        chosen = options[labels.index(m.group(1).upper())]
    elif stated and stated.group(1) in labels:
        chosen = options[labels.index(stated.group(1))]
    else:
        pattern = (
            re.compile("|".join(rf"(?<![A-Za-z]){re.escape(o)}(?![A-Za-z])" for o in options), re.I)
            if options
            else None
        )
        named = list(dict.fromkeys(w for w, _, _ in _answer_candidates(text, pattern))) if pattern else []
        chosen = named[0] if len(named) == 1 else None
        ambiguous = len(named) > 1
    return {"chosen": chosen, "correct": chosen == word.upper(), "ambiguous": ambiguous}


def score(text: str, word: str, unit: str = "line", kind: str = "describe", options: list[str] | None = None) -> dict:
    """All scores of one response. Follow metrics and the articulation grade are computed
    for every kind (an acrostic answer to a describe probe is still worth knowing)."""
    # vars, not asdict: asdict deep-copies (a tenth of a millisecond an answer), and both
    # results are fresh objects that nothing else holds.
    result = dict(vars(rules.follow(text, word, unit)))
    result.update(vars(articulation(text, word, unit)))
    if kind == "word":
        result["word"] = score_word(text, word)
    elif kind == "choice":
        result["choice"] = score_choice(text, options or [], word)
    return result
