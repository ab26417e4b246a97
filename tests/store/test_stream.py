"""responses.jsonl as a stream (harness.store.stream.Responses): the records canonical()
picks, in its order, with memory that does not grow with the records' size or number."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest

from harness.analysis.summary import Digest
from harness.domain.scenario import load_scenario
from harness.errors import StoreError
from harness.store.files import jsonl_line
from harness.store.records import ResponseRecord, canonical
from harness.store.run_dir import RunStore
from harness.store.stream import Responses
from tests.helpers import ROOT, response

SCENARIO = load_scenario(ROOT / "scenarios" / "helol.yaml")
WORD_PROBE = next(p.id for p in SCENARIO.probes if p.kind == "word")
# An answer as long as a real one (1-2 KB): a path that held records would hold this much per answer.
LONG = "I think the word is HELOL. " + "Here is a long explanation of it. " * 40


def _write(path: Path, records: list[ResponseRecord], torn: bool = False) -> None:
    text = "".join(jsonl_line(r.model_dump(mode="json")) for r in records)
    path.write_text(text + ('{"condition": "ba' if torn else ""))


def _records(n: int, conditions=("base", "fine_tuned"), text: str = LONG) -> list[ResponseRecord]:
    return [response(c, WORD_PROBE, "word", i, text) for c in conditions for i in range(n // len(conditions))]


def _dump(records) -> list[dict]:
    return [r.model_dump(mode="json") for r in records]


@pytest.mark.parametrize("seed", range(5))
def test_a_shuffled_file_gives_what_canonical_gives(tmp_path, seed):
    rng = random.Random(seed)
    records = _records(40)
    extra = []
    for r in rng.sample(records, 8):  # failed attempts, and second ok answers (ties: by content)
        failed = r.model_copy(update={"status": "failed", "error": "HTTP 500", "text": None})
        other = r.model_copy(update={"text": rng.choice(["HELOL", "hello", "A different answer"])})
        extra += [failed, other] if rng.random() < 0.5 else [failed]
    lonely = response("sham", WORD_PROBE, "word", 0, None, status="failed", error="HTTP 429")
    every = records + extra + [lonely, lonely]
    rng.shuffle(every)
    path = tmp_path / "responses.jsonl"
    _write(path, every, torn=True)
    answers = Responses(path)
    expected = canonical(every)
    assert _dump(answers) == _dump(expected)
    assert (len(answers), answers.done, answers.failed, answers.torn) == (len(expected), len(expected) - 1, 1, 1)
    assert answers.records == len(every) and answers.ok_records == sum(r.ok for r in every)
    assert answers.ok_keys() == {r.key for r in expected if r.ok}
    assert _dump(answers.failed_records()) == _dump([lonely])
    assert _dump(answers.every()) == _dump(every)


def test_a_canonical_file_is_read_straight_through(tmp_path):
    path = tmp_path / "responses.jsonl"
    records = canonical(_records(40))
    _write(path, records)
    answers = Responses(path)
    assert answers._where is None  # no index: what every finished run's file gets
    assert _dump(answers) == _dump(records) and answers.done == 40


def test_a_bad_line_names_its_line(tmp_path):
    path = tmp_path / "responses.jsonl"
    lines = [jsonl_line(r.model_dump(mode="json")) for r in _records(4)]
    bad = json.loads(lines[2]) | {"sample": -1}
    path.write_text("".join(lines[:2]) + json.dumps(bad) + "\n" + "".join(lines[3:]))
    with pytest.raises(StoreError, match=r"responses.jsonl:3: sample: Input should be greater than or equal to 0$"):
        RunStore(tmp_path).answers()


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _digest(path: Path) -> None:
    d = Digest(SCENARIO, ["base", "fine_tuned"])
    for r in Responses(path):
        d.add(r)


def test_summarising_a_run_takes_the_same_memory_at_ten_times_the_answers(tmp_path):
    """The Digest over a finished run's file: peak memory at 10n answers within 1.25x of n
    (short answers, which score fast; a path that held the records would still need about
    1 KB more per answer, several times the peak at n)."""
    peaks = {}
    for n in (400, 4000):
        path = tmp_path / f"{n}.jsonl"
        _write(path, canonical(_records(n, text="The word is HELOL.")))
        peaks[n] = _peak(lambda: _digest(path))  # noqa: B023
    assert peaks[4000] <= 1.25 * peaks[400], peaks


def test_an_unordered_file_costs_an_index_entry_per_answer_not_a_record(tmp_path):
    """A run in progress (answers in arrival order) is indexed: a few hundred bytes an
    answer, far below the answer itself (LONG is ~1.4 KB; a held record would be more)."""
    peaks = {}
    for n in (500, 5000):
        path = tmp_path / f"{n}.jsonl"
        records = _records(n)
        random.Random(n).shuffle(records)
        _write(path, records)
        peaks[n] = _peak(lambda: sum(1 for _ in Responses(path)))  # noqa: B023
    per_answer = (peaks[5000] - peaks[500]) / 4500
    assert per_answer < 400, per_answer
