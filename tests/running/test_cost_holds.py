"""The cap holds when a provider misbehaves, and every backend prices its own models:
an answer without `usage` is counted with tiktoken (before: $0, 6x over the cap), a call
that failed after it reached the provider is charged at its reservation (before: $0), and a
plugin's plan is priced by the plugin, never by OpenAI's table."""

import json

import pytest

from backends.base import Backend, BackendError, ChatRequest, Completion, ModelPrice
from backends.mock import MockBackend
from harness.calls.budget import Ledger, Pricer, may_be_billed, spent_of
from harness.running import session as runner
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

SCENARIO = ROOT / "scenarios/helol.yaml"
ARGS = ["--samples", "3", "--seed", "2", "--conditions", "fine_tuned,base", "--concurrency", "4"]
TABLE = Pricer.of(MockBackend)


def paid_backend(monkeypatch, cls):
    made = []

    def open_backend(name, run_dir, scenario, options, replay=False):
        backend = cls(state_path=run_dir / "mock-provider.json")
        backend.simulated = False
        made.append(backend)
        return backend

    monkeypatch.setattr(runner, "open_backend", open_backend)
    return made


class NoUsage(MockBackend):
    """A provider that answers but never reports usage."""

    async def complete(self, request: ChatRequest) -> Completion:
        done = await super().complete(request)
        return Completion(text=done.text, model=done.model, finish_reason=done.finish_reason)


def spent(run_dir):
    store = RunStore(run_dir)
    return spent_of(store.read_state(), store.responses()[0], TABLE, store.verdicts()[0], store.cross_predictions()[0])


def test_answers_without_usage_are_counted_and_the_cap_holds(monkeypatch, tmp_path):
    paid_backend(monkeypatch, NoUsage)
    full = tmp_path / "full"
    assert invoke("run", SCENARIO, *ARGS, "--out", full).exit_code == 0
    records = [json.loads(x) for x in (full / "responses.jsonl").read_text().splitlines()]
    assert all(r["prompt_tokens"] > 10 and r["completion_tokens"] > 0 for r in records)
    training = RunStore(full).read_state().training_cost or 0.0
    whole = spent(full)
    assert whole > training  # the answers cost something
    cap = training + (whole - training) / 3
    out = tmp_path / "capped"
    result = invoke("run", SCENARIO, *ARGS, "--out", out, "--max-cost", f"{cap:.6f}")
    assert result.exit_code == 1 and "stopped probing" in result.output, result.output
    assert spent(out) <= cap


class LosesAnswers(MockBackend):
    """Every third chat reaches the provider and is lost (a timeout); every fifth is a 429."""

    calls = 0

    async def complete(self, request: ChatRequest) -> Completion:
        LosesAnswers.calls += 1
        if LosesAnswers.calls % 3 == 0:
            raise BackendError("asking the model: timed out", status=None, retryable=True)
        if LosesAnswers.calls % 5 == 0:
            raise BackendError("asking the model: HTTP 429: slow down", status=429, retryable=True)
        return await super().complete(request)


def test_calls_lost_after_sending_are_charged_at_their_reservation(monkeypatch, tmp_path):
    LosesAnswers.calls = 0
    paid_backend(monkeypatch, LosesAnswers)
    out = tmp_path / "run"
    result = invoke("run", SCENARIO, *ARGS, "--concurrency", "1", "--out", out)
    assert result.exit_code == 1 and "run incomplete" in result.output, result.output
    state = json.loads((out / "state.json").read_text())
    records = [json.loads(x) for x in (out / "responses.jsonl").read_text().splitlines()]
    timeouts = sum("timed out" in (r["error"] or "") for r in records)
    limited = sum("HTTP 429" in (r["error"] or "") for r in records)
    assert timeouts and limited
    # Each timed-out call is kept at its reservation: its prompt plus max_tokens of answer.
    one = Ledger(1.0, TABLE).estimate(
        ChatRequest(model="gpt-4o-mini-2024-07-18", messages=[{"role": "user", "content": "x"}], max_tokens=300)
    )
    assert state["lost_calls_cost"] >= timeouts * one * 0.9
    assert state["lost_calls_cost"] < (timeouts + limited) * one * 3  # the 429s are not charged
    assert spent(out) >= (RunStore(out).read_state().training_cost or 0.0) + state["lost_calls_cost"]


@pytest.mark.parametrize(
    "error,billed",
    [
        (BackendError("timed out", status=None, retryable=True), True),
        (BackendError("HTTP 502", status=502, retryable=True), True),
        (BackendError("HTTP 429", status=429, retryable=True), False),
        (BackendError("HTTP 400", status=400), False),
        (BackendError("cannot reach (connection refused)", status=None, retryable=False), False),
    ],
)
def test_which_failures_may_have_been_billed(error, billed):
    assert may_be_billed(error) is billed


class Priced(Backend):
    name = "acme"
    capabilities = frozenset({"chat"})

    @classmethod
    def price(cls, model):
        return ModelPrice(input=100.0, output=200.0) if model == "gpt-4o-mini-2024-07-18" else None


def test_a_plugin_prices_its_own_models_not_from_openais_table():
    from harness.domain.scenario import load_scenario
    from harness.running.options import RunOptions, settings_for
    from harness.running.plan import make_plan

    scenario = load_scenario(SCENARIO)
    options = RunOptions(backend="acme", conditions=["base"])
    settings = settings_for(scenario, options)
    own = make_plan(scenario, scenario.examples, settings, options, Pricer.of(Priced))
    openai = make_plan(scenario, scenario.examples, settings, options, TABLE)
    assert own.inference_cost and openai.inference_cost
    assert own.inference_cost > 100 * openai.inference_cost  # the plugin's prices, not OpenAI's
    unpriced = make_plan(scenario, scenario.examples, settings, options, Pricer.of(Backend))
    assert unpriced.inference_cost is None and unpriced.unpriced == ["inference gpt-4o-mini-2024-07-18"]
