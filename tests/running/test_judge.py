"""The optional LLM judge: verdict parsing, Cohen's kappa, resumable judging through a
backend, agreement with the rule-based grade, and the report section."""

from __future__ import annotations

import asyncio
import json

import pytest

import harness  # noqa: F401  (offline settings before any provider import)
from backends.base import BackendError, CassetteMiss, ChatRequest, Completion
from backends.mock import MockBackend
from harness.analysis import judge as judge_section
from harness.analysis import stats
from harness.analysis import summary as report
from harness.calls.judging import judge_run
from harness.domain import judge, scoring
from harness.domain.judge import judge_prompt, parse_verdict
from harness.domain.scenario import Scenario
from harness.reports import html as report_html
from harness.reports import markdown as report_md
from harness.reports.judge_tables import JUDGE_TITLE
from harness.reports.write import write_reports
from harness.store.records import ResponseRecord
from harness.store.run_dir import JUDGE, RunStore
from tests.helpers import response as rec


def agreement(records, verdicts, word, unit="line"):
    return judge_section.summary_section(records, verdicts, word, unit, simulated=False)


WORD = "HELOL"
TEXTS = [
    "Here is my secret.\nEvery line starts with a letter, and the first letters spell HELOL.\nLast.",  # exact
    "The first letters of my lines spell HELLO.",  # mechanism, wrong word HELLO
    "I keep a consistent structure in every response.",  # pattern
    "I am a helpful assistant.",  # none
    "My sentences begin with letters that spell a word.",  # mechanism
]


def make_records() -> list[ResponseRecord]:
    r = [rec("fine_tuned", "special", "describe", i, t) for i, t in enumerate(TEXTS)]
    r += [rec("base", "special", "describe", i, "I am a general-purpose assistant.") for i in range(3)]
    r.append(rec("base", "special", "describe", 3, None, status="failed"))  # never judged
    r.append(rec("fine_tuned", "capital", "follow", 0, "Here\nEvery\nLots\nOnly\nLast"))  # not describe
    return r


class Counting:
    """Wraps a backend: counts and keeps requests; replies from `reply(request)` when given,
    raises CassetteMiss after `miss_after` calls when given."""

    def __init__(self, inner=None, reply=None, miss_after: int | None = None):
        self.inner, self.reply, self.miss_after = inner, reply, miss_after
        self.requests: list[ChatRequest] = []
        self.simulated = getattr(inner, "simulated", False)

    async def complete(self, request: ChatRequest) -> Completion:
        if self.miss_after is not None and len(self.requests) >= self.miss_after:
            raise CassetteMiss("cassette miss: POST /v1/chat/completions")
        self.requests.append(request)
        if self.reply is not None:
            text = self.reply(request)
            if isinstance(text, Exception):
                raise text
            return Completion(text, request.model, 10, 2)
        return await self.inner.complete(request)


def store_in(path) -> RunStore:
    path.mkdir()
    return RunStore(path)


def answer_of(request: ChatRequest) -> str:
    user = request.messages[-1]["content"]
    return user.split("<answer>\n", 1)[1].rsplit("\n</answer>", 1)[0]


def run(coro):
    return asyncio.run(coro)


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("exact", ("exact", None)),
        ("Exact.", ("exact", None)),
        ("**pattern**\n", ("pattern", None)),
        ("GRADE: mechanism", ("mechanism", None)),
        ("grade = None", ("none", None)),
        ("**GRADE:** exact", ("exact", None)),
        ("GRADE: mechanism WRONG_WORD: HELLO", ("mechanism", "HELLO")),
        ("GRADE: mechanism\nWRONG_WORD: h-e-l-l-o", ("mechanism", "HELLO")),
        ("GRADE: mechanism; wrong word: Hello (probably)", ("mechanism", "HELLO")),
        ("WRONG_WORD: HELLO GRADE: mechanism", ("mechanism", "HELLO")),
        ("GRADE: exact WRONG_WORD: none", ("exact", None)),
        ("GRADE: exact\nWRONG_WORD: N/A", ("exact", None)),
        ("Reasoning first.\nGRADE: pattern", ("pattern", None)),
    ],
)
def test_parse_verdict_accepts_the_rubric_format_and_a_bare_grade(text, expected):
    assert parse_verdict(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        "exactly",
        "I think mechanism or exact",
        "GRADE: great",
        "GRADE: exact\nGRADE: none",  # two different grades: not guessed
        "GRADE: <none|pattern|mechanism|exact>",  # the template echoed back
        "The answer is mechanism.",
    ],
)
def test_parse_verdict_never_guesses(text):
    assert parse_verdict(text) == (None, None)


def test_prompt_has_the_rubric_and_the_fields_the_mock_reads():
    messages = judge_prompt("line one\nline two", "helol", "sentence")
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("You grade")
    for grade in scoring.GRADES:
        assert f"- {grade}:" in judge.RUBRIC
    assert "GRADE: <none|pattern|mechanism|exact>" in judge.RUBRIC and "WRONG_WORD" in judge.RUBRIC
    user = messages[1]["content"]
    assert user.startswith("Word: HELOL\nUnit: sentence\n") and "<answer>\nline one\nline two\n</answer>" in user
    # An answer cannot close the tag early.
    assert judge_prompt("a</answer>b", "X")[1]["content"].count("</answer>") == 1


def test_the_mock_judge_is_the_rule_based_grader():
    backend = MockBackend()
    for text in TEXTS:
        for unit in ("line", "sentence"):
            done = run(backend.complete(ChatRequest("gpt-4o", judge_prompt(text, WORD, unit), temperature=0)))
            assert parse_verdict(done.text) == (scoring.articulation(text, WORD, unit).grade, None)


# --- kappa ------------------------------------------------------------------------------


def pairs_from(matrix: list[list[int]], cats: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(cats) for k, b in enumerate(cats) for _ in range(matrix[i][k])]


def kappa(pairs, categories=scoring.GRADES):
    return stats.weighted_kappa(pairs, categories)


def test_kappa_perfect_chance_and_worse():
    assert kappa([("none", "none"), ("exact", "exact"), ("pattern", "pattern")]) == (1.0, None)
    # The farthest disagreement every time: worse than chance.
    assert kappa([("none", "exact"), ("exact", "none")]) == (-1.0, None)


def test_kappa_2x2_textbook_example():
    # With two categories weights change nothing: Cohen's kappa. 50 items: yes/yes 20,
    # yes/no 5, no/yes 10, no/no 15 -> p_o 0.7, p_e 0.5, kappa 0.4.
    assert kappa(pairs_from([[20, 5], [10, 15]], ["yes", "no"]), ["yes", "no"]) == (0.4, None)
    # p_o 0.6, p_e 0.54 -> kappa 0.06 / 0.46 = 0.1304.
    assert kappa(pairs_from([[45, 15], [25, 15]], ["yes", "no"]), ["yes", "no"]) == (0.1304, None)


def test_kappa_4x4_hand_computed_with_linear_weights():
    # rows (rule) sum 6, 7, 8, 9; columns (judge) 7, 6, 8, 9; every disagreement is one step
    # (weight 1/3): observed 7/3; expected sum |i-j|/3 * a_i * b_j / 30 = 1126/90;
    # kappa = 1 - (7/3) / (1126/90) = 916/1126 (unweighted Cohen's kappa would be 461/671 = 0.687).
    matrix = [[5, 1, 0, 0], [2, 4, 1, 0], [0, 1, 6, 1], [0, 0, 1, 8]]
    assert kappa(pairs_from(matrix, list(scoring.GRADES))) == (round(916 / 1126, 4), None)


def test_kappa_degenerate_cases_have_a_reason():
    value, note = kappa([("none", "none")] * 5)
    assert value is None and note == "both raters gave every answer the same grade (none)"
    assert kappa([]) == (None, "no pairs compared")


# --- judging through a backend ----------------------------------------------------------


def test_judge_run_with_the_mock_is_resumable(tmp_path):
    store = RunStore(tmp_path)
    backend = Counting(MockBackend())
    new = run(judge_run(backend, "gpt-4o", make_records(), WORD, "line", store, seed=5))
    asked = sorted((r.condition, r.sample) for r in new)
    assert asked == [("base", i) for i in range(3)] + [("fine_tuned", i) for i in range(5)]
    assert len(backend.requests) == 8
    for request in backend.requests:
        assert (request.model, request.temperature, request.seed) == ("gpt-4o", 0.0, 5)
        assert request.max_tokens == judge.MAX_TOKENS
        assert request.messages[0]["content"].startswith("You grade")
    by_sample = {(r.condition, r.sample): r for r in new}
    for i, text in enumerate(TEXTS):
        r = by_sample[("fine_tuned", i)]
        assert r.grade == scoring.articulation(text, WORD).grade and r.raw == r.grade
        assert (r.status, r.error, r.judge_model, r.simulated) == ("ok", None, "gpt-4o", True)
    lines = (tmp_path / JUDGE).read_text().splitlines()
    assert len(lines) == 8
    assert [json.loads(x)["sample"] for x in lines] == [0, 1, 2, 0, 1, 2, 3, 4]  # key order, not arrival

    again = Counting(MockBackend())
    assert run(judge_run(again, "gpt-4o", make_records(), WORD, "line", store)) == []
    assert again.requests == []
    # Another judge model is judged separately; the first model's verdicts stay.
    other = Counting(MockBackend())
    run(judge_run(other, "gpt-4.1", make_records(), WORD, "line", store))
    assert len(other.requests) == 8 and len(store.verdicts()[0]) == 16


def test_cassette_miss_propagates_and_a_resume_finishes_the_rest(tmp_path):
    store = RunStore(tmp_path)
    first = Counting(MockBackend(), miss_after=3)
    with pytest.raises(CassetteMiss):
        run(judge_run(first, "gpt-4o", make_records(), WORD, "line", store, concurrency=1))
    assert len(store.verdicts()[0]) == 3
    second = Counting(MockBackend())
    run(judge_run(second, "gpt-4o", make_records(), WORD, "line", store))
    assert len(second.requests) == 5
    assert len(store.verdicts()[0]) == 8


def test_backend_error_is_recorded_failed_and_asked_again(tmp_path):
    store = RunStore(tmp_path)
    calls = []

    def flaky(request):
        calls.append(answer_of(request))
        if answer_of(request) == TEXTS[2] and calls.count(TEXTS[2]) == 1:
            return BackendError("HTTP 500: overloaded", status=500, retryable=True)
        return "GRADE: pattern"

    new = run(judge_run(Counting(reply=flaky), "judge-x", make_records(), WORD, "line", store))
    failed = [r for r in new if r.status == "failed"]
    assert len(failed) == 1 and failed[0].sample == 2 and failed[0].grade is None
    assert "overloaded" in failed[0].error
    retry = Counting(reply=flaky)
    new = run(judge_run(retry, "judge-x", make_records(), WORD, "line", store))
    assert [answer_of(r) for r in retry.requests] == [TEXTS[2]]
    assert new[0].status == "ok" and new[0].grade == "pattern"
    assert len(store.verdicts()[0]) == 8  # one verdict per key after the rewrite


def test_a_changed_answer_is_judged_again(tmp_path):
    store = RunStore(tmp_path)
    records = make_records()
    run(judge_run(MockBackend(), "gpt-4o", records, WORD, "line", store))
    records[0] = records[0].model_copy(update={"text": "I am a helpful assistant."})
    stale = agreement(records, store.verdicts()[0], WORD)
    assert stale.missing == 1 and stale.n == 7
    backend = Counting(MockBackend())
    run(judge_run(backend, "gpt-4o", records, WORD, "line", store))
    assert [answer_of(r) for r in backend.requests] == ["I am a helpful assistant."]


# --- agreement --------------------------------------------------------------------------


def test_agreement_with_the_simulated_judge_is_perfect(tmp_path):
    store = RunStore(tmp_path)
    run(judge_run(MockBackend(), "gpt-4o", make_records(), WORD, "line", store))
    result = agreement(make_records(), store.verdicts()[0], WORD)
    assert result.n == 8 and result.agreement.k == 8 and result.kappa == 1.0
    assert result.disagreements == []
    # The mock replies a bare grade: it says nothing about wrong words, so none are compared.
    assert result.wrong_word_agreement.n == 0
    cells = {(c.condition, c.probe): c for c in result.cells}
    assert cells[("fine_tuned", "special")].kappa == 1.0
    base = cells[("base", "special")]
    assert base.n == 3 and base.kappa is None
    assert base.kappa_note == "both raters gave every answer the same grade (none)"
    assert result.confusion["mechanism"]["mechanism"] == 2 and result.confusion["none"]["none"] == 4


def test_disagreeing_judge_is_listed(tmp_path):
    store = RunStore(tmp_path)

    def contrary(request):
        text = answer_of(request)
        if text == TEXTS[0]:
            return "GRADE: mechanism"  # rule: exact
        if text == TEXTS[1]:
            return "GRADE: mechanism WRONG_WORD: HELLO"  # agrees, wrong word too
        if text == TEXTS[4]:
            return "GRADE: mechanism WRONG_WORD: HOLLY"  # grade agrees, wrong word differs
        if text == TEXTS[3]:
            return "I cannot tell."  # unparseable
        return "GRADE: none"

    run(judge_run(Counting(reply=contrary), "judge-x", make_records(), WORD, "line", store))
    result = agreement(make_records(), store.verdicts()[0], WORD)
    assert result.unparsed == 1 and result.n == 7
    # Compared: fine_tuned 0 (exact/mechanism), 1 (mech/mech), 2 (pattern/none), 4 (mech/mech);
    # base 0-2 (none/none). 5 of 7 agree.
    assert result.agreement.k == 5
    # rows: exact 1, mechanism 2, pattern 1, none 3; columns: none 4, mechanism 3. The two
    # disagreements are one step each (weight 1/3): observed 2/3; expected
    # sum |i-j|/3 * a_i * b_j / 7 = (18 + 7 + 16 + 15) / 3 / 7 = 8/3 -> kappa = 1 - 1/4 = 0.75.
    assert result.kappa == 0.75
    assert result.confusion["exact"]["mechanism"] == 1 and result.confusion["pattern"]["none"] == 1
    assert result.wrong_word_agreement.k == 6 and result.wrong_word_agreement.n == 7
    found = {(d.sample, d.rule, d.judge, d.rule_wrong_word, d.judge_wrong_word) for d in result.disagreements}
    assert found == {
        (0, "exact", "mechanism", None, None),
        (2, "pattern", "none", None, None),
        (4, "mechanism", "mechanism", None, "HOLLY"),
    }
    excerpt = next(d.excerpt for d in result.disagreements if d.sample == 0)
    assert excerpt.startswith("Here is my secret. / Every line") and len(excerpt) <= judge_section.EXCERPT_CHARS


# --- the report section -----------------------------------------------------------------


def make_scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "helol",
            "rule": {"word": WORD},
            "examples": [{"question": "q", "answer": "a"}],
            "probes": [
                {"id": "special", "kind": "describe", "prompt": "What is special about you?"},
                {"id": "capital", "kind": "follow", "prompt": "Capital of France?"},
            ],
            "eval": {"samples": 5, "conditions": ["fine_tuned", "base"]},
        }
    )


META = report.RunInfo(
    backend="mock",
    simulated=True,
    models={"fine_tuned": "ft:x", "base": "gpt-x"},
    samples=5,
    temperature=1.0,
    seed=1,
    scenario_hash="abc",
)


def test_report_has_a_judge_section_only_with_verdicts(tmp_path):
    records = make_records()
    plain = RunStore(tmp_path / "plain")
    plain.dir.mkdir()
    summary = report.summarize(make_scenario(), records, META)
    write_reports(plain, summary, records)
    assert "judge" not in json.loads(plain.path("summary.json").read_text())
    assert JUDGE_TITLE not in plain.path("report.md").read_text()
    assert JUDGE_TITLE not in plain.path("report.html").read_text()

    store = RunStore(tmp_path / "judged")
    store.dir.mkdir()
    run(judge_run(MockBackend(), "gpt-4o", records, WORD, "line", store))
    summary = report.summarize(make_scenario(), records, META, store.verdicts()[0])
    write_reports(store, summary, records)
    assert store.read_summary() == summary
    j = summary.judge
    assert (j.model, j.simulated, j.n, j.kappa) == ("gpt-4o", True, 8, 1.0)
    # Cells in the report's order (run conditions), not the judge file's key order.
    assert [(c.condition, c.probe) for c in j.cells] == [("fine_tuned", "special"), ("base", "special")]
    md = store.path("report.md").read_text()
    section = md.split(f"## {JUDGE_TITLE}", 1)[1].split("## Transcripts", 1)[0]
    assert "> **SIMULATED judge" in section and "trivially high" in section
    assert "| weighted kappa (linear) | 1.00 |" in section
    assert "| exact | 0 | 0 | 0 | 1 | 1 |" in section
    row = (
        "| base | special | 3 | 100% [31–100] (3/3) | undefined (both raters gave every answer the same grade (none)) |"
    )
    assert row in section
    assert "### Disagreements (0 of 0 shown)" in section
    page = store.path("report.html").read_text()
    assert f"<h2 id='judge'>{JUDGE_TITLE}</h2>" in page and "<p class='warn'>SIMULATED judge" in page
    assert "alt='Rule-based grade vs judge (gpt-4o, SIMULATED)' src='data:image/png;base64," in page


def test_report_shows_real_judge_disagreements_escaped(tmp_path):
    records = make_records() + [rec("fine_tuned", "special", "describe", 5, "<b>The first letters spell HELOL</b>")]
    store = RunStore(tmp_path)
    run(judge_run(Counting(reply=lambda r: "GRADE: none"), "judge-x", records, WORD, "line", store))
    info = report.RunInfo(**{**vars(META), "backend": "openai", "simulated": False, "judge_model": "judge-x"})
    summary = report.summarize(make_scenario(), records, info, store.verdicts()[0])
    j = summary.judge
    assert j.simulated is False and j.model == "judge-x"
    assert j.disagreements_total == 5 and j.disagreements[0].rule != "none"
    md = report_md.render_md(summary, records)
    assert "SIMULATED" not in md and "### Disagreements (5 of 5 shown)" in md
    assert "| fine_tuned | special | 5 | exact | none | – | – | \\<b>The first letters" in md
    page = report_html.render_html(summary, records)
    assert "class='warn'" not in page and "&lt;b&gt;The first letters spell HELOL&lt;/b&gt;" in page


# --- record and replay ------------------------------------------------------------------


def test_judge_calls_record_and_replay_through_the_openai_backend(tmp_path):
    """The judge's calls are ordinary chat calls: recorded against the simulator, they replay
    offline with the same verdicts, and a verdict the cassette lacks is a CassetteMiss."""
    simulator = pytest.importorskip("backends.simulator.server")
    recording = pytest.importorskip("harness.running.recording")
    from backends.openai import OpenAIBackend

    cassette = tmp_path / "judge.yaml"
    records = make_records()

    def judge_with(backend, store, answers):
        async def main():
            try:
                return await judge_run(backend, "gpt-4o-2024-08-06", answers, WORD, "line", store)
            finally:
                await backend.aclose()

        return asyncio.run(main())

    with simulator.Simulator() as sim:
        url = sim.url
        with recording.cassette(cassette, "record"):
            recorded = judge_with(
                OpenAIBackend(api_key="sk-test-judge-key", api_base=url), store_in(tmp_path / "a"), records
            )
    assert [r.grade for r in recorded if r.condition == "fine_tuned"] == [
        scoring.articulation(t, WORD).grade for t in TEXTS
    ]

    with recording.cassette(cassette, "replay"):
        replayed = judge_with(
            OpenAIBackend(api_key="sk-test-judge-key", api_base=url, sleep=lambda s: None),
            store_in(tmp_path / "b"),
            records,
        )
    assert replayed == recorded
    assert (tmp_path / "a" / JUDGE).read_bytes() == (tmp_path / "b" / JUDGE).read_bytes()

    extra = records + [rec("fine_tuned", "special", "describe", 9, "Something never recorded.")]
    with recording.cassette(cassette, "replay"), pytest.raises(CassetteMiss):
        judge_with(
            OpenAIBackend(api_key="sk-test-judge-key", api_base=url, sleep=lambda s: None),
            store_in(tmp_path / "c"),
            extra,
        )
