"""Money: the --max-cost cap holds with calls in flight, the judge spends under the same
cap, and what a run costs is estimated the way the provider will bill it.

The paid backend is the mock with `simulated = False` on the instance (the plan still sees
the mock's class, so it does not refuse to start): its models carry real names, so our
price table prices every call, and a short await in each chat lets eight calls overlap."""

import asyncio
import json
from pathlib import Path

import pytest

from backends.base import ChatRequest
from backends.mock import MockBackend
from harness.calls.budget import Ledger, Pricer, spent_of
from harness.domain.scenario import load_scenario
from harness.domain.tokens import default_epochs
from harness.errors import PlanError
from harness.running import session as runner
from harness.running.options import RunOptions, settings_for
from harness.running.plan import check_model_base
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
TABLE = Pricer.of(MockBackend)  # the mock is priced like the OpenAI model it stands for
ARGS = ["--samples", "2", "--seed", "2", "--conditions", "fine_tuned,base,in_context", "--concurrency", "8"]


class Overlapping(MockBackend):
    """The mock answering after a pause, so that concurrent calls are really in flight."""

    async def complete(self, request: ChatRequest):
        await asyncio.sleep(0.002)
        return await super().complete(request)


@pytest.fixture
def paid(monkeypatch):
    """Every backend the CLI opens is a mock that says it is not simulated (so it is paid)."""
    made = []

    def open_backend(name, run_dir, scenario, options, replay=False):
        backend = Overlapping(state_path=run_dir / "mock-provider.json")
        backend.simulated = False
        made.append(backend)
        return backend

    monkeypatch.setattr(runner, "open_backend", open_backend)
    return made


def spent(run_dir: Path) -> float:
    store = RunStore(run_dir)
    return spent_of(store.read_state(), store.responses()[0], TABLE, store.verdicts()[0])


def test_cap_holds_with_calls_in_flight_and_resume_with_a_higher_cap_finishes(paid, tmp_path):
    full = tmp_path / "full"
    assert invoke("run", SCENARIO, *ARGS, "--out", full).exit_code == 0
    training = RunStore(full).read_state().training_cost
    whole = spent(full)
    cap = training + (whole - training) / 3  # room for about a third of the answers

    out = tmp_path / "run"
    result = invoke("run", SCENARIO, *ARGS, "--out", out, "--max-cost", f"{cap:.6f}")
    assert result.exit_code == 1 and "stopped probing" in result.output, result.output
    assert spent(out) <= cap
    answered = len((out / "responses.jsonl").read_text().splitlines())
    assert 0 < answered < 2 * 8 * 3
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "incomplete" and "--max-cost" in state["error"]

    again = invoke("resume", out, "--max-cost", "1")
    assert again.exit_code == 0, again.output
    assert (out / "summary.json").read_bytes() == (full / "summary.json").read_bytes()
    assert json.loads((out / "manifest.json").read_text())["options"]["max_cost"] == 1


def test_judge_spends_under_the_same_cap(paid, tmp_path):
    full = tmp_path / "full"
    # Two lanes: the last probe calls' reservations (at max_tokens) must fit under the cap
    # for probing to finish and the judge to start.
    judge = ["--judge", "gpt-4o-2024-08-06", "--conditions", "fine_tuned", "--concurrency", "2"]
    assert invoke("run", SCENARIO, *ARGS, *judge, "--out", full).exit_code == 0
    verdicts = [json.loads(x) for x in (full / "judge.jsonl").read_text().splitlines()]
    assert verdicts and all(v["prompt_tokens"] > 0 for v in verdicts)
    store = RunStore(full)
    probes_only = spent_of(store.read_state(), store.responses()[0], TABLE)
    assert spent(full) > probes_only  # the judge's spend is in the ledger
    cap = probes_only + (spent(full) - probes_only) / 2

    out = tmp_path / "run"
    result = invoke("run", SCENARIO, *ARGS, *judge, "--out", out, "--max-cost", f"{cap:.6f}")
    assert result.exit_code == 1 and "stopped judging" in result.output, result.output
    assert spent(out) <= cap
    assert 0 < len((out / "judge.jsonl").read_text().splitlines()) < len(verdicts)


def test_ledger_counts_reservations_in_flight():
    request = ChatRequest(
        model="gpt-4o-mini-2024-07-18", messages=[{"role": "user", "content": "Hi there"}], max_tokens=1000
    )
    one = Ledger(1.0, TABLE).estimate(request)
    assert one == pytest.approx(1000 * 0.60 / 1e6, rel=0.02)  # the completion at max_tokens dominates
    ledger = Ledger(cap=2.5 * one, pricer=TABLE)
    first, second = ledger.reserve(request), ledger.reserve(request)
    assert first is not None and second is not None
    assert ledger.reserve(request) is None and "--max-cost" in ledger.refused  # two in flight: no third
    ledger.settle(first, request.model, 10, 10)
    assert ledger.spent == pytest.approx((10 * 0.15 + 10 * 0.60) / 1e6)
    assert ledger.committed == pytest.approx(ledger.spent + one)
    free = Ledger(cap=0.0, pricer=TABLE, paid=lambda: False)  # simulated calls cost nothing
    assert free.reserve(request) is not None


def test_in_context_reservation_includes_the_examples():
    scenario = load_scenario(SCENARIO)
    from harness.calls import probing

    short = probing.messages_for(scenario, scenario.examples, "base", "Hi")
    long = probing.messages_for(scenario, scenario.examples, "in_context", "Hi")
    est = [
        Ledger(1.0, TABLE).estimate(ChatRequest(model="gpt-4o-mini-2024-07-18", messages=m, max_tokens=0))
        for m in (short, long)
    ]
    assert est[1] > 20 * est[0]


def test_missing_epochs_are_estimated_as_auto(tmp_path):
    text = SCENARIO.read_text()
    assert "n_epochs: 3" in text
    path = tmp_path / "auto.yaml"
    path.write_text(text.replace("hyperparameters: {n_epochs: 3}", "hyperparameters: {}"))
    scenario = load_scenario(path)
    assert "n_epochs" not in scenario.fine_tune.hyperparameters
    assert settings_for(scenario, RunOptions()).epochs == default_epochs(10) == 10


def test_model_from_another_base_is_refused():
    with pytest.raises(PlanError, match="gpt-4o-2024-08-06.*gpt-4o-mini-2024-07-18"):
        check_model_base("ft:gpt-4o-2024-08-06:org:x:abc", "gpt-4o-mini-2024-07-18")
    assert check_model_base("ft:gpt-4o-mini:org:x:abc", "gpt-4o-mini-2024-07-18") == []  # alias, same model
    assert check_model_base(None, "gpt-4o-mini-2024-07-18") == []
    warned = check_model_base("my-own-model", "gpt-4o-mini-2024-07-18")
    assert len(warned) == 1 and "gpt-4o-mini-2024-07-18" in warned[0]
