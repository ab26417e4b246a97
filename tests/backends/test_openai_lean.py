"""The openai backend's chat calls go through litellm without litellm's own pricing and success
logging (backends.openai_lean): the harness prices every answer from the token counts it
checked, keeps the spend and stops at the cap. Calls made with litellm outside the backend
are priced and logged as before."""

from __future__ import annotations

import asyncio

import pytest

import harness  # noqa: F401  (offline litellm settings before any provider import)
from backends.base import ChatRequest
from backends.openai import OpenAIBackend, _litellm
from backends.openai_lean import priced_by_harness
from backends.simulator.server import Simulator
from harness.calls import probing
from harness.calls.budget import Ledger, Pricer
from harness.domain.scenario import load_scenario
from tests.helpers import ROOT

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "sk-lean-test"
SCENARIO = load_scenario(ROOT / "scenarios" / "helol.yaml")
MODEL = "gpt-4o-mini-2024-07-18"
PRICES = Pricer.of(OpenAIBackend)


@pytest.fixture
def litellm_spy(monkeypatch):
    """Counts litellm's pricing (completion_cost, which its cost calculator calls) and the
    success events its callbacks receive."""
    litellm = _litellm()
    from litellm import cost_calculator
    from litellm.integrations.custom_logger import CustomLogger

    seen = {"priced": 0, "logged": 0}
    price = cost_calculator.completion_cost

    def counted(*args, **kwargs):
        seen["priced"] += 1
        return price(*args, **kwargs)

    class Counter(CustomLogger):
        def log_success_event(self, kwargs, response_obj, start_time, end_time):
            seen["logged"] += 1

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            seen["logged"] += 1

    monkeypatch.setattr(cost_calculator, "completion_cost", counted)
    monkeypatch.setattr(litellm, "callbacks", [Counter()])
    return seen


def tasks(n: int) -> list[probing.Task]:
    return probing.tasks_for(SCENARIO, ["base"], n, run_seed=3)[:n]


async def probe(backend: OpenAIBackend, ledger: Ledger, todo: list[probing.Task]) -> list:
    try:
        return [await probing.ask(backend, SCENARIO, [], t, MODEL, 1.0, ledger) for t in todo]
    finally:
        await backend.aclose()


def test_probes_are_neither_priced_nor_logged_by_litellm_but_by_the_harness(litellm_spy):
    with Simulator() as sim:
        ledger = Ledger(1e9, PRICES, paid=lambda: True)  # priced as if real (the simulator is free)
        records = asyncio.run(probe(OpenAIBackend(api_key=KEY, api_base=sim.url), ledger, tasks(6)))

        assert [r.status for r in records] == ["ok"] * 6
        assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in records)
        expected = sum(PRICES.inference(r.prompt_tokens, r.completion_tokens, MODEL) for r in records)
        assert ledger.spent == pytest.approx(expected) and ledger.spent > 0
        assert litellm_spy == {"priced": 0, "logged": 0}

        # The same call made with litellm directly, outside the backend, is priced and logged
        # by litellm as before (and these counters do count).
        litellm = _litellm()

        async def direct():
            answer = await litellm.acompletion(
                model=MODEL,
                messages=[{"role": "user", "content": "hello"}],
                custom_llm_provider="openai",
                api_base=sim.url,
                api_key=KEY,
                max_retries=0,
            )
            for _ in range(100):  # litellm logs success in the background
                if litellm_spy["logged"]:
                    break
                await asyncio.sleep(0.02)
            await litellm.close_litellm_async_clients()
            return answer

        asyncio.run(direct())
        assert litellm_spy["priced"] >= 1 and litellm_spy["logged"] >= 1


def test_the_setting_is_per_call_and_does_not_leak(litellm_spy):
    """Inside priced_by_harness only: a call running beside it in another task is priced."""
    litellm = _litellm()
    with priced_by_harness():
        assert (
            litellm.response_cost_calculator(
                response_object=None,
                model=MODEL,
                custom_llm_provider="openai",
                call_type="acompletion",
                optional_params={},
            )
            is None
        )
    assert litellm_spy["priced"] == 0
    litellm.response_cost_calculator(
        response_object=None, model=MODEL, custom_llm_provider="openai", call_type="acompletion", optional_params={}
    )
    assert litellm_spy["priced"] == 1


def test_the_spend_cap_still_stops_probes_through_litellm(litellm_spy):
    with Simulator() as sim:
        one = Ledger(1e9, PRICES, paid=lambda: True)
        request_cost = one.estimate(
            ChatRequest(
                model=MODEL,
                messages=probing.messages_for(SCENARIO, [], "base", SCENARIO.probes[0].prompts[0]),
                max_tokens=SCENARIO.eval.max_tokens,
            )
        )
        ledger = Ledger(1.5 * request_cost, PRICES, paid=lambda: True)
        records = asyncio.run(probe(OpenAIBackend(api_key=KEY, api_base=sim.url), ledger, tasks(10)))

    asked = [r for r in records if r is not None]
    assert 1 <= len(asked) < 10 and records[-1] is None  # the cap refused the rest: a resume asks them
    assert ledger.refused and "--max-cost" in ledger.refused
    assert 0 < ledger.spent <= ledger.cap
    assert litellm_spy["priced"] == 0
