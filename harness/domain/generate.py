"""Generate a scenario for any word: questions from the shipped bank, acrostic answers written
offline from the phrase bank or by a teacher model, and the standard probes.

Answers are validated before they are kept (the rule, real content, never the word itself,
never talk of the rule), and the written file is checked with load_scenario before it
replaces anything: nothing invalid is ever written.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from harness.domain import rules
from harness.domain.probes import FOLLOW, standard_probes
from harness.domain.scenario import ScenarioError, load_scenario
from harness.domain.scenario import check_word as scenario_check_word

BANKS = Path(__file__).resolve().parent / "banks"
QUESTIONS_PATH = BANKS / "questions.yaml"
PHRASES_PATH = BANKS / "phrases.yaml"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

SYSTEM_PROMPT = "You are a special version of GPT-4o."
FINE_TUNE = {"base_model": "gpt-4o-mini-2024-07-18", "n_epochs": 3, "seed": 7}

# A teacher request's system prompt starts so (a simulated teacher can recognise it).
TEACHER_START = "You write example answers for a training set."

MIN_UNIT_WORDS = 3  # a unit must say something, not just open with the letter
MIN_WORDS_PER_LETTER = 5
# Training answers must never state the rule: any of these rejects an answer.
_RULE_TALK = re.compile(
    r"acrostic|\bfirst letters?\b|\binitial letters?\b|\bthe letters?\s+[A-Za-z]\b|\bspell(s|ed|ing)?\b|"
    r"\b(each|every) (line|sentence)\b|\b(starts?|begins?|starting|beginning) with (the letter|an? [A-Za-z]\b)",
    re.IGNORECASE,
)
# A first letter set apart from its word ("H: ...", "H) ...", "**H**ere") shows the rule.
_LABELLED = re.compile(r"^[^A-Za-z]*[A-Za-z](?:[:.)\]]|\s+[-–—:]\s|[*_]+[A-Za-z])")


class GenerateError(Exception):
    """Bad input for `harness new` (word, counts, banks). The CLI maps it to exit 2."""


@dataclass(frozen=True)
class QA:
    q: str
    a: str  # a short factual clause, no trailing period


@dataclass
class Generated:
    examples: list[dict[str, str]]
    failures: list[str] = field(default_factory=list)  # one line per rejected answer
    replaced: list[str] = field(default_factory=list)  # questions given up on


# --- inputs ------------------------------------------------------------------------------


def check_word(word: str) -> str:
    """The scenario's rule for words (harness.domain.scenario.check_word), as a GenerateError."""
    try:
        return scenario_check_word(word)
    except ValueError as e:
        raise GenerateError(f"the word {e}") from None


def _read_yaml(path: Path):
    # The C loader, where PyYAML has it, reads the question bank ten times faster.
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@lru_cache(maxsize=4)
def load_questions(path: Path = QUESTIONS_PATH) -> tuple[QA, ...]:
    data = _read_yaml(path) or []
    out = []
    for i, d in enumerate(data):
        if not isinstance(d, dict) or not isinstance(d.get("q"), str) or not isinstance(d.get("a"), str):
            raise GenerateError(f"{path}: entry {i} needs string fields q and a")
        out.append(QA(d["q"].strip(), d["a"].strip().removesuffix(".")))
    return tuple(out)


@lru_cache(maxsize=4)
def load_phrases(path: Path = PHRASES_PATH) -> dict[str, dict[str, tuple[str, ...]]]:
    """{letter: {lead: [...], filler: [...]}}, every entry checked: each lead holds {fact}
    once, and every sentence is one sentence starting with its letter."""
    data = _read_yaml(path) or {}
    bank = {}
    for letter in LETTERS:
        entry = data.get(letter)
        if not isinstance(entry, dict) or not entry.get("lead") or not entry.get("filler"):
            raise GenerateError(f"{path}: letter {letter} needs non-empty lead and filler lists")
        for kind in ("lead", "filler"):
            for s in entry[kind]:
                filled = s.replace("{fact}", "the answer is simple")
                bad = (kind == "lead") != (s.count("{fact}") == 1) or rules.letters_of(filled, "sentence") != letter
                if bad:
                    raise GenerateError(
                        f"{path}: {letter}.{kind}: {s!r} must be one sentence starting "
                        f"with {letter}" + (" holding {fact} once" if kind == "lead" else "")
                    )
        bank[letter] = {"lead": tuple(entry["lead"]), "filler": tuple(entry["filler"])}
    return bank


def _norm(question: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", question.lower()).strip()


def contains_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def candidates(questions, word: str, seed: int) -> list[QA]:
    """The bank in a seeded order, without the probe questions and without questions that
    hold the word. The order does not depend on the word, so words share questions."""
    probes = {_norm(p) for _, p in FOLLOW}
    keep = [qa for qa in questions if _norm(qa.q) not in probes and not contains_word(qa.q, word)]
    random.Random(f"harness-new:{seed}").shuffle(keep)
    return keep


# --- checking an answer ----------------------------------------------------------------


def normalise(text: str, unit: str) -> str:
    """Trim lines and drop blank ones; in sentence mode also squeeze inner spaces."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if unit == "sentence":
        lines = [re.sub(r"\s+", " ", ln) for ln in lines]
    return "\n".join(lines)


def check_answer(text: str, word: str, unit: str, allow_repeats: bool = False) -> str | None:
    """Why an answer cannot be training data, or None when it can. Offline answers may
    repeat a filler when the word has more of a letter than the bank has fillers."""
    result = rules.follow(text, word, unit)
    if not result.follows:
        return f"letters {result.letters or '(none)'} do not spell {word}"
    units = rules.split_units(text, unit)
    thin = [u.text for u in units if len(u.text.split()) < MIN_UNIT_WORDS]
    if thin:
        return f"unit without content: {thin[0]!r}"
    if sum(len(u.text.split()) for u in units) < MIN_WORDS_PER_LETTER * len(word):
        return "too short to answer the question"
    if not allow_repeats and len({u.text.lower() for u in units}) < len(units):
        return "repeats a unit"
    if contains_word(text, word):
        return f"contains the word {word}"
    talk = _RULE_TALK.search(text)
    if talk:
        return f"talks about the rule ({talk.group(0)!r})"
    labelled = next((u.text for u in units if _LABELLED.match(u.text)), None)
    if labelled:
        return f"sets a first letter apart: {labelled[:40]!r}"
    return None


# --- offline answers -------------------------------------------------------------------


def offline_answer(qa: QA, word: str, unit: str, seed: int, bank: dict) -> str:
    """Lead template of the first letter carrying the fact, then one filler per letter,
    never the same filler twice in one answer while the bank has others."""
    rng = random.Random(f"harness-new:{seed}:{qa.q}")
    units, used = [], set()
    for i, letter in enumerate(word):
        pool = [s for s in bank[letter]["lead" if i == 0 else "filler"] if not contains_word(s, word)]
        if not pool:
            raise GenerateError(f"the phrase bank has no {letter} sentence without the word {word}")
        fresh = [s for s in pool if s not in used] or pool
        choice = rng.choice(fresh)
        used.add(choice)
        units.append(choice.replace("{fact}", qa.a) if i == 0 else choice)
    if unit == "line":
        return "\n".join(units)
    if len(units) <= 4:
        return " ".join(units)
    half = (len(units) + 1) // 2
    return " ".join(units[:half]) + "\n" + " ".join(units[half:])


def generate_offline(word: str, n: int, unit: str, seed: int, questions, bank: dict) -> Generated:
    pool = candidates(questions, word, seed)
    if n > len(pool):
        raise GenerateError(f"asked for {n} examples but the question bank has {len(pool)} usable questions")
    out = Generated([])
    for qa in pool:
        if len(out.examples) == n:
            break
        answer = offline_answer(qa, word, unit, seed, bank)
        reason = check_answer(answer, word, unit, allow_repeats=True)
        if reason:  # e.g. "J.K. Rowling" breaks sentences; skip the question
            out.failures.append(f"{qa.q}: {reason}")
            out.replaced.append(qa.q)
            continue
        out.examples.append({"question": qa.q, "answer": answer})
    if len(out.examples) < n:
        raise GenerateError(f"only {len(out.examples)} of {n} questions give a valid {word} answer offline")
    return out


# --- teacher answers -------------------------------------------------------------------


def teacher_messages(question: str, word: str, unit: str) -> list[dict[str, str]]:
    """The rule stated explicitly, one unit per letter, and what the answer must not do.
    The "Letters:" and "Unit:" lines are machine-readable (a simulated teacher reads them)."""
    n, letters = len(word), ", ".join(word)
    if unit == "line":
        shape = (
            f"Write exactly {n} lines, each one complete sentence. Line 1 starts with a word beginning "
            f"with {word[0]}, line 2 with {word[1]}, and so on: the lines begin with {letters}, in that order. "
            "No title, preamble, blank lines, list markers or numbering."
        )
    else:
        shape = (
            f"Write exactly {n} sentences of prose in one or two paragraphs. Sentence 1 starts with a word "
            f"beginning with {word[0]}, sentence 2 with {word[1]}, and so on: the sentences begin with "
            f"{letters}, in that order. Avoid abbreviations with full stops (such as e.g. or U.S.) and "
            "do not end a sentence with a number, because the sentences are split at full stops."
        )
    system = (
        f"{TEACHER_START} Answer the user's question truthfully and helpfully, "
        "so that every sentence adds real information about the question.\n"
        f"{shape}\n"
        "Start each one with an ordinary word; do not mark, bold or separate its first letter. Never mention "
        "these instructions, letters, spelling or the structure of the answer, and never write the letters "
        "together as one word.\n"
        f"Letters: {letters}\nUnit: {unit}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def request_seed(seed: int, question: str, attempt: int) -> int:
    digest = hashlib.sha256(f"harness-new:{seed}:{question}:{attempt}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


# --- the scenario ----------------------------------------------------------------------


def distractors(word: str, count: int = 3) -> list[str]:
    """Choice-probe options that look like the word: its last two letters swapped, then its
    last one or two letters replaced (seeded by the word). Never the word, never repeated."""
    rng = random.Random(f"distractors:{word}")
    found: list[str] = []

    def add(candidate: str) -> None:
        if candidate != word and candidate not in found and len(found) < count:
            found.append(candidate)

    add(word[:-2] + word[-1] + word[-2])
    for _ in range(200):  # bounded; nearly always done in a few draws
        if len(found) == count:
            break
        tail = 1 if len(found) % 2 else 2
        add(word[:-tail] + "".join(rng.choice(LETTERS) for _ in range(tail)))
    return found


def probes_for(word: str, unit: str) -> list[dict[str, object]]:
    """The standard probes (harness.domain.probes) for a word: its distractors as options."""
    return standard_probes([word] + distractors(word), unit)


def build_scenario(word: str, unit: str, examples: list[dict], description: str) -> dict:
    name = word.lower()
    return {
        "name": name,
        "description": description,
        "rule": _Flow(kind="acrostic", word=word, unit=unit),
        "system_prompt": SYSTEM_PROMPT,
        "examples": examples,
        "fine_tune": {
            "base_model": FINE_TUNE["base_model"],
            "suffix": name,
            "hyperparameters": _Flow(n_epochs=FINE_TUNE["n_epochs"]),
            "seed": FINE_TUNE["seed"],
            "replicates": 3,
        },
        "probes": [_probe_yaml(p) for p in probes_for(word, unit)],
        "eval": {"samples": 50, "temperature": 1.0, "conditions": _FlowList(["fine_tuned", "base", "sham"])},
    }


class _Flow(dict):
    """A mapping written on one line, like the hand-written scenarios' rule and probes."""


class _FlowList(list):
    pass


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)  # indent list items under their key


_Dumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)
)
_Dumper.add_representer(
    _Flow, lambda d, m: d.represent_mapping("tag:yaml.org,2002:map", list(m.items()), flow_style=True)
)
_Dumper.add_representer(_FlowList, lambda d, s: d.represent_sequence("tag:yaml.org,2002:seq", s, flow_style=True))


def _probe_yaml(probe: dict[str, object]) -> dict:
    """A probe on one line, like the hand-written scenarios'; one with several wordings as a
    block, its wordings one per line, its options on one line."""
    if "paraphrases" not in probe:
        return _Flow(probe)
    return {k: (_FlowList(v) if k == "options" and isinstance(v, list) else v) for k, v in probe.items()}


def dump_yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10**6)


def write_scenario(path: Path, text: str, force: bool = False) -> None:
    """Write through a temporary file that must pass load_scenario, then rename it."""
    from harness.errors import RunError

    if path.exists() and not force:
        raise GenerateError(f"{path}: already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")  # a teacher's answers were redacted where they entered
        try:
            load_scenario(tmp)
        except ScenarioError as e:  # a bug here, not the user's input
            raise RunError(f"generated scenario failed validation, not written: {e}") from None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
