"""What a probe costs the harness, and probe throughput against a rate-limited, slow provider
(the simulator on loopback).

    python benchmarks/probe_throughput.py [--cpu-samples 1000] [--rounds 2] [--samples 1000]
                                          [--latency 0.2] [--limit-rpm 600] [--concurrency 8]
                                          [--baseline-samples 100] [--only cpu|limit]

First, CPU per request (process CPU time, not wall time) and requests per second at
concurrency 16 and 64 against a simulator in its own process with 200 ms latency and no rate
limit, side by side in one run (rounds interleaved, each keeps its best):
  prober      OpenAIBackend.complete through run_bounded, as `harness run` calls it
  prober as before  the same with litellm's own pricing and success logging left on (as
              before backends/openai_lean.py), to show what switching them off saves
  probe step  the whole of a probe as the pipeline does it: the request built, reserved against
              a paid ledger (prompt counted), asked, checked at the boundary (completion counted),
              recorded and appended to responses.jsonl (group commit)
  raw         the openai SDK's AsyncOpenAI with an asyncio.Semaphore, the same requests
with the ratios the issue asks for (prober CPU <= 1.3x raw at 16, req/s >= 0.9 of raw's at 64).

Then the rate-limited run: N probe samples through the openai backend with the harness's own concurrent prober
(bounded concurrency plus the client-side --rpm limiter, the code `harness run` uses), then
a plain sequential loop as the baseline, and prints achieved requests per second, the bound
min(R, concurrency / L), their ratio, 429s and wall time. Also prints how long
`harness --help` takes and how long a replayed cassette takes per interaction.
Everything stays on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402,F401  (offline settings for litellm and tiktoken)
from backends.base import ChatRequest  # noqa: E402
from backends.openai import OpenAIBackend, _litellm  # noqa: E402
from backends.simulator.faults import Faults  # noqa: E402
from backends.simulator.server import Simulator  # noqa: E402
from harness.calls import probing  # noqa: E402
from harness.calls.concurrency import run_bounded  # noqa: E402
from harness.domain.scenario import load_scenario  # noqa: E402

KEY = "sk-benchmark"
CPU_CONCURRENCY = (16, 64)


def requests_for(n: int) -> list[ChatRequest]:
    scenario = load_scenario(ROOT / "scenarios" / "helol.yaml")
    tasks = probing.tasks_for(scenario, ["base"], -(-n // len(scenario.probes)), run_seed=0)[:n]
    return [
        ChatRequest(
            model=scenario.fine_tune.base_model,
            temperature=1.0,
            seed=t.seed,
            max_tokens=200,
            messages=probing.messages_for(
                scenario, [], "base", probing.user_prompt(t.probe, probing.shuffled_options(t.probe, t.seed))
            ),
        )
        for t in tasks
    ]


async def concurrent(backend: OpenAIBackend, reqs: list[ChatRequest], concurrency: int, rpm: float) -> int:
    failed = 0

    async def ask(task: int) -> None:
        nonlocal failed
        try:
            await backend.complete(reqs[task])
        except Exception:  # counted and reported: a benchmark must not stop at one failure
            failed += 1

    await run_bounded(list(range(len(reqs))), ask, concurrency=concurrency, rpm=rpm)
    await backend.aclose()
    return failed


async def sequential(backend: OpenAIBackend, reqs: list[ChatRequest]) -> None:
    for r in reqs:
        await backend.complete(r)
    await backend.aclose()


def measure(faults: Faults, run) -> tuple[float, dict]:
    _litellm()  # import outside the timed part: it takes seconds and happens once per process
    with Simulator(port=0, faults=faults) as sim:
        backend = OpenAIBackend(api_key=KEY, api_base=sim.url)
        t0 = time.perf_counter()
        result = asyncio.run(run(backend))
        wall = time.perf_counter() - t0
        stats = sim.stats()
    stats["retries"] = backend.retries
    stats["result"] = result
    return wall, stats


# --- CPU per request: prober, probe step and raw SDK against a simulator process -------------


class SimulatorProcess:
    """`harness simulate` in a process of its own, so that its CPU is not counted as ours."""

    def __init__(self, latency: float):
        self.latency = latency

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "simulate", "--port", "0", "--latency", str(self.latency)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if found:
                # keep reading what it prints, so that a full pipe never stalls it
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return f"http://127.0.0.1:{found.group(1)}/v1"
        raise SystemExit("the simulator did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def prober(url: str, reqs: list[ChatRequest], concurrency: int) -> None:
    backend = OpenAIBackend(api_key=KEY, api_base=url)

    async def ask(r: ChatRequest) -> None:
        await backend.complete(r)

    try:
        await run_bounded(reqs, ask, concurrency=concurrency)
    finally:
        await backend.aclose()


async def prober_as_before(url: str, reqs: list[ChatRequest], concurrency: int) -> None:
    """The prober with litellm's own pricing and success logging left on, as before
    backends/openai_lean.py: the same code with its switch replaced by a no-op."""
    from backends import openai_lean

    switch = openai_lean.priced_by_harness
    openai_lean.priced_by_harness = contextlib.nullcontext  # type: ignore[assignment]
    try:
        await prober(url, reqs, concurrency)
    finally:
        openai_lean.priced_by_harness = switch


async def probe_step(url: str, tasks: list, concurrency: int, out: Path) -> None:
    """What Pipeline.probe does per sample, with the ledger of a paid run (the simulator is free,
    but a real run counts tokens for its budget)."""
    from harness.calls.budget import Ledger, Pricer
    from harness.store.run_dir import RESPONSES, RunStore

    scenario = load_scenario(ROOT / "scenarios" / "helol.yaml")
    backend = OpenAIBackend(api_key=KEY, api_base=url)
    ledger = Ledger(1e9, Pricer(lambda model: OpenAIBackend.price("gpt-4o-mini-2024-07-18")), paid=lambda: True)
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(out)

    async def ask(task) -> None:
        model = scenario.fine_tune.base_model
        record = await probing.ask(backend, scenario, [], task, model, 1.0, ledger)
        if record is not None:
            store.append(RESPONSES, record)

    try:
        await run_bounded(tasks, ask, concurrency=concurrency)
    finally:
        store.close_records()
        await backend.aclose()


async def raw(url: str, reqs: list[ChatRequest], concurrency: int) -> None:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(r: ChatRequest) -> None:
        async with gate:
            answer = await client.chat.completions.create(
                model=r.model,
                messages=r.messages,  # type: ignore[arg-type]
                temperature=r.temperature,
                seed=r.seed,
                max_tokens=r.max_tokens,
            )
            answer.choices[0].message.content  # noqa: B018  (read as the prober reads it)

    try:
        await asyncio.gather(*[one(r) for r in reqs])
    finally:
        await client.close()


def cpu_and_rate(work) -> tuple[float, float]:
    """(CPU ms, wall seconds) of running `work()` to the end in a fresh event loop."""
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(work())
    return 1000 * (time.process_time() - cpu), time.perf_counter() - wall


def cpu_section(n: int, rounds: int, latency: float) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "helol.yaml")
    tasks = probing.tasks_for(scenario, ["base"], -(-n // len(scenario.probes)), run_seed=0)[:n]
    reqs = requests_for(n)
    _litellm()  # imported once, outside the timed part
    out = Path(tempfile.mkdtemp())
    print(f"CPU per request: {n} requests per method, simulator process with latency {latency}s, no rate limit")
    with SimulatorProcess(latency) as url:
        warm = reqs[:50]
        cpu_and_rate(lambda: prober(url, warm, 16))
        cpu_and_rate(lambda: raw(url, warm, 16))
        for c in CPU_CONCURRENCY:
            methods = {
                "prober": lambda c=c: prober(url, reqs, c),
                "prober as before": lambda c=c: prober_as_before(url, reqs, c),
                "probe step": lambda c=c: probe_step(url, tasks, c, out / f"{c}-{time.monotonic_ns()}"),
                "raw AsyncOpenAI": lambda c=c: raw(url, reqs, c),
            }
            best: dict[str, tuple[float, float]] = {}
            for _ in range(rounds):
                for name, work in methods.items():
                    cpu_ms, wall = cpu_and_rate(work)
                    was = best.get(name, (float("inf"), 0.0))
                    best[name] = (min(was[0], cpu_ms / n), max(was[1], n / wall))
            raw_cpu, raw_rate = best["raw AsyncOpenAI"]
            print(f"  c={c}: measured at load average {os.getloadavg()[0]:.2f} (1 min)")
            for name, (cpu, rate) in best.items():
                print(
                    f"  c={c:3} {name:16s} CPU {cpu:5.2f} ms/request ({cpu / raw_cpu:4.2f}x raw), "
                    f"{rate:6.1f} req/s ({rate / raw_rate:4.2f} of raw)"
                )
    print("  goals: prober CPU <= 1.3x raw at c=16; prober req/s >= 0.9 of raw's at c=64")


def help_time(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness.cli", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def replay_time(cassette: Path) -> tuple[int, float] | None:
    """Replay a committed cassette through `harness run --replay`, in this process after
    litellm is imported (start-up is not per interaction), and time it per interaction."""
    meta = cassette.with_suffix(".meta.yaml")
    if not cassette.exists() or not meta.exists():
        return None
    import yaml
    from click.testing import CliRunner

    from harness.cli.main import main as cli

    interactions = len(yaml.safe_load(cassette.read_text())["interactions"])
    scenario = yaml.safe_load(meta.read_text())["command"][2]
    out = Path(tempfile.mkdtemp()) / "replay"
    _litellm()
    t0 = time.perf_counter()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(ROOT / scenario),
            "--backend",
            "openai",
            "--replay",
            str(cassette),
            "--out",
            str(out),
            *_recorded_options(meta),
        ],
    )
    elapsed = time.perf_counter() - t0
    if result.exit_code != 0:
        raise SystemExit(f"replay failed: {result.output[-500:]}")
    return interactions, elapsed


def _recorded_options(meta: Path) -> list[str]:
    import yaml

    command = yaml.safe_load(meta.read_text()).get("command", [])
    keep, out = {"--samples", "--seed", "--temperature", "--conditions"}, []
    for flag, value in zip(command, command[1:]):
        if flag in keep:
            out += [flag, value]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--latency", type=float, default=0.2, help="seconds per request at the server (L)")
    p.add_argument("--limit-rpm", type=float, default=600, help="server-side requests per minute (R)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--baseline-samples", type=int, default=100)
    p.add_argument("--cassette", type=Path, default=ROOT / "cassettes" / "openai" / "helol.yaml")
    p.add_argument("--cpu-samples", type=int, default=1000, help="requests per method in the CPU section")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the CPU section")
    p.add_argument("--only", choices=("cpu", "limit"), help="run one section")
    opts = p.parse_args()
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if opts.only != "limit":
        cpu_section(opts.cpu_samples, opts.rounds, opts.latency)
    if opts.only == "cpu":
        return 0

    faults = Faults(latency=opts.latency, rate_limit_rpm=opts.limit_rpm, scope="chat")
    bound = min(opts.limit_rpm / 60, opts.concurrency / opts.latency)
    print(
        f"simulator: latency L={opts.latency}s, limit R={opts.limit_rpm:g}/min; "
        f"concurrency {opts.concurrency}, client --rpm {opts.limit_rpm:g}"
    )

    reqs = requests_for(opts.samples)
    wall, st = measure(faults, lambda b: concurrent(b, reqs, opts.concurrency, opts.limit_rpm))
    rps = opts.samples / wall
    print(
        f"concurrent: {opts.samples} samples in {wall:.1f}s = {rps:.2f} req/s; bound min(R, c/L) = "
        f"{bound:.2f} req/s; ratio {rps / bound:.3f}; 429s {st['responses_429']} "
        f"({st['responses_429'] / max(1, st['chat_requests']):.2%} of {st['chat_requests']} requests); "
        f"failed {st['result']}"
    )

    base_reqs = reqs[: opts.baseline_samples]
    wall_b, st_b = measure(faults, lambda b: sequential(b, base_reqs))
    rps_b = len(base_reqs) / wall_b
    print(
        f"sequential baseline: {len(base_reqs)} samples in {wall_b:.1f}s = {rps_b:.2f} req/s "
        f"(bound 1/L = {1 / opts.latency:.2f}); 429s {st_b['responses_429']}; "
        f"concurrent is {rps / rps_b:.1f}x faster"
    )

    print(f"harness --help: {help_time():.3f}s (median of 5)")
    replay = replay_time(opts.cassette)
    if replay:
        n, secs = replay
        print(
            f"replay {opts.cassette.relative_to(ROOT)}: {n} interactions in {secs:.1f}s "
            f"(run, score and report; litellm already imported) = {1000 * secs / n:.1f} ms per interaction"
        )
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
