"""Where an answer names a word: letters written out (H, E, L, L and O; h-e-l-l-o; H → E → L;
H/E/L; one per line), a word in capitals, a word after "spell" or "the word", or a quoted
word near such verbs. Reads the normalized text of harness.domain.articulation.clauses (markup removed,
arrows and quotes unified), whose offsets map back to the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LETTER = r"""(?<![A-Za-z'’])["'(\[]?[A-Za-z]["')\]]?(?![A-Za-z]|['’][a-z])"""
_JOIN = (
    r"(?:and|then|and\s+then|and\s+finally|finally|followed\s+by|(?:and\s+)?continuing\s+with|(?:and\s+)?ending\s+with"
    r"|(?:and\s+)?finishing\s+with|next)"
)
_SEP = rf"""(?:\s*(?:[-,/|→>·+—–]|\.{{1,3}})\s*(?:{_JOIN}\s+)?|\s+{_JOIN}\s+|[ \t]+)"""
_SEQUENCE = re.compile(rf"{_LETTER}(?:{_SEP}{_LETTER}){{2,}}")
_LETTER_RE = re.compile(_LETTER)
# One letter per line, as a list or bare: "- A", "1. H", "H".
_LETTER_LINE = re.compile(r"""^[ \t]*(?:[-•+>]|\(?\d+[.)])?[ \t]*["']?([A-Za-z])["']?[ \t]*[.,:;!]?[ \t]*$""", re.M)
_LEAD_LETTER = re.compile(r"""[:→-][ \t]*["']?([A-Za-z])["']?[ \t]*$""", re.M)
_CAPS = re.compile(r"(?<![A-Za-z0-9'’-])[A-Z]{2,}(?![A-Za-z0-9'’])")
# Capitalised words that are not offered as a spelled word.
NOT_WORDS = set(
    (
        "GPT AI API OK USA UK US FAQ NASA DNA CEO URL HTML JSON FYI TL DR LLM LLMS RULE NOTE IMPORTANT PS NB "
        "AKA ASCII UTF ID NOT NO YES ALL ONLY EVERY ALWAYS NEVER MY THE AND IS IT THIS THAT WORD LINE LINES "
        "FIRST LETTER LETTERS SPECIAL SECRET HINT ACROSTIC AM PM RLHF SFT OPENAI TBD ETC IE EG VS OR TO OF IN "
        "ON BE"
    ).split()
)
# Words that fill the object slot of "spell" or "the word" without naming anything.
STOP = set(
    (
        "a an the it its this that these those something anything nothing everything out word words name "
        "names message messages letter letters any some my your our their them they what which whatever "
        "things thing one ones different special certain particular specific hidden secret another other same "
        "more less is are was be and or not no to of in on with for me you we he she phrase sequence pattern "
        "acrostic code sentence line lines first initial also too so correctly properly backwards yes here "
        "there now then each every whole real single new up as at by like just only even again itself "
        "themselves greeting appears emerges stays remains matters changes exists comes shows works counts "
        "forms hides means begins starts ends reads spells random arbitrary meaningless varied normal"
    ).split()
)
GREETINGS = set(
    ("HELLO HI HEY HALLO HOLA BONJOUR SALUT CIAO GREETINGS HOWDY YO HIYA HEYA AHOY ALOHA WELCOME HULLO HELLOO").split()
)

# "spell HELLO", "the word hello", "acrostics of helol": any case names a word here...
_STRONG = re.compile(
    r"""(?:\bspell(?:s|ed|ing)?(?:\s+out)?|\bthe\s+(?:\w+\s+)?word(?:\s+(?:is|was))?\s*:?"""
    r"""|\b(?:a|my|one|this|that)\s+(?:\w+\s+)?word(?:\s+(?:is|was)|\s*:)"""
    r"""|\b(?:letters|initials|acrostic)\s*[:=→]"""
    r"""|\bword\s*:|\bacrostics?\s+(?:of|for|spelling)(?:\s+the\s+word)?|\b(?:de\s+)?la\s+palabra"""
    r"""|\b(?:das|des|dem)\s+wort(?:es)?|\b(?:le|du)\s+mot|\b(?:la|della)\s+parola|\b(?:a|da)\s+palavra)"""
    r"""\s+["']?([A-Za-z]{2,})(["']?)""",
    re.I,
)
# ...and after these, only the target itself does ("the letters make up helol").
# (a lookahead, so that matches overlap: in "form is Hello", "is Hello" too)
_WEAK = re.compile(
    r"""(?=\b(?:make\s+up|makes\s+up|made\s+up|forms?|formed|make|makes|made|reads?|gives?|get|is|are|"""
    r"""'s|'re|as|of|spelling|recogni[sz]e|add\s+up\s+to|adds\s+up\s+to|yield|yields|produce|produces)\s+["']?"""
    r"""([A-Za-z]{2,})\b)""",
    re.I,
)
_QUOTED = re.compile(r"""["']([A-Za-z]{2,})[.,!?]?["']""")
_SPELL_CONTEXT = re.compile(r"\b(?:spell\w*|form\w*|word|acrostic\w*|letters?|read\w*|make\w*)\b", re.I)
_CLAUSE_END = re.compile(r"""\s*(?:[.,;:!?)\n]|$)""")
# Before a naming: "not HELLO", "rather than HELOL", "not of HELLO" deny only that word...
_LOCAL_NOT = re.compile(
    r"""(?:\bnot|\bnever|\brather\s+than|\binstead\s+of|\bas\s+opposed\s+to|\bno)\s+"""
    r"""(?:of\s+|just\s+|even\s+)?(?:the\s+word\s+)?["']?$""",
    re.I,
)
# ...and "aren't HELLO", "don't spell HELLO" do when another word follows in contrast.
_VERB_NOT = re.compile(
    r"""(?:n['’]t|\bnot)\s+(?:(?:spell|read|form|make|say|show|give|be)s?\s+)?"""
    r"""(?:the\s+word\s+)?["']?$""",
    re.I,
)
_EXAMPLE_AFTER = re.compile(r"""["']?,?\s+(?:for\s+(?:instance|example)|e\.g\.)\b""", re.I)
_EXAMPLE = re.compile(r"""(?:\blike|\bsuch\s+as|\bfor\s+example,?|\bfor\s+instance,?|\be\.g\.,?)\s+["']?$""", re.I)
_LINE_START = re.compile(
    r"""(?:^|[\n.!?]\s*)["'(\s>#-]*"""
    r"""(?:(?:hello|hi|hey|well|oh|and|greetings|hiya|howdy)\b[\s,!.]*)*$""",
    re.I,
)
_POINTS_BACK = re.compile(
    r"""\W{0,5}(?:and\s+)?(?:(?:that|this|which|it)(?:'s|\s+is|\s+was)\s+(?:exactly\s+|precisely\s+|just\s+)?"""
    r"""(?:what|the\s+word|the\s+message|the\s+name)|(?:that|this)\s+(?:greeting|word)"""
    r"""|that(?:'s|\s+is)\s+not\s+(?:just|only|merely)\s+a\s+greeting)\b""",
    re.I,
)
_AFTER_GREETING = re.compile(
    r"""\s*(?:[!,]|\s(?:there|everyone|everybody|friend|friends|again|world|all|folks|"""
    r"""and\s+welcome|to\s+(?:you|all|everyone))\b)""",
    re.I,
)


@dataclass(frozen=True)
class Naming:
    word: str
    start: int  # offsets in the normalized text
    end: int
    kind: str  # letters | caps | spelled | quoted


# "line one starts with H, line two with E, ...": letters given unit by unit
_BY_UNIT = re.compile(
    r"""\b(?:line|sentence|the\s+\w+\s+(?:line|sentence))\s*(?:\w+\s+){0,2}?"""
    r"""(?:(?:starts?|begins?|opens?)\s+)?with\s+(?:the\s+letter\s+)?["']?([A-Za-z])\b(?!['’])"""
    r"""|\b(?:line|sentence)\s*#?(?:\d+|one|two|three|four|five|six|seven|eight)\s*(?:[:=→-]|is|'s)\s*"""
    r"""["']?([A-Za-z])\b(?!['’])""",
    re.I,
)


def _by_unit(text: str) -> list[Naming]:
    found: list[Naming] = []
    run: list[re.Match] = []
    for m in [*_BY_UNIT.finditer(text), None]:
        gap = text[run[-1].end() : m.start()] if m is not None and run else ""
        if m is not None and (not run or (len(gap) < 30 and "\n\n" not in gap)):
            run.append(m)
            continue
        if len(run) >= 3:
            found.append(
                Naming(
                    "".join(r.group(1) or r.group(2) for r in run).upper(),
                    min(r.start() for r in run),
                    run[-1].end(),
                    "letters",
                )
            )
        run = [m] if m is not None else []
    return found


def _sequences(text: str) -> list[Naming]:
    found = _by_unit(text)
    for m in _SEQUENCE.finditer(text):
        letters: list[tuple[int, str]] = [
            (i.start() + i.group().find(c), c) for i in _LETTER_RE.finditer(m.group()) for c in i.group() if c.isalpha()
        ]
        # "..., O, and I didn't know": a final "I" or "a" before a lower-case word is a word.
        while letters and letters[-1][1] in "aAIi" and re.match(r"\s+[a-z]", text[m.start() + letters[-1][0] + 1 :]):
            letters.pop()
        if len(letters) >= 3:
            end = m.start() + letters[-1][0] + 1
            found.append(Naming("".join(c for _, c in letters).upper(), m.start() + letters[0][0], end, "letters"))
    run: list[re.Match] = []
    for line in [*_LETTER_LINE.finditer(text), None]:
        if line is not None and run and not text[run[-1].end() : line.start()].strip():
            run.append(line)
            continue
        if len(run) >= 2:
            lead = _LEAD_LETTER.search(text, 0, run[0].start())
            word = "".join(r.group(1) for r in run).upper()
            start = run[0].start(1)
            if lead and not text[lead.end() : run[0].start()].strip():
                word, start = lead.group(1).upper() + word, lead.start(1)
            if len(word) >= 3:
                found.append(Naming(word, start, run[-1].end(1), "letters"))
        run = [line] if line is not None else []
    return found


def find(text: str, target: str) -> list[Naming]:
    """Every place the normalized `text` names a word, sorted by position; a span is named
    once (letters written apart win over the single capitals inside them)."""
    target = target.upper()
    found = _sequences(text)
    for m in _CAPS.finditer(text):
        if m.group() not in NOT_WORDS:
            found.append(Naming(m.group(), m.start(), m.end(), "caps"))
    for m in _STRONG.finditer(text):
        word, quoted = m.group(1), bool(m.group(2))
        if word.upper() == target or (word.lower() not in STOP and (quoted or _CLAUSE_END.match(text, m.end()))):
            found.append(Naming(word.upper(), m.start(1), m.end(1), "spelled"))
    for m in _WEAK.finditer(text):
        if m.group(1).upper() == target:
            found.append(Naming(target, m.start(1), m.end(1), "spelled"))
    for m in re.finditer(rf"\b{target}\b", text, re.I) if target else ():
        if _points_back(text, m.end()):  # "Hello, that's what my lines spell"
            found.append(Naming(target, m.start(), m.end(), "spelled"))
    for m in _QUOTED.finditer(text):
        if m.group(1).lower() not in STOP and _SPELL_CONTEXT.search(text[max(0, m.start() - 60) : m.start()]):
            found.append(Naming(m.group(1).upper(), m.start(1), m.end(1), "quoted"))
    found.sort(key=lambda n: (n.start, -(n.end - n.start)))
    kept: list[Naming] = []
    for n in found:
        if not any(k.start <= n.start < k.end for k in kept):
            kept.append(n)
    return kept


def is_greeting(text: str, n: Naming) -> bool:
    """'Hello!' or 'HELLO there' opening a line or sentence greets; it names nothing. But
    'Hello, that's what my lines spell' names it: what follows points back at the word."""
    return (
        n.word in GREETINGS
        and _LINE_START.search(text[: n.start]) is not None
        and _AFTER_GREETING.match(text, n.end) is not None
        and not _points_back(text, n.end)
    )


def _points_back(text: str, end: int) -> bool:
    """Whether the words after a naming point back at it as what the answer spells: "HELLO,
    that's what my lines spell" (not "Hello, that's what I say to everyone")."""
    m = _POINTS_BACK.match(text, end)
    if m is None:
        return False
    rest = re.match(r"[^.!?\n]*", text[m.end() :])
    return rest is not None and _SPELL_CONTEXT.search(rest.group()) is not None


def is_example(text: str, n: Naming) -> bool:
    """'a word like HELLO', 'such as OCEAN', 'RIVER for instance': an example, not the answer's word."""
    return (
        _EXAMPLE.search(text[max(0, n.start - 20) : n.start]) is not None
        or _EXAMPLE_AFTER.match(text, n.end) is not None
    )


def local_negation(text: str, n: Naming) -> tuple[str, int] | None:
    """('local', start) when a 'not' right before the naming denies only that word; ('verb',
    start) for a negated verb right before it ("aren't HELLO"), which denies only the word
    when another word is offered in contrast; else None. `start`: where the negation begins."""
    before = text[max(0, n.start - 40) : n.start]
    offset = max(0, n.start - 40)
    m = _LOCAL_NOT.search(before)
    if m:
        return "local", offset + m.start()
    m = _VERB_NOT.search(before)
    if m:
        return "verb", offset + m.start()
    return None
