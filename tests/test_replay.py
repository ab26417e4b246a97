"""Every committed run cassette replays offline, with sockets blocked, to the summary the
recorded run produced. The cassettes were recorded against the simulator (their sidecars
say so); re-record them with the command in each sidecar."""
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pytest_socket import disable_socket, enable_socket

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = sorted((ROOT / "cassettes" / "openai").glob("*.yaml"))
RUN_CASSETTES = [c for c in CASSETTES if not c.name.endswith(".meta.yaml")]
REPLAYED_OPTIONS = ("--samples", "--seed", "--temperature", "--conditions", "--judge")


def recorded_options(sidecar: dict) -> list[str]:
    command = sidecar["command"]
    return [x for flag, value in zip(command, command[1:]) if flag in REPLAYED_OPTIONS for x in (flag, value)]


@pytest.fixture(scope="module", autouse=True)
def import_before_blocking():
    import litellm  # noqa: F401  (urllib3 probes an IPv6 socket at import time)
    import vcr  # noqa: F401


@pytest.mark.parametrize("cassette", RUN_CASSETTES, ids=lambda p: p.stem)
def test_cassette_replays_to_the_recorded_summary(cassette, tmp_path, monkeypatch):
    sidecar = yaml.safe_load(cassette.with_suffix(".meta.yaml").read_text())
    assert sidecar["recorded_against"] == "simulator" and sidecar["simulated"] is True
    scenario = ROOT / sidecar["command"][2]
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # replay needs no key
    out = tmp_path / "run"
    disable_socket(allow_unix_socket=True)
    try:
        result = CliRunner().invoke(main, ["run", str(scenario), "--backend", "openai", "--replay", str(cassette),
                                           "--out", str(out), *recorded_options(sidecar)])
    finally:
        enable_socket()
    assert result.exit_code == 0, result.output
    expected = json.loads((ROOT / "tests/data/replay" / f"{cassette.stem}.summary.json").read_text())
    assert json.loads((out / "summary.json").read_text()) == expected
    assert "SIMULATED" in (out / "report.md").read_text()[:200]


def test_a_request_not_in_the_cassette_is_a_clear_miss(tmp_path, monkeypatch):
    cassette = ROOT / "cassettes/openai/hello.yaml"
    before = cassette.read_bytes()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    disable_socket(allow_unix_socket=True)
    try:  # a different seed asks different questions than were recorded
        result = CliRunner().invoke(main, ["run", str(ROOT / "scenarios/hello.yaml"), "--backend", "openai",
                                           "--replay", str(cassette), "--samples", "5", "--seed", "999",
                                           "--out", str(tmp_path / "run")])
    finally:
        enable_socket()
    assert result.exit_code == 1
    assert "cassette miss: POST /v1/chat/completions" in result.output
    state = json.loads((tmp_path / "run/state.json").read_text())
    assert state["status"] == "failed" and "cassette miss" in state["error"]
    assert cassette.read_bytes() == before, "a replay must never rewrite its cassette"


def test_no_secret_in_any_cassette():
    for path in (ROOT / "cassettes").rglob("*.yaml"):
        text = path.read_text()
        assert "sk-test-DISTINCTIVE" not in text
        assert "authorization" not in text.lower() or "<REDACTED>" in text, path
