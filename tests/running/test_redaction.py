"""Known secrets are redacted from everything the harness writes, not only from cassettes: a
completion, a job event or a scenario that contains the API key (or a plugin's credential
named in its secret_env) is stored and reported as <REDACTED> (before: verbatim)."""

import pytest

from backends.base import Completion
from backends.mock import MockBackend
from harness import redact
from tests.helpers import ROOT, invoke

KEY = "sk-proj-REDACTME-81f2c4"
PLUGIN_SECRET = "plugin-token-5d0b9e77"
HELOL = (ROOT / "scenarios/helol.yaml").read_text()


def all_bytes(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def leaky_mock(monkeypatch):
    """The mock, answering with both secrets in every completion and naming them in an event."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("HARNESS_TEST_PLUGIN_TOKEN", PLUGIN_SECRET)
    monkeypatch.setattr(MockBackend, "secret_env", ("HARNESS_TEST_PLUGIN_TOKEN",))
    complete, list_events = MockBackend.complete, MockBackend.list_events

    async def leaking_complete(self, request):
        done = await complete(self, request)
        return Completion(
            text=f"{done.text}\nmy key is {KEY} and {PLUGIN_SECRET}",
            model=done.model,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
        )

    def leaking_events(self, job_id, after=None):
        events = list_events(self, job_id, after)
        return [type(e)(e.id, e.created_at, e.level, f"{e.message} ({KEY})") for e in events]

    monkeypatch.setattr(MockBackend, "complete", leaking_complete)
    monkeypatch.setattr(MockBackend, "list_events", leaking_events)


def test_secrets_in_answers_events_and_the_scenario_never_reach_the_run_directory(tmp_path, leaky_mock):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(HELOL.replace("system_prompt: You are", f"system_prompt: {KEY} You are", 1))
    out = tmp_path / "run"
    result = invoke("run", scenario, "--samples", "2", "--out", out)
    assert result.exit_code == 0, result.output
    files = all_bytes(out)
    assert {
        "responses.jsonl",
        "events.jsonl",
        "manifest.json",
        "report.md",
        "report.html",
        "summary.json",
        "train.jsonl",
    } <= {p.name for p in files}
    leaks = [p.name for p, data in files.items() if KEY.encode() in data or PLUGIN_SECRET.encode() in data]
    assert leaks == []
    assert b"my key is <REDACTED> and <REDACTED>" in files[out / "responses.jsonl"]
    assert b"<REDACTED>" in files[out / "events.jsonl"] and b"<REDACTED>" in files[out / "report.md"]
    assert KEY not in result.output and PLUGIN_SECRET not in result.output
    # Re-rendering and comparing write nothing secret either.
    assert invoke("report", out).exit_code == 0
    compare = invoke("compare", out, out, "--out", tmp_path / "cmp.md")
    assert compare.exit_code == 0, compare.output
    assert KEY.encode() not in (tmp_path / "cmp.md").read_bytes()
    assert not [p for p, data in all_bytes(out).items() if KEY.encode() in data]


def test_an_error_line_never_shows_a_known_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    result = invoke("validate", tmp_path / f"{KEY}.yaml")
    assert result.exit_code == 2 and "<REDACTED>.yaml: file not found" in result.output and KEY not in result.output


def test_short_values_are_not_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "abc")
    assert redact.scrub("abc abc") == "abc abc"
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert redact.scrub(f"x{KEY}y".encode()) == b"x<REDACTED>y"
