"""Cuts an answer into sentences, parts and clauses and says which clauses are claims the
author makes about itself: not questions, not hypotheticals or offers ("if you asked me I
could ..."), not about other models or people, not definitions. Negations are located per
clause; whether one governs a given phrase is decided by `denies`."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from harness.domain import rules
from harness.domain.articulation import framing as fr
from harness.domain.articulation import lexicon as lx

# Emphasis and code marks hold no words: "**H**ere" is "Here", "H_E_L_L_O" is "HELLO".
_MARKUP = set("*_`~")
_ONE_CHAR = {
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "«": '"',
    "»": '"',
    "„": '"',
    "＂": '"',
    "＇": "'",
    "⇒": "→",
    "➔": "→",
    "➜": "→",
    "⟶": "→",
    "►": "→",
    "▶": "→",
    "。": ".",
    "！": "!",
    "？": "?",
    "；": ";",
    "：": ":",
    "，": ";",
    "、": ",",
    "…": ".",
}
_ARROW = re.compile(r"-+>|=+>")
_WORD = re.compile(r"[a-z]+")
_AS_IF = re.compile(r"\bas\s+if\b", re.I)
# Someone else's words in quotes: 'You wrote: "Your first letters spell HELOL."'
_REPORTED = re.compile(
    r"""\b(?:you|they|someone|somebody|people|the\s+user|a\s+user)\s+(?:once\s+)?(?:wrote|said|asked|claimed|told\s+me"""
    r"""|put\s+it(?:\s+to\s+me)?(?:\s+as)?)\s*:?\s*("[^"\n]*"?)""",
    re.I,
)
# Sentence ends: . ! ? (an ellipsis too), then space, the end, or a CJK character.
_END = re.compile(r"""[.!?]+["')\]]*(?=\s|$|[^\x00-\x7f])|[;:](?=\s|$)|\s+-{1,2}\s+|[—–]""")


@dataclass(frozen=True)
class Normalized:
    text: str
    index: tuple[int, ...]  # the answer's offset of each character of `text` (one past the end last)

    def original(self, pos: int) -> int:
        return self.index[min(pos, len(self.index) - 1)]


_TABLE = str.maketrans({**_ONE_CHAR, **{ch: None for ch in _MARKUP}})


def normalize(text: str) -> Normalized:
    # (a set of the words is far cheaper than the big pattern, and slips are rare)
    slipped = not lx.TYPOS.keys().isdisjoint(_WORD.findall(text.lower()))
    typos = {m.start(): m for m in lx.TYPO.finditer(text)} if slipped else {}
    if "->" not in text and "=>" not in text and "```" not in text and not typos:  # the common case: no loop
        kept = (
            [i for i, ch in enumerate(text) if ch not in _MARKUP]
            if any(ch in text for ch in _MARKUP)
            else list(range(len(text)))
        )
        kept.append(len(text))
        return Normalized(text.translate(_TABLE), tuple(kept))
    out: list[str] = []
    index: list[int] = []
    i = 0
    while i < len(text):
        arrow = _ARROW.match(text, i)
        if arrow:
            out.append("→")
            index.append(i)
            i = arrow.end()
            continue
        if text.startswith("```", i):  # a code fence is kept: what it holds is quoted, not claimed
            out.append("```")
            index.extend((i, i + 1, i + 2))
            i += 3
            continue
        if i in typos:  # "frist" reads as "first", in the slip's case
            slip = typos[i].group()
            fixed = lx.TYPOS[slip.lower()]
            fixed = fixed.upper() if slip.isupper() else fixed.title() if slip[0].isupper() else fixed
            out.append(fixed)
            index.extend(i + min(k, len(slip) - 1) for k in range(len(fixed)))
            i = typos[i].end()
            continue
        ch = text[i]
        if ch not in _MARKUP:
            out.append(_ONE_CHAR.get(ch, ch))
            index.append(i)
        i += 1
    index.append(len(text))
    return Normalized("".join(out), tuple(index))


@dataclass
class Clause:
    start: int
    end: int
    sentence: int
    question: bool = False
    asserted: bool = False  # the complement of a factive frame: "noticed that ..."
    claim: bool = False
    negations: list[tuple[int, int]] = field(default_factory=list)


def _sentence_spans(text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(start, end, terminator) of each sentence-like piece: lines, sentences, pieces between
    ';', ':' and dashes. Never cut inside a protected span (a naming like 'H. E. L. L. O.')."""
    spans = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for m in _END.finditer(line.group()):
            at = line.start() + m.start()
            if any(a <= at < b for a, b in protected):
                continue
            if m.group()[0] == "." and rules.abbreviation_before(text, at):
                continue
            spans.append((start, at, m.group().strip()[:1]))
            start = line.start() + m.end()
        spans.append((start, line.end(), ""))
    return [s for s in spans if text[s[0] : s[1]].strip()]


def _cuts(pattern: re.Pattern, text: str, start: int, end: int, protected, after: bool = False) -> list[int]:
    cuts = []
    for m in pattern.finditer(text, start, end):
        at = m.end() if after else m.start()
        if start < at < end and not any(a <= at < b for a, b in protected):
            cuts.append(at)
    return cuts


def _pieces(start: int, end: int, cuts: list[int]) -> list[tuple[int, int]]:
    bounds = [start, *sorted(set(cuts)), end]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _is_hypothetical(part: str, hypothetical: list[re.Pattern]) -> bool:
    masked = _AS_IF.sub(" ", fr.HEDGED_IF.sub(" ", part))  # "almost as if they were fitted to a template" compares
    if any(rx.search(masked) for rx in hypothetical):
        return True
    # "If my answers had a hidden structure, it would be ...": a counterfactual
    return bool(fr.CONDITIONAL.search(masked) and fr.COUNTERFACTUAL_MODAL.search(masked))


def _negations(text: str, start: int, end: int) -> list[tuple[int, int]]:
    idioms = [m.span() for m in fr.NOT_A_DENIAL.finditer(text, start, end)]
    tag = fr.TAG_QUESTION.search(text[start:end])
    tag_start = start + tag.start() if tag else end
    return [
        m.span()
        for m in fr.NEGATION.finditer(text, start, end)
        if m.start() < tag_start and not any(a <= m.start() < b for a, b in idioms)
    ]


def _quoted(text: str) -> list[tuple[int, int]]:
    """Spans that quote rather than claim: code blocks between ``` fences (an unclosed one runs
    to the end) and blockquote lines ("> ...")."""
    fences = [m.start() for m in re.finditer("```", text)] + [len(text)]
    spans = [(fences[i], fences[i + 1]) for i in range(0, len(fences) - 1, 2)]
    spans += [m.span() for m in re.finditer(r"(?m)^[ \t]*>[^\n]*", text)]
    return spans + [m.span(1) for m in _REPORTED.finditer(text)]


def _line_before(text: str, pos: int) -> tuple[int, int]:
    """The text an affirmation refers back to: the start of its own line if something precedes
    it there, else the nearest line above with words on it."""
    line_start = text.rfind("\n", 0, pos) + 1
    if text[line_start:pos].strip():
        return line_start, pos
    end = len(text[:line_start].rstrip())
    start = text.rfind("\n", 0, end) + 1
    if text[start:end].strip() == "```":  # a closing fence: the block it closes
        start = text.rfind("```", 0, start) if "```" in text[:start] else start
    return start, end


def segment(text: str, protected: list[tuple[int, int]]) -> list[Clause]:
    """The clauses of a normalized text, each marked claim or not, with its negations."""
    clauses: list[Clause] = []
    hypothetical = fr.HYPOTHETICAL.patterns(text.lower())  # gated once for the whole text
    quoted = _quoted(text) if "```" in text or ">" in text or '"' in text else []
    spans = _sentence_spans(text, protected)
    previous_hypothetical = False
    # "This lets me:\n- write acrostics": what follows a framed sentence's colon is framed too,
    # up to the first blank line after it
    frame_open = frame_used = False
    for s_no, (s_start, s_end, terminator) in enumerate(spans):
        if frame_used and "\n\n" in text[spans[s_no - 1][1] : s_start]:
            frame_open = frame_used = False
        first = s_end - len(text[s_start:s_end].lstrip())  # where its words begin
        framed = frame_open or any(a <= first < b for a, b in quoted)
        frame_used = frame_used or frame_open
        sentence_clauses = []
        # "Imagine a poem's first letters; they would spell a word": the modal goes on imagining
        continues = previous_hypothetical and fr.CONTINUES_HYPOTHETICAL.match(text, s_start, s_end) is not None
        previous_hypothetical = True
        for p_start, p_end in _pieces(s_start, s_end, _cuts(fr.CONTRAST, text, s_start, s_end, protected)):
            in_hypothetical = framed or continues or _is_hypothetical(text[p_start:p_end], hypothetical)
            previous_hypothetical = previous_hypothetical and in_hypothetical
            cuts = _cuts(fr.COORDINATION, text, p_start, p_end, protected)
            factive = _cuts(fr.FACTIVE, text, p_start, p_end, protected, after=True)
            for c_start, c_end in _pieces(p_start, p_end, cuts + factive):
                body = text[c_start:c_end]
                clause = Clause(c_start, c_end, s_no, asserted=c_start in factive)
                generic = fr.GENERIC_SUBJECT.search(body) is not None or fr.OTHER_MODEL.search(body) is not None
                definition = fr.DEFINITION.search(body) is not None and not fr.FIRST_PERSON.search(body)
                clause.claim = not (in_hypothetical or generic or definition or fr.CAPABILITY.search(body))
                clause.negations = _negations(text, c_start, c_end)
                sentence_clauses.append(clause)
        if terminator == "?":
            tagged = fr.TAG_QUESTION.search(text[s_start : s_end + 1]) or fr.HEDGED_QUESTION.search(text[s_start:s_end])
            for c in sentence_clauses:
                c.question = not c.asserted and not tagged
        for c in sentence_clauses:
            c.claim = c.claim and not c.question
        # "It would be easy for me to ..., and actually, that's what I do": within the sentence
        for i, c in enumerate(sentence_clauses[1:], 1):
            if fr.affirms(text[c.start : c.end]):
                for before in sentence_clauses[:i]:
                    before.claim = before.claim or not before.question
        if (
            terminator == ":"
            and sentence_clauses
            and _frames(text, sentence_clauses[-1], hypothetical, framed or continues)
        ):
            frame_open, frame_used = True, False
        _affirm_before(text, s_start, s_end, clauses)
        clauses.extend(sentence_clauses)
    return clauses


def _frames(text: str, last: Clause, hypothetical: list[re.Pattern], inherited: bool) -> bool:
    """Whether the clause before a colon frames what follows: an ability, an offer, a
    hypothetical, a definition, a quote ("This lets me:", "Let me write you one:")."""
    body = text[last.start : last.end]
    return inherited or bool(
        fr.CAPABILITY.search(body)
        or _is_hypothetical(body, hypothetical)
        or (fr.DEFINITION.search(body) and not fr.FIRST_PERSON.search(body))
    )


def _affirm_before(text: str, start: int, end: int, clauses: list[Clause]) -> None:
    """ "I could write ... In fact, that's what I do." and '"Do your first letters spell
    HELLO?" Yes.': what the sentence refers back to was a claim after all."""
    sentence = text[start:end]
    bare = fr.BARE_YES.match(sentence) is not None
    if not clauses or not (bare or fr.affirms(sentence)):
        return
    yes = bare or fr.YES.match(sentence) is not None  # it answers a question
    a, b = _line_before(text, start)
    for c in clauses:
        if a <= c.start < b and (yes or not c.question):
            c.claim, c.question = True, False


def clause_at(clauses: list[Clause], pos: int) -> Clause | None:
    for c in clauses:
        if c.start <= pos < c.end:
            return c
    return None


def denies(text: str, clause: Clause, start: int, end: int, ignore: AbstractSet[tuple[int, int]] = frozenset()) -> bool:
    """Whether a negation in `clause` governs the phrase text[start:end]: one before or inside
    it ("I don't write acrostics"), or one right after it as the clause's verb ("the first
    letters of my lines don't spell anything"), but not one in a relative clause or after a
    comma ("..., which is not what GPT-4o does", "a pattern I can't describe")."""
    for a, b in clause.negations:
        if (a, b) in ignore:
            continue
        if a < end:
            return True
        gap = text[end:a]
        if (len(gap) <= 60 and not fr.SEPARATES.search(gap)) or fr.CHANCE.match(text, a):
            return True
    return False
