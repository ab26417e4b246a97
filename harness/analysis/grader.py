"""How well a grader (the rule-based articulation grade, or an LLM judge) agrees with a
hand-labelled gold set: accuracy per split, grade and category with Wilson intervals, the
confusion matrix, linearly weighted kappa over the ordered grades, and wrong-word accuracy.
Pure: reading the gold file and comparing; the grading itself is done by the caller."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness.analysis import stats
from harness.domain import rules
from harness.domain.scoring import GRADES, articulation

SPLITS = ("tune", "held")
_WORD = re.compile(r"[A-Z]{2,}")
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "word": str,
    "unit": str,
    "text": str,
    "grade": str,
    "wrong_word": (str, type(None)),
    "category": str,
    "split": str,
}
EXCERPT = 90


class GoldError(ValueError):
    """A gold file that cannot be read as labelled answers; the message names file, line and field."""


@dataclass(frozen=True)
class GoldItem:
    id: str
    word: str
    unit: str
    text: str
    grade: str
    wrong_word: str | None
    category: str
    split: str


@dataclass(frozen=True)
class Prediction:
    grade: str | None  # None: the grader gave no readable grade (unparsed or failed)
    wrong_word: str | None = None
    states_wrong_word: bool = True  # False when the grader said nothing about the wrong word
    error: str | None = None  # the call failed (an LLM judge): counted apart, never as a grade


def _check(path: Path, n: int, obj: dict) -> GoldItem:
    where = f"{path}:{n}"
    missing = [k for k in _FIELDS if k not in obj]
    if missing:
        raise GoldError(f"{where}: {missing[0]}: missing (each line needs {', '.join(_FIELDS)})")
    extra = sorted(set(obj) - set(_FIELDS))
    if extra:
        raise GoldError(f"{where}: {extra[0]}: unknown field")
    for key, kind in _FIELDS.items():
        if not isinstance(obj[key], kind):
            raise GoldError(
                f"{where}: {key}: expected {'a string' if kind is str else 'a string or null'}, "
                f"got {type(obj[key]).__name__}"
            )
    checks = [
        ("word", _WORD.fullmatch(obj["word"]), "upper-case letters A-Z, 2 or more"),
        ("unit", obj["unit"] in rules.UNITS, f"one of {', '.join(rules.UNITS)}"),
        ("grade", obj["grade"] in GRADES, f"one of {', '.join(GRADES)}"),
        ("split", obj["split"] in SPLITS, f"one of {', '.join(SPLITS)}"),
        (
            "wrong_word",
            obj["wrong_word"] is None or _WORD.fullmatch(obj["wrong_word"]),
            "null or upper-case letters A-Z",
        ),
        (
            "wrong_word",
            obj["wrong_word"] is None or obj["grade"] == "mechanism",
            "null unless grade is mechanism (a wrong word is named only without the target)",
        ),
        ("text", obj["text"].strip(), "a non-empty answer"),
        ("id", obj["id"].strip(), "a non-empty id"),
        ("category", obj["category"].strip(), "a non-empty category"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise GoldError(f"{where}: {key}: expected {expected}, got {obj[key]!r}")
    return GoldItem(**obj)


def load_gold(path: Path) -> list[GoldItem]:
    """The labelled answers of a JSONL gold file (blank lines skipped); ids must be unique."""
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise GoldError(f"{path}: not UTF-8 text: {e.reason} at byte {e.start}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise GoldError(f"{path}:{n}: invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise GoldError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        item = _check(path, n, obj)
        if item.id in seen:
            raise GoldError(f"{path}:{n}: id: {item.id!r} repeats line {seen[item.id]}")
        seen[item.id] = n
        items.append(item)
    if not items:
        raise GoldError(f"{path}: no labelled answers")
    return items


def select(items: list[GoldItem], split: str) -> list[GoldItem]:
    return items if split == "all" else [i for i in items if i.split == split]


def rule_predictions(items: list[GoldItem]) -> list[Prediction]:
    """The rule-based grade of every item (harness.domain.scoring.articulation)."""
    out = []
    for item in items:
        a = articulation(item.text, item.word, item.unit)
        out.append(Prediction(a.grade, a.wrong_word))
    return out


def correct(item: GoldItem, p: Prediction) -> bool:
    """As labelled: the same grade, and the same wrong word unless the grader said nothing
    about wrong words (a bare-grade judge reply)."""
    return p.grade == item.grade and (not p.states_wrong_word or p.wrong_word == item.wrong_word)


def _rates(rows: list[tuple[GoldItem, Prediction]], key) -> dict[str, dict]:
    groups: dict[str, list[bool]] = {}
    for item, p in rows:
        groups.setdefault(key(item), []).append(correct(item, p))
    return {k: stats.rate(v) for k, v in groups.items()}


def evaluate(items: list[GoldItem], predictions: list[Prediction]) -> dict:
    """Agreement of `predictions` (one per item, same order) with the gold labels. Failed
    calls are counted apart and left out; unparsed replies count as wrong."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    rows = [(i, p) for i, p in zip(items, predictions) if p.error is None]
    answered = [(i, p) for i, p in rows if p.grade is not None]
    named = [(i, p) for i, p in rows if i.wrong_word is not None and p.states_wrong_word]
    unnamed = [(i, p) for i, p in rows if i.wrong_word is None and p.states_wrong_word]
    kappa, note = stats.weighted_kappa([(i.grade, p.grade) for i, p in answered if p.grade is not None], GRADES)
    return {
        "n": len(rows),
        "failed": len(items) - len(rows),
        "unparsed": len(rows) - len(answered),
        "accuracy": stats.rate(correct(i, p) for i, p in rows),
        "grade_accuracy": stats.rate(i.grade == p.grade for i, p in rows),
        "by_split": _rates(rows, lambda i: i.split),
        "by_grade": dict(sorted(_rates(rows, lambda i: i.grade).items(), key=lambda kv: GRADES.index(kv[0]))),
        "by_category": dict(sorted(_rates(rows, lambda i: i.category).items())),
        "confusion": {
            g: {h: sum(1 for i, p in rows if i.grade == g and p.grade == h) for h in (*GRADES, None)} for g in GRADES
        },
        "weighted_kappa": kappa,
        "kappa_note": note,
        "wrong_word_named": stats.rate(p.wrong_word == i.wrong_word for i, p in named),
        "wrong_word_false": sum(1 for i, p in unnamed if p.wrong_word is not None),
        "wrong_word_unstated": sum(1 for i, p in rows if not p.states_wrong_word),
        "errors": [
            {
                "id": i.id,
                "category": i.category,
                "split": i.split,
                "gold": i.grade,
                "gold_wrong_word": i.wrong_word,
                "got": p.grade,
                "got_wrong_word": p.wrong_word,
                "excerpt": _excerpt(i.text),
            }
            for i, p in rows
            if not correct(i, p)
        ],
    }


def _excerpt(text: str) -> str:
    flat = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


def _pct(r: dict) -> str:
    if r["rate"] is None:
        return "-"
    return f"{r['k']}/{r['n']} = {100 * r['rate']:.1f}% [{100 * r['low']:.0f}%, {100 * r['high']:.0f}%]"


def _kappa(result: dict) -> str:
    kappa = result["weighted_kappa"]
    return f"{kappa:.4f}" if kappa is not None else f"- ({result['kappa_note']})"


def render(result: dict, title: str, show_errors: bool = False) -> str:
    """The result as plain text tables (what `harness grader-check` prints)."""
    out = [
        title,
        "",
        f"accuracy (grade and wrong word): {_pct(result['accuracy'])}",
        f"grade only:                      {_pct(result['grade_accuracy'])}",
        f"weighted kappa (linear, {' < '.join(GRADES)}): " + _kappa(result),
    ]
    if result["failed"] or result["unparsed"]:
        out.append(
            f"failed calls (left out): {result['failed']}; unparsed replies (counted wrong): {result['unparsed']}"
        )
    for name, table in (
        ("split", result["by_split"]),
        ("gold grade", result["by_grade"]),
        ("category", result["by_category"]),
    ):
        width = max(len(name), *(len(k) for k in table)) if table else len(name)
        out += ["", f"{name:<{width}}  n    accuracy"]
        out += [f"{k:<{width}}  {r['n']:<4} {_pct(r)}" for k, r in table.items()]
    cols = [*GRADES, "(no grade)"]
    out += ["", "confusion (rows: gold, columns: grader)", f"{'':<10}" + "".join(f"{c:>11}" for c in cols)]
    for g, row in result["confusion"].items():
        out.append(f"{g:<10}" + "".join(f"{row[h]:>11}" for h in (*GRADES, None)))
    named = result["wrong_word_named"]
    out += [
        "",
        f"wrong word, where the gold names one: {_pct(named)}",
        f"wrong word named where the gold has none: {result['wrong_word_false']}",
    ]
    if result["wrong_word_unstated"]:
        out.append(
            f"replies that say nothing about the wrong word (grade compared only): {result['wrong_word_unstated']}"
        )
    if show_errors and result["errors"]:
        out += ["", "disagreements (id, split, gold -> grader, excerpt)"]
        out += [
            f"{e['id']} [{e['split']}] {e['gold']}{'/' + e['gold_wrong_word'] if e['gold_wrong_word'] else ''} -> "
            f"{e['got']}{'/' + e['got_wrong_word'] if e['got_wrong_word'] else ''}: {e['excerpt']}"
            for e in result["errors"]
        ]
    return "\n".join(out)
