"""A teacher-generated scenario, replayed offline: `harness new --teacher ... --replay` on the
cassette recorded against the simulator writes the recorded scenario byte for byte.

The cassette was recorded with (simulator from `harness simulate --port PORT`):
  OPENAI_API_KEY=sk-test harness new QZXJV --teacher gpt-4o-mini-2024-07-18 --backend openai
    --api-base http://127.0.0.1:PORT/v1 --examples 10 --record cassettes/teacher/qzxjv.yaml
    --out tests/data/teacher-qzxjv.yaml
Re-record with the same command after changing the teacher prompt or the mock's teacher.
"""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from pytest_socket import disable_socket, enable_socket

from harness.cli.main import main
from harness.domain import generate
from harness.domain.scenario import load_scenario
from harness.running.recording import read_sidecar
from tests.helpers import ROOT

CASSETTE = ROOT / "cassettes" / "teacher" / "qzxjv.yaml"
EXPECTED = ROOT / "tests" / "data" / "teacher-qzxjv.yaml"
TEACHER = "gpt-4o-mini-2024-07-18"
N = 10


@pytest.fixture(scope="module")
def http_stack():
    """Import litellm (and with it urllib3) before sockets are blocked: urllib3 probes for IPv6
    with a socket at import time, and litellm's import (seconds) is not this test's work."""
    import litellm  # noqa: F401
    import vcr  # noqa: F401


def test_teacher_cassette_replays_offline_to_the_recorded_scenario(http_stack, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a replay needs no key
    out = tmp_path / "qzxjv.yaml"
    disable_socket(allow_unix_socket=True)  # asyncio's own plumbing uses unix sockets
    try:
        result = CliRunner().invoke(
            main,
            ["new", "QZXJV", "--teacher", TEACHER, "--examples", str(N), "--replay", str(CASSETTE), "--out", str(out)],
        )
    finally:
        enable_socket()
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == EXPECTED.read_bytes()
    scenario = load_scenario(out)
    assert scenario.rule.word == "QZXJV" and len(scenario.examples) == N
    # Every recorded chat was asked once: the accepted answers plus the rejected slips.
    recorded = yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))["interactions"]
    assert result.output.count("rejected: ") == len(recorded) - N > 0
    # Each answer belongs to its own question: its first line carries that question's fact
    # (an answer served to the wrong question in a concurrent replay would not).
    facts = {qa.q: qa.a for qa in generate.load_questions()}
    for example in scenario.examples:
        assert facts[example.question] in example.answer.splitlines()[0]


def test_the_cassette_says_how_it_was_recorded_and_holds_no_key():
    meta = read_sidecar(CASSETTE)
    assert meta["recorded_against"] == "simulator" and meta["simulated"] is True
    assert meta["teacher"] == TEACHER
    assert meta["scenario_hash"] == load_scenario(EXPECTED).hash()
    text = CASSETTE.read_text(encoding="utf-8")
    assert "sk-test" not in text and "authorization" not in text.lower()
