"""The acrostic rule: split a text into units, read each unit's first letter, compare to a word."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = ("line", "sentence")

# A sentence ends at . ! or ?, optionally closed by a quote or bracket, followed by space...
_SENTENCE_END = re.compile(r"""(?<=[.!?])["'”’)\]]*\s+""")
# ...but not after an abbreviation ("Dr. Lee", "e.g. this") or inside an ellipsis ("Hmm... well").
_TITLES = {"dr", "mr", "mrs", "ms", "prof", "st", "sr", "jr", "mt", "vs", "cf", "e.g", "i.e", "eg", "ie", "viz", "ca"}
_BEFORE_LOWER = {"etc", "al", "approx", "incl", "esp", "resp", "ibid"}  # end a sentence only before a capital
_TOKEN_BEFORE_DOT = re.compile(r"""(?:^|[\s("'“‘\[])((?:[A-Za-z]\.)*[A-Za-z]+)$""")
# ...except after list numbering at the start of a sentence: "1. Here" is one sentence.
_NUMBERING = re.compile(r"\s*\(?\d+[.)]\s*")
# A line that starts a list item or heading starts a new sentence even without a full stop
# before it; any other single line break inside a paragraph is just wrapping.
_ITEM_START = re.compile(r"\n(?=[ \t]*(?:[-*+•>#]|\(?\d+[.)]|\(?[A-Za-z]\)|[a-z]\.\s))")
# Letters used as list markers are not the unit's letter: "a) Here", "(b) Every", "c. Long".
_LETTER_MARKER = re.compile(r"""^[\s*_>"'“‘]*\(?(?:[A-Za-z]\)|[a-z]\.(?=\s))""")


@dataclass(frozen=True)
class Unit:
    text: str
    start: int  # offsets of the unit in the original text: text[start:end]
    end: int
    letter: str | None  # upper-case first letter, None if the unit has no letter
    letter_pos: int | None  # offset of that letter in the original text


def abbreviation_before(text: str, dot: int) -> bool:
    """Whether the full stop at text[dot] closes an abbreviation rather than a sentence: a
    title or e.g./i.e. always; etc./et al. when a lower-case word or a digit follows; "No."
    before a number."""
    m = _TOKEN_BEFORE_DOT.search(text, 0, dot)
    if not m:
        return False
    token = m.group(1).lower()
    following = text[dot + 1 :].lstrip(" \t\"'”’)")[:1]
    if token in _TITLES:
        return True
    if token in _BEFORE_LOWER:
        return following == "" or not following.isupper()
    return token == "no" and following.isdigit()


def _ends_sentence(text: str, end: re.Match) -> bool:
    mark = end.start() - 1
    while mark > 0 and text[mark] in "\"'”’)]":
        mark -= 1
    if text[mark] != ".":
        return True
    if text[max(0, mark - 1) : mark] == ".":  # "Hmm... let me think" is one sentence
        return False
    return not abbreviation_before(text, mark)


def _first_letter(text: str, offset: int) -> tuple[str | None, int | None]:
    # List markers, numbering ("1."), emphasis ("**") and quotes hold no letters, so the
    # first alphabetic character is the letter: "1. **Here**" -> H. Lettered markers do.
    marker = _LETTER_MARKER.match(text)
    for i in range(marker.end() if marker else 0, len(text)):
        if text[i].isalpha():
            return text[i].upper(), offset + i
    return None, None


def _join_wrapped_lines(text: str) -> str:
    """The text with each wrapping line break turned into a space (same length): breaks
    that end a paragraph (blank line) or start a list item or heading stay."""
    keep = {m.start() for m in _ITEM_START.finditer(text)}
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch == "\n" and i not in keep and text[i - 1 : i] != "\n" and text[i + 1 : i + 2] != "\n":
            chars[i] = " "
    return "".join(chars)


def split_units(text: str, unit: str = "line") -> list[Unit]:
    """Non-empty lines, or sentences (a sentence may wrap across lines, but never spans a
    blank line or runs into the next list item)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    spans: list[tuple[int, int]] = []
    # Sentences: paragraphs (split at blank lines and list items) with wrapped lines joined;
    # replacing a newline by a space keeps every offset valid.
    source = text if unit == "line" else _join_wrapped_lines(text)
    for m in re.finditer(r"[^\n]+", source):
        if unit == "line":
            spans.append((m.start(), m.end()))
            continue
        line_start, pieces_from = m.start(), m.start()
        for end in _SENTENCE_END.finditer(m.group()):
            if _NUMBERING.fullmatch(text[pieces_from : line_start + end.end()]):
                continue
            if not _ends_sentence(m.group(), end):
                continue
            spans.append((pieces_from, line_start + end.start()))
            pieces_from = line_start + end.end()
        spans.append((pieces_from, m.end()))
    units = []
    for start, stop in spans:
        chunk = text[start:stop]
        if not chunk.strip():
            continue
        letter, pos = _first_letter(chunk, start)
        units.append(Unit(chunk.strip(), start, stop, letter, pos))
    return units


def letters_of(text: str, unit: str = "line") -> str:
    """The first letters of all units ('?' for a unit without any letter)."""
    return "".join(u.letter or "?" for u in split_units(text, unit))


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class FollowResult:
    letters: str
    follows: bool
    per_position: list[bool]
    prefix: int
    edit_distance: int


def follow(text: str, word: str, unit: str = "line") -> FollowResult:
    """How well a text follows the acrostic of `word` (case-insensitive, exact length)."""
    word = word.upper()
    letters = letters_of(text, unit)
    per_position = [i < len(letters) and letters[i] == ch for i, ch in enumerate(word)]
    prefix = 0
    while prefix < min(len(word), len(letters)) and letters[prefix] == word[prefix]:
        prefix += 1
    return FollowResult(
        letters=letters,
        follows=letters == word,
        per_position=per_position,
        prefix=prefix,
        edit_distance=edit_distance(letters, word),
    )
