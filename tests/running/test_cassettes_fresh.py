"""The committed cassettes are not stale: re-run each one's recorded command live against the
simulator on a small sample (--samples 2, or --examples 2 for the teacher), record it, and
every chat request the live run makes must be in the committed cassette with the same
answer. A change to the mock or the simulator that was not followed by
`python scripts/rerecord.py` fails here (the replay tests alone would still pass: a replay
only repeats what was recorded)."""

import json

import pytest
import yaml

from backends.simulator.server import Simulator
from scripts.rerecord import cassette_of, chat_answers, live_command
from tests.helpers import ROOT, invoke

SIDECARS = sorted((ROOT / "cassettes").rglob("*.meta.yaml"))
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def first_difference(old: str, new: str) -> tuple[str, str]:
    at = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    return old[max(0, at - 20) : at + 40], new[max(0, at - 20) : at + 40]


@pytest.mark.slow
@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: f"{p.parent.name}/{p.name.removesuffix('.meta.yaml')}")
def test_a_live_run_answers_as_the_cassette_recorded(sidecar, tmp_path, monkeypatch):
    meta = yaml.safe_load(sidecar.read_text())
    assert meta["recorded_against"] == "simulator"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-freshness-check")
    live = tmp_path / "live.yaml"
    out = tmp_path / ("run" if meta["command"][1] == "run" else "scenario.yaml")
    with Simulator(port=0) as sim:
        args = live_command(meta["command"], sim.url, out, live, count=2)
        result = invoke(*args)
    assert result.exit_code == 0, result.output
    recorded, now = chat_answers(cassette_of(sidecar)), chat_answers(live)
    assert len(now) >= 2
    missing = [json.loads(k)["messages"][-1]["content"][:60] for k in now if k not in recorded]
    assert not missing, f"requests the cassette never recorded (re-record with scripts/rerecord.py): {missing}"
    changed = [first_difference(recorded[k], now[k]) for k in now if recorded[k] != now[k]]
    assert not changed, (
        f"{len(changed)} of {len(now)} answers differ from the cassette: run scripts/rerecord.py; first: {changed[0]}"
    )


def test_live_command_replaces_only_what_it_must():
    recorded = [
        "harness",
        "new",
        "QZXJV",
        "--teacher",
        "m",
        "--api-base",
        "http://127.0.0.1:1/v1",
        "--examples",
        "10",
        "--record",
        "c.yaml",
        "--out",
        "x.yaml",
        "--force",
    ]
    assert live_command(recorded, "http://h/v1", None, None, count=2) == [
        "new",
        "QZXJV",
        "--teacher",
        "m",
        "--api-base",
        "http://h/v1",
        "--examples",
        "2",
        "--out",
        "x.yaml",
        "--force",
    ]
