"""Every committed run cassette replays offline, with sockets blocked, to the summary the
recorded run produced. The cassettes were recorded against the simulator (their sidecars
say so); re-record them with the command in each sidecar."""

import json
import re

import pytest
import yaml
from click.testing import CliRunner
from pytest_socket import disable_socket, enable_socket

from harness.cli.main import main
from tests.helpers import ROOT

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


@pytest.mark.slow
@pytest.mark.parametrize("cassette", RUN_CASSETTES, ids=lambda p: p.stem)
def test_cassette_replays_to_the_recorded_summary(cassette, tmp_path, monkeypatch):
    sidecar = yaml.safe_load(cassette.with_suffix(".meta.yaml").read_text())
    assert sidecar["recorded_against"] == "simulator" and sidecar["simulated"] is True
    scenario = ROOT / sidecar["command"][2]
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # replay needs no key
    out = tmp_path / "run"
    disable_socket(allow_unix_socket=True)
    try:
        result = CliRunner().invoke(
            main,
            [
                "run",
                str(scenario),
                "--backend",
                "openai",
                "--replay",
                str(cassette),
                "--out",
                str(out),
                *recorded_options(sidecar),
            ],
        )
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
        result = CliRunner().invoke(
            main,
            [
                "run",
                str(ROOT / "scenarios/hello.yaml"),
                "--backend",
                "openai",
                "--replay",
                str(cassette),
                "--samples",
                "5",
                "--seed",
                "999",
                "--out",
                str(tmp_path / "run"),
            ],
        )
    finally:
        enable_socket()
    assert result.exit_code == 1
    assert "cassette miss: POST /v1/chat/completions" in result.output
    state = json.loads((tmp_path / "run/state.json").read_text())
    assert state["status"] == "failed" and "cassette miss" in state["error"]
    assert cassette.read_bytes() == before, "a replay must never rewrite its cassette"


# --- no secret in any committed cassette ------------------------------------------------

# Our own list (not the recorder's), so that a header dropped from the scrubber is caught here.
CREDENTIAL_HEADERS = {
    "authorization",
    "api-key",
    "x-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
}
PLACEHOLDERS = ("<REDACTED>", "sk-***")  # what the recorder and the sidecar write instead
KEY_LIKE = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{6,}")  # not "task-..." or "desk-..."
BEARER = re.compile(r"Bearer\s+(\S+)")


def _leaves(node):
    """Every string of a parsed YAML document (bodies may be folded over lines in the text)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(key)
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    elif isinstance(node, bytes):  # !!binary bodies
        yield node.decode("utf-8", "replace")
    elif isinstance(node, str):
        yield node


def find_secrets(text: str) -> list[str]:
    """What in a cassette (or sidecar) looks like a credential: an sk- key, a Bearer token that
    is not a placeholder, or a credential header kept in a recorded request or response."""
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        doc = None
    found = []
    for chunk in (text, *_leaves(doc)):
        found += [f"key {m}" for m in KEY_LIKE.findall(chunk)]
        found += [f"Bearer {t}" for t in BEARER.findall(chunk) if t not in PLACEHOLDERS]
    for interaction in (doc or {}).get("interactions", []) if isinstance(doc, dict) else []:
        for side in ("request", "response"):
            for name in (interaction.get(side) or {}).get("headers") or {}:
                if str(name).lower() in CREDENTIAL_HEADERS:
                    found.append(f"{side} header {name}")
    return sorted(set(found))


def test_no_secret_in_any_cassette():
    files = [p for p in (ROOT / "cassettes").rglob("*") if p.is_file()]
    assert len(files) >= 6, "the committed cassettes and sidecars were not found"
    leaks = {str(p.relative_to(ROOT)): find_secrets(p.read_text(encoding="utf-8", errors="replace")) for p in files}
    assert {p: f for p, f in leaks.items() if f} == {}


def test_the_secret_scan_finds_what_is_planted(tmp_path):
    clean = (ROOT / "cassettes/openai/hello.yaml").read_text()
    assert find_secrets(clean) == []
    doc = yaml.load(clean, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    first = doc["interactions"][0]
    first["request"]["headers"]["Authorization"] = ["Bearer abc.def-ghi"]
    first["response"]["headers"]["openai-organization"] = ["org-12345"]
    first["response"]["body"]["string"] += " my key is sk-proj-PLANTED_1234"
    planted = tmp_path / "hello.yaml"
    planted.write_text(yaml.safe_dump(doc))
    assert find_secrets(planted.read_text()) == [
        "Bearer abc.def-ghi",
        "key sk-proj-PLANTED_1234",
        "request header Authorization",
        "response header openai-organization",
    ]
    # Placeholders and look-alike words are not secrets.
    assert find_secrets("Bearer <REDACTED>\ncommand: [harness, --api-key, sk-***]\na task-manager") == []
