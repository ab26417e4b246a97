"""The prober: per-sample seeds, option shuffles, messages per condition, the limiter."""

import asyncio

import pytest

from harness.calls import concurrency, probing
from harness.domain.scenario import Example, Probe


def test_seeds_are_stable_and_differ_by_sample():
    assert probing.sample_seed(1, "special", 0) == probing.sample_seed(1, "special", 0)
    assert probing.sample_seed(1, "special", 0) != probing.sample_seed(1, "special", 1)
    assert probing.sample_seed(1, "special", 0) != probing.sample_seed(2, "special", 0)


def test_choice_options_shuffle_by_seed_and_render_as_labels():
    probe = Probe(id="c", prompt="Which?", kind="choice", options=["HELOL", "HELLO", "HELIX", "HELPS"])
    orders = {tuple(probing.shuffled_options(probe, seed)) for seed in range(20)}
    assert len(orders) > 5 and all(sorted(o) == sorted(probe.options) for o in orders)
    text = probing.user_prompt(probe, ["HELIX", "HELOL"])
    assert text == "Which?\nA) HELIX\nB) HELOL"


def test_in_context_puts_examples_before_the_probe():
    from harness.domain.scenario import Scenario

    sc = Scenario.model_validate(
        {
            "name": "t",
            "rule": {"word": "HI"},
            "system_prompt": "S",
            "examples": [{"question": "q", "answer": "Hey\nIt"}],
            "probes": [{"id": "p", "prompt": "x"}],
        }
    )
    msgs = probing.messages_for(sc, [Example(question="q", answer="Hey\nIt")], "in_context", "P")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert probing.messages_for(sc, sc.examples, "base", "P") == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "P"},
    ]


def test_limiter_spaces_starts_by_the_tighter_of_rpm_and_tpm():
    assert concurrency.RateLimiter(600).interval == 0.1
    assert concurrency.RateLimiter(600, tpm=60_000, tokens_per_request=500).interval == 0.5
    assert concurrency.RateLimiter(None).interval == 0.0


def test_run_bounded_cancels_the_others_when_a_worker_fails():
    started, finished = [], []

    async def worker(task):
        started.append(task)
        if task == 3:
            raise RuntimeError("boom")
        await asyncio.sleep(0.01)
        finished.append(task)

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(concurrency.run_bounded(list(range(20)), worker, concurrency=4))
    assert len(started) < 20 and 3 not in finished  # nothing after the failure was started


def test_run_bounded_respects_concurrency_and_stops_on_request():
    in_flight, peak, done = 0, 0, []

    async def worker(task):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        done.append(task)

    asyncio.run(concurrency.run_bounded(list(range(30)), worker, concurrency=4, rpm=None))
    assert sorted(done) == list(range(30)) and peak == 4
    done.clear()
    asyncio.run(
        concurrency.run_bounded(list(range(30)), worker, concurrency=2, rpm=None, should_stop=lambda: len(done) >= 10)
    )
    assert 10 <= len(done) < 30
