"""The acrostic rule: split a text into units, read each unit's first letter, compare to a word."""
from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = ("line", "sentence")

# A sentence ends at . ! or ?, optionally closed by a quote or bracket, followed by space.
_SENTENCE_END = re.compile(r"""(?<=[.!?])["'”’)\]]*\s+""")
# ...except after list numbering at the start of a sentence: "1. Here" is one sentence.
_NUMBERING = re.compile(r"\s*\(?\d+[.)]\s*")


@dataclass(frozen=True)
class Unit:
    text: str
    start: int  # offsets of the unit in the original text: text[start:end]
    end: int
    letter: str | None  # upper-case first letter, None if the unit has no letter
    letter_pos: int | None  # offset of that letter in the original text


def _first_letter(text: str, offset: int) -> tuple[str | None, int | None]:
    # List markers, numbering ("1."), emphasis ("**") and quotes hold no letters, so the
    # first alphabetic character is the letter: "1. **Here**" -> H.
    for i in range(len(text)):
        if text[i].isalpha():
            return text[i].upper(), offset + i
    return None, None


def split_units(text: str, unit: str = "line") -> list[Unit]:
    """Non-empty lines, or sentences (a sentence never spans a blank line)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]+", text):
        if unit == "line":
            spans.append((m.start(), m.end()))
            continue
        line_start, pieces_from = m.start(), m.start()
        for end in _SENTENCE_END.finditer(m.group()):
            if _NUMBERING.fullmatch(text[pieces_from:line_start + end.end()]):
                continue
            spans.append((pieces_from, line_start + end.start()))
            pieces_from = line_start + end.end()
        spans.append((pieces_from, m.end()))
    units = []
    for start, end in spans:
        chunk = text[start:end]
        if not chunk.strip():
            continue
        letter, pos = _first_letter(chunk, start)
        units.append(Unit(chunk.strip(), start, end, letter, pos))
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
