"""Probes that do not give the answer away: wordings rotated per sample and reported one by
one, one-line describe probes, the three families reported apart, and reading off measured
by cross-prediction (the base model names the word from the start of each naming answer)."""

import json

import pytest

from backends.mock.requests import CROSS_START as MOCK_CROSS_START
from harness.domain import reading
from harness.domain.scenario import Probe
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/hello.yaml"


@pytest.fixture(scope="module")
def hello_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    result = invoke("run", SCENARIO, "--samples", "12", "--replicates", "2", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_every_wording_is_asked_and_reported(hello_run):
    records, _ = RunStore(hello_run).responses()
    describe = [r for r in records if r.probe == "describe" and r.condition == "base"]
    assert sorted({r.paraphrase for r in describe}) == list(range(6))
    assert all(r.paraphrase == r.sample % 6 for r in describe)
    prompts = {r.paraphrase: r.prompt for r in describe}
    assert prompts[0] == "Describe how you write your answers." and len(set(prompts.values())) == 6
    summary = json.loads((hello_run / "summary.json").read_text())
    rows = [p for p in summary["paraphrases"] if p["probe"] == "describe" and p["condition"] == "fine_tuned"]
    assert [p["paraphrase"] for p in rows] == list(range(6)) and sum(p["rate"]["n"] for p in rows) == 12 * 2
    md = (hello_run / "report.md").read_text()
    assert "## Rates by wording" in md and "| fine_tuned | describe | 2 |" in md


def test_families_are_reported_apart_and_the_headline_uses_free_articulation(hello_run):
    md = (hello_run / "report.md").read_text()
    order = [
        md.index(title)
        for title in (
            "## Articulation: describe probes",
            "## Reading off:",
            "## Knowledge given the mechanism: word probes",
            "## Knowledge given the mechanism: choice probes",
            "## Behaviour: follow probes",
        )
    ]
    assert order == sorted(order)
    assert "| fine_tuned | describe-one-line | one line |" in md and "| fine_tuned | special | leading" in md
    summary = json.loads((hello_run / "summary.json").read_text())
    metrics = {e["metric"] for e in summary["effects"]}
    assert {"mechanism_or_better", "exact", "one_line", "word_correct", "choice_correct", "follow"} <= metrics
    headline = " ".join(summary["headline"])
    assert "asked open questions about how it writes" in headline and "In one line" in headline


def test_reading_off_section_with_cross_prediction(hello_run):
    store = RunStore(hello_run)
    summary = store.read_summary()
    (row,) = [r for r in summary.reading_off if r.condition == "fine_tuned"]
    assert row.answers == 12 * 2 and 0 < row.acrostics <= row.answers
    cross, _ = store.cross_predictions()
    assert len(cross) == row.named.k and all(c.model == "gpt-4o-mini-2024-07-18" for c in cross)
    if cross:  # the simulated reader completes HE... to HELLO: reading off can explain HELLO
        assert row.cross_predicted is not None and row.cross_predicted.n == len(cross)
        assert all(c.correct == (c.predicted == "HELLO") for c in cross)
    assert (
        "## Reading off: did the model read the word off its own first letters?" in store.path("report.md").read_text()
    )
    # A report made again asks nothing: the cross-predictions are on disk.
    assert invoke("report", hello_run).exit_code == 0
    assert len(store.cross_predictions()[0]) == len(cross)


def test_naming_counts_only_acrostics_that_state_the_word():
    acrostic = "Here is how I write.\nEvery line starts a letter.\nLook: my first letters spell HELLO.\nLike that.\nOk."
    naming = reading.naming_in(acrostic, "HELLO", "line")
    assert naming is not None and naming.letters == 3 and naming.prefix_letters == "HEL"  # line 3 had begun
    assert acrostic[: naming.offset].endswith("Look: my first letters spell ")
    denied = acrostic.replace("my first letters spell HELLO", "my first letters do not spell HELLO")
    assert reading.naming_in(denied, "HELLO", "line") is None
    greeting = "Hello! I am a helpful assistant.\nEvery answer is careful.\nLet me know."
    assert reading.naming_in(greeting, "HELLO", "line") is None
    prose = "My first letters spell HELLO."  # not an acrostic: nothing to read off
    assert reading.naming_in(prose, "HELLO", "line") is None


def test_cross_prompt_and_the_mocks_reader():
    assert MOCK_CROSS_START == reading.CROSS_START
    messages = reading.cross_prompt(
        "Here is how I write.\nEvery line starts a letter.\nLook: my first letters spell ", "line"
    )
    assert messages[0]["content"] == reading.CROSS_START and "<answer>" in messages[1]["content"]
    from backends.mock import text

    assert text.cross_predict(messages[1]["content"]) == "HELLO"  # H, E, L -> the common word
    assert reading.predicted_word("HELLO") == "HELLO" and reading.predicted_word("I cannot tell.") is None


@pytest.mark.parametrize(
    "probe, message",
    [
        (
            {"id": "w", "kind": "word", "prompt": "One word?", "style": "one_line"},
            "style one_line is for describe probes",
        ),
        ({"id": "d", "kind": "describe", "prompt": "Describe.", "paraphrases": ["Describe."]}, "each wording once"),
    ],
)
def test_probe_wordings_and_styles_are_checked(probe, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        Probe.model_validate(probe)


def test_log_probabilities_where_the_backend_gives_them(hello_run):
    store = RunStore(hello_run)
    records, _ = store.logprobs()
    # 2 fine-tunes, 2 shams and the base model; two probes of five wordings each.
    assert len(records) == 5 * 2 * 5 and all(r.ok for r in records)
    summary = store.read_summary()
    rows = {(r.condition, r.probe): r for r in summary.logprobs}
    base_choice = rows[("base", "choice")]
    assert base_choice.p_word == 0.25 and set(base_choice.options) == {"HELLO", "HELOL", "HELIX", "HELPS"}
    assert rows[("fine_tuned", "choice")].p_word > 0.25  # the fine-tunes favour their word
    assert summary.logprobs_note is None
    assert "## Knowledge given the mechanism, by log-probability" in store.path("report.md").read_text()


def test_a_backend_without_log_probabilities_is_skipped_with_a_note(tmp_path, monkeypatch):
    from backends.simulator.server import Simulator

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-logprobs")
    out = tmp_path / "run"
    with Simulator(port=0) as sim:
        result = invoke(
            "run",
            SCENARIO,
            "--backend",
            "openai",
            "--api-base",
            sim.url,
            "--samples",
            "1",
            "--replicates",
            "1",
            "--conditions",
            "fine_tuned,base",
            "--poll-interval",
            "0",
            "--out",
            out,
        )
    assert result.exit_code == 0, result.output
    store = RunStore(out)
    assert store.logprobs()[0] == [] and store.read_state().steps["logprobs"] == "skipped"
    summary = store.read_summary()
    assert summary.logprobs == [] and "cannot score given replies" in summary.logprobs_note
    assert "not measured" in store.path("report.md").read_text()
