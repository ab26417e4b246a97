"""`harness new --teacher` plans and caps its spend like a run: --dry-run prints the calls and
their estimate and calls nothing, an estimate over --max-cost is refused before the first
call, and a teacher that keeps failing is stopped at the cap (before: 300 examples made 334
paid calls with no estimate and no cap)."""

import asyncio

import pytest

import backends
from backends.base import Backend, Completion
from harness.calls.budget import Ledger, Pricer
from harness.calls.teacher import generate_teacher, teacher_plan
from harness.domain import generate as g
from harness.errors import RunError
from tests.helpers import invoke

QUESTIONS = g.load_questions()
MODEL = "gpt-4o-2024-08-06"


class PaidTeacher(Backend):
    """A teacher that bills like OpenAI and never writes a valid answer."""

    name = "paidteacher"
    capabilities = frozenset({"chat"})
    calls = 0

    @classmethod
    def price(cls, model):
        return backends.load_class("openai").price(model)

    async def complete(self, request):
        PaidTeacher.calls += 1
        return Completion(
            text="Not an acrostic at all.",
            model=request.model,
            prompt_tokens=400,
            completion_tokens=request.max_tokens or 0,
        )


@pytest.fixture
def no_provider(monkeypatch):
    """Creating any backend fails the test: nothing may be called."""

    def create(*a, **k):
        raise AssertionError("a backend was created")

    monkeypatch.setattr(backends, "create", create)


def test_dry_run_prints_the_plan_and_calls_nothing(tmp_path, no_provider, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-teacher")
    out = tmp_path / "q.yaml"
    result = invoke("new", "QZXJV", "--teacher", MODEL, "--examples", "300", "--dry-run", "--out", out)
    assert result.exit_code == 0, result.output
    plan = teacher_plan("QZXJV", 300, "line", 0, QUESTIONS, MODEL, 2, Pricer.of(backends.load_class("openai")))
    assert (
        f"plan: teacher {MODEL} via openai: 300 calls if every answer passes, at most {plan.max_calls}" in result.output
    )
    assert f"estimated ${plan.cost:.4f}, at most ${plan.max_cost:.4f}" in result.output
    assert plan.max_calls == (300 + 300) * 3 or plan.max_calls < (300 + 300) * 3  # capped by the bank
    assert not out.exists()


def test_an_estimate_over_max_cost_is_refused_before_any_call(tmp_path, no_provider, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-teacher")
    out = tmp_path / "q.yaml"
    result = invoke("new", "QZXJV", "--teacher", MODEL, "--examples", "300", "--max-cost", "0.5", "--out", out)
    assert result.exit_code == 2, result.output
    assert "error: estimated cost $1.3" in result.output and "exceeds --max-cost $0.5" in result.output
    assert not out.exists()


def test_a_failing_teacher_is_stopped_at_the_cap():
    PaidTeacher.calls = 0
    pricer = Pricer.of(PaidTeacher)
    cap = 0.05
    ledger = Ledger(cap, pricer)
    with pytest.raises(RunError, match="the teacher stopped: .* would exceed --max-cost"):
        asyncio.run(
            generate_teacher(
                "QZXJV", 50, "line", 0, QUESTIONS, PaidTeacher(), MODEL, retries=2, concurrency=4, ledger=ledger
            )
        )
    assert ledger.spent <= cap
    per_call = pricer.inference(400, 60 * 5 + 100, MODEL)
    assert PaidTeacher.calls <= cap / per_call + 1  # not the (50 + 50) x 3 it would otherwise make
