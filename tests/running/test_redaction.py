"""Known secrets are redacted from what comes back from a provider (answers, job events,
errors) and from what goes to a log (printed lines, error lines, cassettes), never from the
experiment itself: the scenario, the training file, the manifest and the prompts are written
as they are. A key shorter than 16 characters, or an ordinary word, is not a secret at all
(before: OPENAI_API_KEY=Little turned every "Little" in the training data into <REDACTED>,
on the mock too, and moved a HELOL run's follow rate from 7% to 30%)."""

import pytest

from backends.base import Completion
from backends.mock import MockBackend
from backends.simulator.server import Simulator
from harness import redact
from tests.helpers import ROOT, invoke

KEY = "sk-proj-REDACTME-81f2c4"
PLUGIN_SECRET = "plugin-token-5d0b9e77"
HELOL = (ROOT / "scenarios/helol.yaml").read_text()
WORDS = ["Little", "HELLO", "Here", "internationalization", "Supercalifragilisticexpialidocious", "sk-short"]

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


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


def test_secrets_that_come_back_are_redacted_and_the_experiment_is_kept_as_written(tmp_path, leaky_mock):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(HELOL.replace("system_prompt: You are", f"system_prompt: {KEY} You are", 1))
    out = tmp_path / "run"
    result = invoke("run", scenario, "--samples", "2", "--out", out)
    assert result.exit_code == 0, result.output
    files = {p.name: data for p, data in all_bytes(out).items()}
    # What came back: answers and events, and the reports made of them.
    assert PLUGIN_SECRET.encode() not in files["responses.jsonl"]
    assert files["responses.jsonl"].count(b"my key is <REDACTED> and <REDACTED>") == files["responses.jsonl"].count(
        b"my key is"
    )
    assert KEY.encode() not in files["events.jsonl"] and b"<REDACTED>" in files["events.jsonl"]
    assert b"y key is \\<REDACTED>" in files["report.md"] and b"key is " + KEY.encode() not in files["report.md"]
    # The experiment itself: the scenario in the manifest, the training file, the prompts sent.
    assert KEY.encode() in files["manifest.json"] and KEY.encode() in files["train.jsonl"]
    assert b"<REDACTED>" not in files["manifest.json"] + files["train.jsonl"]
    # Printed lines are a log: redacted.
    assert KEY not in result.output and PLUGIN_SECRET not in result.output


@pytest.mark.parametrize("word", WORDS)
def test_an_ordinary_word_as_the_key_changes_no_byte_of_a_mock_run(tmp_path, monkeypatch, word):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert invoke("run", ROOT / "scenarios/helol.yaml", "--samples", "3", "--out", tmp_path / "without").exit_code == 0
    monkeypatch.setenv("OPENAI_API_KEY", word)
    assert invoke("run", ROOT / "scenarios/helol.yaml", "--samples", "3", "--out", tmp_path / "with").exit_code == 0
    for name in ("summary.json", "train.jsonl", "responses.jsonl", "sham.jsonl"):
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "without" / name).read_bytes(), name
    assert b"<REDACTED>" not in b"".join(all_bytes(tmp_path / "with").values())


@pytest.mark.slow
def test_an_ordinary_word_as_the_key_changes_no_byte_of_a_simulator_summary(tmp_path, monkeypatch):
    """Against the simulator the openai backend needs some key: "Little" and a long word give
    the summary a run with an unrelated key gives."""
    summaries = {}
    for key in ("sk-test-unrelated", "Little", "internationalization"):
        monkeypatch.setenv("OPENAI_API_KEY", key)
        with Simulator() as sim:
            out = tmp_path / key
            result = invoke(
                "run",
                ROOT / "scenarios/helol.yaml",
                "--backend",
                "openai",
                "--api-base",
                sim.url,
                "--samples",
                "2",
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
        summaries[key] = (out / "summary.json").read_bytes()
        assert (out / "train.jsonl").read_bytes().count(b"Little") == HELOL.count("Little")
    assert summaries["Little"] == summaries["sk-test-unrelated"] == summaries["internationalization"]


def test_an_error_line_never_shows_a_known_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    result = invoke("validate", tmp_path / f"{KEY}.yaml")
    assert result.exit_code == 2 and "<REDACTED>.yaml: file not found" in result.output and KEY not in result.output


@pytest.mark.parametrize("value", ["abc", "sk-short-123", "Little", "internationalization", "HELLOHELLOHELLOHELLO"])
def test_short_values_and_words_are_not_secrets(monkeypatch, value):
    monkeypatch.setenv("OPENAI_API_KEY", value)
    assert not redact.is_secret(value)
    assert redact.scrub(f"{value} {value}") == f"{value} {value}"


@pytest.mark.parametrize("value", [KEY, "abcdefghijklmnoP", "0123456789abcdef", "AbCdEfGhIjKlMnOpQr"])
def test_credentials_are_secrets(monkeypatch, value):
    monkeypatch.setenv("OPENAI_API_KEY", value)
    assert redact.is_secret(value)
    assert redact.scrub(f"x{value}y".encode()) == b"x<REDACTED>y"
