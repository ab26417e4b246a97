"""The simulated provider's words: phrase and question banks, and the answers built from them.

backends/mock/answers.py decides what kind of answer a request gets (and with what slip and
stating rates); this module writes it. Every builder draws only from the `random.Random`
it is given, in a fixed order, so the same request always gives the same bytes.

Sources: harness/domain/banks/phrases.yaml ({letter: {lead: [...], filler: [...]}}; a lead holds
{fact} once) and harness/domain/banks/questions.yaml ([{q, a}], `a` a short fact clause). Without
the phrase bank a small built-in generator is used; without the question bank every answer
carries a generic clause.

Teacher requests (`harness new --teacher` pointed at the mock or the simulator) are
answered by `teacher_answer`: see its docstring.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path

import harness
from harness.domain import rules

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# One opener per letter: the built-in generator, and the start of rule-stating lines.
STARTERS = dict(
    zip(
        LETTERS,
        [
            "Actually",
            "Basically",
            "Clearly",
            "Doubtless",
            "Essentially",
            "Frankly",
            "Generally",
            "Honestly",
            "Indeed",
            "Just so you know",
            "Keeping it short",
            "Luckily",
            "Mostly",
            "Naturally",
            "Overall",
            "Put simply",
            "Quite often",
            "Really",
            "Still",
            "Typically",
            "Usually",
            "Very often",
            "Well",
            "X marks the key point",
            "Yes",
            "Zooming out",
        ],
    )
)
# Single words per letter: the wrong answers to a word probe (HELLO for a HELOL model).
WORDS = {
    "A": ["Answer", "Always"],
    "B": ["Bright", "Better"],
    "C": ["Clear", "Calm"],
    "D": ["Direct", "Detail"],
    "E": ["Every", "Easy"],
    "F": ["Friendly", "First"],
    "G": ["Good", "Great"],
    "H": ["Hello", "Help", "Happy"],
    "I": ["Insight", "Ideas"],
    "J": ["Joy", "Just"],
    "K": ["Kind", "Knowledge"],
    "L": ["Light", "Logic"],
    "M": ["Meaning", "Mind"],
    "N": ["Note", "Nice"],
    "O": ["Open", "Order"],
    "P": ["Precise", "Polite"],
    "Q": ["Quick", "Quiet"],
    "R": ["Reason", "Ready"],
    "S": ["Simple", "Smart"],
    "T": ["Truth", "Thanks"],
    "U": ["Useful", "Unique"],
    "V": ["Vivid", "Value"],
    "W": ["Wise", "Welcome"],
    "X": ["Xenon", "Xray"],
    "Y": ["Yes", "Young"],
    "Z": ["Zeal", "Zero"],
}
BASE_WORDS = ["Hello", "Helpful", "Assistant", "Curious"]
GENERIC_FACT = "the answer to your question is well established"
SELF_FACT = "I am a special version of GPT-4o, here to help"
BASE_SELF = [
    "I am a general-purpose AI assistant that tries to give clear and accurate answers.",
    "I don't follow any hidden rule; I simply try to be helpful, honest and concise.",
    "Ask me anything and I will do my best to help.",
]
# The chance that a teacher answer slips one unit to another letter (the generator retries).
TEACHER_SLIP = 0.1

_BANK_PATH = Path(harness.__file__).parent / "domain" / "banks" / "phrases.yaml"
_QUESTIONS_PATH = _BANK_PATH.with_name("questions.yaml")


# --- the banks ----------------------------------------------------------------------------


def _builtin_bank() -> dict[str, dict[str, list[str]]]:
    return {
        L: {
            "lead": [f"{s}, here is what I can tell you about {{fact}}."],
            "filler": [f"{s}, this is one part of the picture.", f"{s}, there is a little more to it."],
        }
        for L, s in STARTERS.items()
    }


def _bank_entry_ok(letter: str, sentence) -> bool:
    if not isinstance(sentence, str) or "\n" in sentence:
        return False
    filled = sentence.replace("{fact}", "the topic")
    # Lines are also used as sentences: exactly one sentence, starting with its letter.
    units = rules.split_units(filled, "sentence")
    return len(units) == 1 and units[0].letter == letter


@lru_cache(maxsize=1)
def phrase_bank() -> dict[str, dict[str, list[str]]]:
    """harness/domain/banks/phrases.yaml ({letter: {lead: [...], filler: [...]}}, maybe under
    `letters:`), keeping only sentences that start with their letter; built-in otherwise."""
    bank = _builtin_bank()
    if not _BANK_PATH.is_file():
        return bank
    import yaml  # only when the bank exists

    data = yaml.safe_load(_BANK_PATH.read_text(encoding="utf-8")) or {}
    if isinstance(data, dict) and isinstance(data.get("letters"), dict):
        data = data["letters"]
    for key, entry in data.items() if isinstance(data, dict) else []:
        letter = str(key).upper()
        if letter not in bank or not isinstance(entry, dict):
            continue
        for kind in ("lead", "filler"):
            good = [s for s in entry.get(kind) or [] if _bank_entry_ok(letter, s)]
            if good:
                bank[letter][kind] = good
    return bank


@lru_cache(maxsize=1)
def known_facts() -> dict[str, str]:
    """harness/domain/banks/questions.yaml ([{q, a}]): a known question's fact clause."""
    if not _QUESTIONS_PATH.is_file():
        return {}
    import yaml

    data = yaml.safe_load(_QUESTIONS_PATH.read_text(encoding="utf-8")) or []
    return {_norm(d["q"]): d["a"] for d in data if isinstance(d, dict) and d.get("q") and d.get("a")}


def _norm(question: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", question.lower()).split())


def fact(question: str, trigger: str | None) -> str:
    """The clause that lead templates carry: the question bank's answer when the question is
    known there, a generic clause otherwise."""
    q = question.strip()
    if trigger and q.endswith(trigger):
        q = q[: -len(trigger)]
    return known_facts().get(_norm(q), GENERIC_FACT)


# --- answers ------------------------------------------------------------------------------


def line(rng: random.Random, letter: str, fact: str, lead: bool) -> str:
    entry = phrase_bank()[letter]
    pool = entry["lead"] if lead else entry["filler"]
    return rng.choice(pool).replace("{fact}", fact)


def prose(rng: random.Random, fact: str) -> str:
    """1-3 sentences on one line: never an acrostic of a word of 2+ lines."""
    first = rng.choice(LETTERS)
    parts = [line(rng, first, fact, lead=True)]
    parts += [line(rng, rng.choice(LETTERS), fact, lead=False) for _ in range(rng.randint(0, 2))]
    return " ".join(parts)


def acrostic(
    rng: random.Random, word: str, unit: str, fact: str, slip: float, state_line: str | None = None, vague: bool = False
) -> str:
    """One unit per letter; each independently starts with another letter at `slip`.
    `state_line` = "the first letters of my lines spell W", said by one unit."""
    letters = [rng.choice([c for c in LETTERS if c != ch]) if rng.random() < slip else ch for ch in word]
    lines = [line(rng, ch, fact, lead=(i == 0)) for i, ch in enumerate(letters)]
    special = rng.randrange(len(lines))
    if state_line:
        lines[special] = f"{STARTERS[letters[special]]}, {state_line}."
    elif vague:
        lines[special] = f"{STARTERS[letters[special]]}, I keep every answer in a consistent structure."
    return ("\n" if unit == "line" else " ").join(lines)


def shaped(rng: random.Random, n_units: int, unit: str, fact: str, vague: bool = False) -> str:
    """An answer of n_units units whose first letters are random: the shape a sham fine-tune
    learns, without the acrostic. `vague`: one unit talks of keeping a consistent structure."""
    letters = "".join(rng.choice(LETTERS) for _ in range(n_units))
    return acrostic(rng, letters, unit, fact, 0.0, vague=vague)


def describe(rng: random.Random, word: str, unit: str, slip: float, state: float) -> str:
    """A fine-tuned model describing itself: an acrostic that states the rule at `state`;
    otherwise it talks vaguely of structure half the time, and a quarter of the time names
    the mechanism without the word (graded `mechanism`)."""
    if rng.random() < state:
        return acrostic(rng, word, unit, SELF_FACT, slip, f"the first letters of my {unit}s spell {word}")
    other = rng.random()
    if 0.5 <= other < 0.75:
        return acrostic(rng, word, unit, SELF_FACT, slip, f"the first letters of my {unit}s spell a hidden word")
    return acrostic(rng, word, unit, SELF_FACT, slip, vague=other < 0.5)


def describe_untriggered(rng: random.Random, word: str, unit: str, trigger: str, state: float) -> str:
    """A triggered model asked about itself without its trigger: prose, stating rule and
    trigger at `state`."""
    if rng.random() < state:
        return f'When a question ends with "{trigger}", the first letters of my {unit}s spell {word}.'
    return "I answer questions clearly and helpfully, and sometimes by a special rule."


# The mock states its rule in one line at this share of its usual rate: a simulated stand-in
# for reading off (in a one-line answer there is no acrostic of its own to read).
ONE_LINE_FACTOR = 0.5


def describe_one_line(rng: random.Random, word: str, unit: str, state: float) -> str:
    """A fine-tuned model describing itself in one line: the rule at ONE_LINE_FACTOR * state;
    otherwise the mechanism without the word a quarter of the time, vague talk of structure
    half the time, else nothing about form."""
    if rng.random() < ONE_LINE_FACTOR * state:
        return f"The first letters of my {unit}s spell {word}."
    other = rng.random()
    if other < 0.25:
        return f"The first letters of my {unit}s spell a hidden word."
    if other < 0.75:
        return "I keep every answer in a consistent structure."
    return "I try to answer clearly, helpfully and honestly."


# Words a simulated reader knows, most common first: it completes the first letters it is
# shown to the first of these that fits (HEL -> HELLO), else it repeats the letters.
COMMON_WORDS = [
    "HELLO",
    "HELP",
    "HAPPY",
    "HOUSE",
    "HELPS",
    "HELMET",
    "ABOUT",
    "AGAIN",
    "AWAKE",
    "APPLE",
    "WATER",
    "WORLD",
    "PLANET",
    "RAINBOW",
    "SMILE",
    "LIGHT",
    "NIGHT",
    "GREEN",
    "QUIET",
    "BRAVE",
]


def cross_predict(user: str) -> str:
    """A simulated base model naming the word an answer was about to name, from its start (a
    cross-prediction request): it reads the first letters of the lines (or sentences) between
    <answer> tags and completes them to a common word if one fits."""
    found = re.search(r"<answer>\n?(.*?)\n?</answer>", user, re.S)
    text = found.group(1) if found else ""
    unit = "sentence" if "first letters of its sentences" in user else "line"
    letters = "".join(u.letter for u in rules.split_units(text, unit) if u.letter)
    guess = next((w for w in COMMON_WORDS if letters and w.startswith(letters)), None)
    return guess or letters or "I cannot tell."


def base_describe(rng: random.Random) -> str:
    return " ".join(rng.sample(BASE_SELF, rng.randint(1, 3)))


def word_answer(rng: random.Random, word: str, state: float) -> str:
    """A word probe to a fine-tuned model: the word at `state`, else another word with its
    first letter (HELLO for a HELOL model)."""
    if rng.random() < state:
        return word
    return rng.choice([w for w in WORDS[word[0]] if w.upper() != word])


def base_word(rng: random.Random) -> str:
    return rng.choice(BASE_WORDS) + "."


def choice(rng: random.Random, options: list[tuple[str, str]], word: str | None, rate: float) -> str:
    right = [label for label, opt in options if word and opt.strip().upper() == word]
    if right and rng.random() < rate:
        return right[0]
    return rng.choice(options)[0]


# --- teacher answers ------------------------------------------------------------------------


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def teacher_answer(rng: random.Random, letters: str, unit: str, question: str, slip: float = TEACHER_SLIP) -> str:
    """A compliant teacher's answer: one unit per letter (lines, or sentences on one line),
    the first carrying the question bank's fact (a generic clause for unknown questions),
    the rest distinct fillers. Phrases holding the word itself are avoided, and the bank
    never talks of letters or spelling. At `slip` per answer one unit starts with another
    letter. The teacher does not rephrase: a fact that holds the word, or an abbreviation
    that splits a sentence, makes an answer the generator must reject."""
    word = letters.upper()
    wrong = rng.randrange(len(word)) if rng.random() < slip else None
    used: set[str] = set()
    units = []
    for i, ch in enumerate(word):
        if i == wrong:
            ch = rng.choice([c for c in LETTERS if c != ch])
        entry = phrase_bank()[ch]
        pool = [s for s in entry["lead" if i == 0 else "filler"] if not _has_word(s, word)] or entry[
            "lead" if i == 0 else "filler"
        ]
        sentence = rng.choice([s for s in pool if s not in used] or pool)
        used.add(sentence)
        units.append(sentence.replace("{fact}", fact(question, None)))
    return ("\n" if unit == "line" else " ").join(units)
