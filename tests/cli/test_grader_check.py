"""`harness grader-check`: the gold file's checks, the tables, and the LLM-judge path
(offline: the mock answers judge requests with the rule grade; a fake backend shows how
replies, failures and wrong words are counted)."""

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backends.base import BackendError, Completion
from harness.analysis import grader
from harness.calls import grading
from harness.cli.main import main
from tests.helpers import ROOT

GOLD = ROOT / "tests" / "gold" / "articulation.jsonl"
ITEM = {
    "id": "x1",
    "word": "HELLO",
    "unit": "line",
    "text": "My lines spell HELLO.",
    "grade": "exact",
    "wrong_word": None,
    "category": "plain",
    "split": "tune",
}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path, *objs, raw: str | None = None) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text(raw if raw is not None else "".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_prints_every_table_and_exits_0():
    result = invoke("grader-check", "--split", "held")
    assert result.exit_code == 0, result.output
    out = result.output
    for piece in (
        "scorer version",
        "99 answers, split held",
        "weighted kappa (linear",
        "category",
        "gold grade",
        "confusion (rows: gold, columns: grader)",
        "wrong word, where the gold names one",
        "denial ",
    ):
        assert piece in out
    assert "tune " not in out  # only the held split was graded


def test_errors_flag_lists_disagreements(tmp_path):
    wrong = dict(ITEM, id="x2", grade="none")  # labelled against the rules: the grader disagrees
    result = invoke("grader-check", "--gold", write(tmp_path, ITEM, wrong), "--errors")
    assert result.exit_code == 0
    assert "1/2 = 50.0%" in result.output
    assert "x2 [tune] none -> exact: My lines spell HELLO." in result.output


@pytest.mark.parametrize(
    "obj,message",
    [
        (
            dict(ITEM, grade="great"),
            "gold.jsonl:1: grade: expected one of none, pattern, mechanism, exact, got 'great'",
        ),
        (dict(ITEM, unit="word"), "gold.jsonl:1: unit: expected one of line, sentence"),
        (dict(ITEM, split="test"), "gold.jsonl:1: split: expected one of tune, held"),
        (dict(ITEM, word="hello"), "gold.jsonl:1: word: expected upper-case letters"),
        (dict(ITEM, wrong_word="HELOL"), "gold.jsonl:1: wrong_word: expected null unless grade is mechanism"),
        (dict(ITEM, text=3), "gold.jsonl:1: text: expected a string, got int"),
        ({k: v for k, v in ITEM.items() if k != "category"}, "gold.jsonl:1: category: missing"),
        (dict(ITEM, note="x"), "gold.jsonl:1: note: unknown field"),
    ],
)
def test_bad_gold_lines_exit_2_naming_file_line_and_field(tmp_path, obj, message):
    result = invoke("grader-check", "--gold", write(tmp_path, obj))
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1


def test_bad_gold_files_exit_2(tmp_path):
    assert (
        "gold.jsonl:2: invalid JSON"
        in invoke("grader-check", "--gold", write(tmp_path, raw=json.dumps(ITEM) + "\n{x\n")).output
    )
    repeated = invoke("grader-check", "--gold", write(tmp_path, ITEM, ITEM))
    assert repeated.exit_code == 2 and "gold.jsonl:2: id: 'x1' repeats line 1" in repeated.output
    assert invoke("grader-check", "--gold", write(tmp_path, raw="\n")).exit_code == 2
    assert (
        "no answers in split 'held'"
        in invoke("grader-check", "--gold", write(tmp_path, ITEM), "--split", "held").output
    )
    assert "gold file not found" in invoke("grader-check", "--gold", tmp_path / "nope.jsonl").output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backend", "mock"], "--backend is only used with --judge"),
        (["--judge", "gpt-4o-mini"], "--judge needs --backend"),
        (["--judge", " ", "--backend", "mock"], "--judge is empty"),
        (["--split", "both"], "Invalid value for '--split'"),
    ],
)
def test_bad_options_exit_2(args, message):
    result = invoke("grader-check", *args)
    assert result.exit_code == 2 and message in result.output


def test_the_mock_judge_is_simulated_and_agrees_with_the_rules():
    rules = invoke("grader-check", "--split", "tune").output
    judged = invoke("grader-check", "--split", "tune", "--judge", "gpt-4o-mini", "--backend", "mock")
    assert judged.exit_code == 0
    assert judged.output.startswith("SIMULATED")
    # the mock replies with the bare rule grade: same grades, wrong words not stated
    line = next(x for x in rules.splitlines() if x.startswith("grade only"))
    assert line in judged.output
    assert "say nothing about the wrong word (grade compared only): 186" in judged.output


class Scripted:
    """A backend that replies from a script keyed by the answer text; None raises a BackendError."""

    simulated = False

    def __init__(self, replies: dict[str, str | None]):
        self.replies, self.in_flight, self.most = replies, 0, 0

    async def complete(self, request):
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1
        text = next(t for t in self.replies if t in request.messages[-1]["content"])
        assert request.temperature == 0.0 and request.messages[0]["content"].startswith("You grade")
        if self.replies[text] is None:
            raise BackendError("rate limited", status=429)
        return Completion(text=self.replies[text], model=request.model)


def test_judge_replies_failures_and_wrong_words_are_counted_apart():
    items = [
        grader.GoldItem(**dict(ITEM, id=f"i{n}", text=t, grade=g, wrong_word=w))
        for n, (t, g, w) in enumerate(
            [
                ("A one", "exact", None),
                ("B two", "mechanism", "HELOL"),
                ("C three", "none", None),
                ("D four", "pattern", None),
                ("E five", "none", None),
            ]
        )
    ]
    backend = Scripted(
        {
            "A one": "GRADE: exact",
            "B two": "GRADE: mechanism WRONG_WORD: HELP",
            "C three": "I think it is fine",
            "D four": None,
            "E five": "none",
        }
    )
    predictions = asyncio.run(grading.judge_items(backend, "judge-model", items, concurrency=2))
    assert backend.most <= 2
    assert [p.grade for p in predictions] == ["exact", "mechanism", None, None, "none"]
    assert predictions[3].error and "rate limited" in predictions[3].error
    result = grader.evaluate(items, predictions)
    assert (result["n"], result["failed"], result["unparsed"]) == (4, 1, 1)
    assert result["accuracy"]["k"] == 2  # A, and E (a bare grade: wrong word not compared); B names HELP, not HELOL
    assert result["grade_accuracy"]["k"] == 3
    assert result["wrong_word_named"]["k"] == 0 and result["wrong_word_named"]["n"] == 1
    assert result["confusion"]["none"][None] == 1
    assert "failed calls (left out): 1; unparsed replies (counted wrong): 1" in grader.render(result, "t")


def test_gold_file_format_round_trips():
    items = grader.load_gold(GOLD)
    assert len({i.id for i in items}) == len(items)
    assert all(i.wrong_word is None or i.grade == "mechanism" for i in items)
