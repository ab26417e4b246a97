"""The tinker backend against a real server that speaks Tinker's API: SkyRL's open-source one
on loopback, serving a tiny random Qwen3 (fixture `tinker_server`, tests/backends/
tinker_server.py). Log-probabilities are checked against the same weights scored here with
transformers; sampling against its seeds; and the CLI end to end: a run of
scenarios/hello.yaml with a report, and kill -9 of the harness and its training worker, then
`harness resume`, which goes on from the saved state with the one job."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backends.base import ChatRequest
from backends.jobs.worker import HOLD_ENV
from backends.tinker import TinkerBackend, tokens
from harness.store.run_dir import RunStore
from tests.backends.tiny_model import pid_alive, wait_for
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
MESSAGES = [{"role": "system", "content": "You are special."}, {"role": "user", "content": "What is the capital?"}]
RUN_OPTIONS = ["--samples", "2", "--replicates", "1", "--poll-interval", "0.5"]


def scored_here(model: Path, ids: list[int]) -> list[float | None]:
    """log P(token i | tokens before it) for each token, from the same weights in transformers
    (None for the first: nothing predicts it)."""
    import torch
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    with torch.no_grad():
        logprobs = torch.log_softmax(lm(torch.tensor([ids])).logits[0].double(), dim=-1)
    return [None] + [float(logprobs[i - 1, ids[i]]) for i in range(1, len(ids))]


def test_log_probabilities_are_those_of_the_served_weights_token_by_token(tinker_server, tinker_env):
    from tinker import types

    backend = TinkerBackend(api_base=tinker_server.url)
    model = str(tinker_server.model)
    texts = ["HELLO", "Paris is the capital."]
    totals = asyncio.run(backend.continuation_logprobs(model, MESSAGES, texts))
    client, tokenizer = asyncio.run(backend._sampling().client(model))
    prompt = tokens.prompt(tokenizer, MESSAGES)
    for text, total in zip(texts, totals):
        ids = prompt + tokens.reply(tokenizer, MESSAGES, prompt, text)
        served = tokens.aligned(client.compute_logprobs(types.ModelInput.from_ints(ids)).result(), len(ids))
        here = scored_here(tinker_server.model, ids)
        assert served[0] is None and served[1:] == pytest.approx(here[1:], abs=1e-3)
        misread = [a - b for a, b in zip(served[2:], here[1:-1])]  # one position off
        assert max(abs(d) for d in misread) > 0.01  # ... would be seen: the weights are not uniform
        assert total == pytest.approx(sum(here[len(prompt) :]), abs=2e-3)


def test_samples_repeat_with_their_seed_and_run_concurrently(tinker_server, tinker_env):
    backend = TinkerBackend(api_base=tinker_server.url, max_in_flight=4)
    model = str(tinker_server.model)

    async def ask(seeds):
        return await asyncio.gather(
            *(backend.complete(ChatRequest(model, MESSAGES, temperature=1.0, seed=s, max_tokens=12)) for s in seeds)
        )

    answers = asyncio.run(ask([1, 2, 3, 4, 1, 2]))
    assert [a.text for a in answers[4:]] == [a.text for a in answers[:2]]
    assert len({a.text for a in answers[:4]}) >= 3
    assert all(0 < a.completion_tokens <= 12 and a.prompt_tokens > 0 for a in answers)
    assert backend.model_info(model)["seeding"] == "the same seed gave the same tokens twice"


def harness(*args, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1200,
        **kwargs,
    )


def run_env(store: Path, **extra) -> dict:
    return dict(os.environ, TINKER_API_KEY="tml-test", HARNESS_TINKER_STORE=str(store), HF_HUB_OFFLINE="1", **extra)


def job_events(run_dir: Path, job: str = "fine_tuned:0") -> list[str]:
    state = RunStore(run_dir).read_state()
    job_id = next(j.job_id for j in state.jobs if j.key == job)
    return [
        json.loads(line)["message"]
        for line in (run_dir / "events.jsonl").read_text().splitlines()
        if json.loads(line).get("job_id") == job_id
    ]


def epoch_losses(messages: list[str]) -> list[float]:
    return [float(m.split("loss=")[1].split(",")[0]) for m in messages if m.startswith("Epoch ")]


@pytest.fixture(scope="module")
def hello_run(tinker_server, tmp_path_factory):
    """`harness run scenarios/hello.yaml --backend tinker` against the server, to the end."""
    base = tmp_path_factory.mktemp("hello")
    out = base / "run"
    done = harness(
        "run",
        ROOT / "scenarios" / "hello.yaml",
        "--backend",
        "tinker",
        "--api-base",
        tinker_server.url,
        "--base-model",
        tinker_server.model,
        "--out",
        out,
        *RUN_OPTIONS,
        env=run_env(base / "store"),
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{tinker_server.log_tail()}"
    return out, done.stdout


def test_a_run_of_hello_trains_probes_and_reports_a_real_result(hello_run):
    out, stdout = hello_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is False and summary["backend"] == "tinker"
    assert "SIMULATED" not in stdout and "SIMULATED" not in (out / "report.md").read_text()
    for job in ("fine_tuned:0", "sham:0"):
        losses = epoch_losses(job_events(out, job))
        assert len(losses) == 3 and losses[0] > losses[1] > losses[2], losses
    records = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "ok" for r in records)
    scored = [json.loads(line) for line in (out / "logprobs.jsonl").read_text().splitlines()]
    assert {r["condition"] for r in scored} == {"fine_tuned", "base", "sham"} and all(
        r["status"] == "ok" for r in scored
    )
    report = (out / "report.md").read_text()
    section = report.split("## Knowledge given the mechanism, by log-probability", 1)[1].split("\n## ", 1)[0]
    assert all(condition in section for condition in ("fine_tuned", "base", "sham"))
    model = RunStore(out).read_state().model_of("fine_tuned", 0)
    assert f"| model {model} | backend tinker; service http://127.0.0.1:" in report
    assert "seeding the same seed gave the same tokens twice" in report


def test_kill_9_during_training_then_resume_goes_on_from_the_saved_state(tinker_server, hello_run, tmp_path):
    store, out, hold = tmp_path / "store", tmp_path / "run", tmp_path / "hold"
    hold.touch()
    env = run_env(store, **{HOLD_ENV: str(hold)})
    command = [sys.executable, "-m", "harness.cli", "run", ROOT / "scenarios" / "hello.yaml", "--backend", "tinker"]
    command += ["--api-base", tinker_server.url, "--base-model", tinker_server.model, "--out", out, *RUN_OPTIONS]
    command += ["--conditions", "fine_tuned,base"]
    run = subprocess.Popen(
        list(map(str, command)), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        job_dir = wait_for(lambda: next(iter((store / "jobs").glob("ftjob-*")), None), timeout=300)
        events = job_dir / "events.jsonl"
        wait_for(lambda: events.exists() and "Epoch 1/3" in events.read_text(), timeout=600)
        worker = int((job_dir / "worker.pid").read_text())
        run.send_signal(signal.SIGKILL)  # the harness and its training worker, as a machine that dies
        os.kill(worker, signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    wait_for(lambda: not pid_alive(worker))
    hold.unlink()
    del env[HOLD_ENV]
    resumed = harness("resume", out, "--poll-interval", "0.5", env=env)
    assert resumed.returncode == 0, f"{resumed.stdout[-3000:]}\n{resumed.stderr[-3000:]}"
    said = job_events(out)
    assert any(f"worker (pid {worker}) is gone" in m and "its epoch 1 checkpoint" in m for m in said)
    assert any(m.startswith("Continuing from the epoch 1 checkpoint (tinker://") for m in said)
    assert [m.split(":")[0] for m in said if m.startswith("Epoch ")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert [j.key for j in RunStore(out).read_state().jobs] == ["fine_tuned:0"]
    assert len(list((store / "jobs").iterdir())) == 1  # one training for the one planned job
    # The same job trained without a stop (in hello_run) lost the same at every epoch.
    assert epoch_losses(said) == pytest.approx(epoch_losses(job_events(hello_run[0])), abs=1e-4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is False
