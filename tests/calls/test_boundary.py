"""The provider boundary's checks on their own (harness/calls/boundary.py): token counts,
training tokens, provider text, and the shape of jobs and events from any backend."""

import math

import pytest

from backends.base import ChatRequest, Completion, FileRef, Job, JobEvent, MalformedResponse
from harness.calls import boundary

REQUEST = ChatRequest(
    model="gpt-4o-mini-2024-07-18",
    messages=[{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Name a desert."}],
    max_tokens=50,
)
TEXT = "Here is one.\nEvery map shows it.\nLook at the Sahara."


def reply(prompt, completion, text=TEXT):
    return Completion(text=text, model="m", prompt_tokens=prompt, completion_tokens=completion)


@pytest.mark.parametrize("value", [-1, -5.0, math.nan, math.inf, 1e300, 2.5, "12", True, None, [], {}])
def test_a_count_that_is_not_a_whole_number_is_none(value):
    assert boundary.whole_count(value) is None


def test_plausible_counts_are_kept_as_reported_when_nothing_is_paid():
    used = boundary.checked_usage(REQUEST, reply(21, 15))
    assert (used.prompt, used.completion, used.note) == (21, 15, None)


@pytest.mark.parametrize(
    "prompt,completion,field",
    [
        (-5, 15, "prompt_tokens -5"),
        (10**9, 15, "prompt_tokens 1000000000"),
        (21, 51, "completion_tokens 51"),
        (21, 0, "completion_tokens 0"),
        (math.nan, 15, "prompt_tokens nan"),
        ("lots", 15, "prompt_tokens 'lots'"),
    ],
)
def test_an_implausible_count_is_recounted_and_noted(prompt, completion, field):
    used = boundary.checked_usage(REQUEST, reply(prompt, completion))
    assert used.prompt > 0 and 0 < used.completion <= 50
    assert field in used.note and used.note.endswith("counted with tiktoken")


def test_no_usage_is_counted_and_noted():
    used = boundary.checked_usage(REQUEST, reply(0, 0))
    assert used.prompt == boundary.count_prompt(REQUEST) and used.note.startswith("no usage reported")


def test_a_paid_answer_is_never_charged_below_our_count():
    ours = boundary.count_prompt(REQUEST)
    used = boundary.checked_usage(REQUEST, reply(1, 1), counted_prompt=ours, exact=True)
    assert used.prompt == ours and used.completion >= 10 and "below our count" in used.note
    close = boundary.checked_usage(REQUEST, reply(ours - 2, 14), counted_prompt=ours, exact=True)
    assert close.prompt == ours and close.note is None  # a little under: charged ours, not flagged


@pytest.mark.parametrize(
    "reported,expected,noted",
    [
        (3891, 3891, False),
        (4200, 4200, False),  # a little over ours: believed
        (-99_999_999_999, 3891, True),
        (10**12, 3891, True),  # over twice the file at its epochs
        (100, 3891, True),  # under one epoch's worth
        (None, 3891, True),
        ("3891", 3891, True),
        (1e300, 3891, True),
    ],
)
def test_trained_tokens_are_checked_against_our_count_of_the_file(reported, expected, noted):
    used = boundary.trained_tokens(reported, 1297, 3, chosen=True, exact=True)
    assert used.prompt == expected and (used.note is not None) == noted


def test_auto_epochs_believe_any_whole_count_up_to_the_most_epochs():
    assert boundary.trained_tokens(1297 * 10, 1297, 3, chosen=False, exact=True).prompt == 1297 * 10
    assert boundary.trained_tokens(1297 * 200, 1297, 3, chosen=False, exact=True).note is not None


def test_provider_text_is_one_clean_line_with_the_key_gone(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-boundary-Zx81Kq02")
    dirty = "\x1b]0;title\x07\x1b[31mred\x1b[0m\r\nforged: line\x00\x9b2J\u202e sk-boundary-Zx81Kq02"
    assert boundary.clean_line(dirty) == "red forged: line <REDACTED>"
    assert boundary.clean_text("H\x1b[1mere\nEvery\tline\x07 sk-boundary-Zx81Kq02") == "Here\nEvery\tline <REDACTED>"


def test_checked_completions_jobs_and_events_refuse_wrong_shapes():
    with pytest.raises(MalformedResponse, match="answer text is int"):
        boundary.checked_completion(Completion(text=5, model="m"))  # type: ignore[arg-type]
    with pytest.raises(MalformedResponse, match="not a completion"):
        boundary.checked_completion({"text": "hi"})
    with pytest.raises(MalformedResponse, match="no usable id"):
        boundary.job(Job(id=None, status="running", base_model="m"))  # type: ignore[arg-type]
    with pytest.raises(MalformedResponse, match="succeeded without a fine-tuned model"):
        boundary.job(Job(id="ftjob-1", status="succeeded", base_model="m"))
    with pytest.raises(MalformedResponse, match="events are not a list"):
        boundary.events({"data": []})
    with pytest.raises(MalformedResponse, match="no usable id"):
        boundary.file_ref(FileRef(id="", filename="f", bytes=3))
    event = boundary.events([JobEvent(id="e1", created_at=-5, level="\x1b[31mwarn", message="a\nb")])[0]
    assert (event.created_at, event.level, event.message) == (0, "warn", "a b")


@pytest.mark.parametrize("found", [[math.nan, -1.0], [-1.0], [0.5, -1.0], ["x", -1.0], None, [True, -1.0]])
def test_log_probabilities_must_be_finite_and_not_above_zero(found):
    with pytest.raises(MalformedResponse):
        boundary.logprobs(found, 2)
    assert boundary.logprobs([-0.5, 0], 2) == [-0.5, 0.0]


def test_a_plugin_that_returns_nan_log_probabilities_fails_those_records_not_the_run(tmp_path, monkeypatch):
    """Any backend's values pass the boundary (before: a NaN log-probability reached the
    record's model and ended the run with pydantic's traceback)."""
    import json

    from backends.mock import MockBackend
    from tests.helpers import ROOT, invoke

    async def nan(self, model, messages, continuations):
        return [math.nan] * len(continuations)

    monkeypatch.setattr(MockBackend, "continuation_logprobs", nan)
    result = invoke("run", ROOT / "scenarios/helol.yaml", "--samples", "1", "--out", tmp_path / "run")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    records = [json.loads(line) for line in (tmp_path / "run/logprobs.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "failed" and "not finite" in r["error"] for r in records)
