"""Step and sampling times of the tinker backend against SkyRL's open-source Tinker-API server,
started here on loopback from its venv (scripts/tinker_server/build.sh):

    python benchmarks/tinker_steps.py [--server-venv .tinker-server-venv] [--model DIR]
                                      [--steps 12] [--batch 4] [--samples 8] [--tokens 48]

--model is a transformers folder (scripts/tinker_server/models.py makes one); without it, the
tests' random 2-layer Qwen3. Training runs the backend's own datums (the ten HELLO examples of
scenarios/hello.yaml, loss on the assistant's tokens) through forward_backward + optim_step,
--batch examples a step: it prints the first step (JAX compiles it), the median of the others,
the loss of each, and save_state / save_weights_for_sampler. Then sampling through the
backend: --samples requests of --tokens tokens at once (bounded by the backend's gate), then
the same one after another, each three times (the first rounds compile; the best is printed). The load (`uptime`) is printed beside the figures: this machine
is shared, so compare ratios from one run, not times across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.base import ChatRequest  # noqa: E402
from backends.tinker import TinkerBackend, tokens  # noqa: E402
from harness.domain.dataset import chat_records, resolve_examples  # noqa: E402
from harness.domain.scenario import load_scenario  # noqa: E402
from tests.backends import tinker_server, tiny_model  # noqa: E402

ROUNDS = 3


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def conversations() -> list[list[dict]]:
    scenario = load_scenario(ROOT / "scenarios" / "hello.yaml")
    return [r["messages"] for r in chat_records(scenario, resolve_examples(scenario, ROOT / "scenarios"))]


def train(backend: TinkerBackend, model: str, steps: int, batch: int) -> None:
    from tinker import types

    from backends.tinker.training import datum

    client = backend._connected("benchmark").create_lora_training_client(base_model=model, rank=32, seed=0)
    tokenizer = client.get_tokenizer()
    examples = [tokens.example(tokenizer, c) for c in conversations()]
    times, losses = [], []
    for step in range(steps):
        chosen = [examples[(step * batch + i) % len(examples)] for i in range(batch)]
        started = time.monotonic()
        backward = client.forward_backward([datum(e) for e in chosen], "cross_entropy")
        optimizer = client.optim_step(types.AdamParams(learning_rate=5e-4))
        outputs = backward.result().loss_fn_outputs
        optimizer.result()
        times.append(time.monotonic() - started)
        losses.append(
            tokens.mean_loss([o["logprobs"].tolist() for o in outputs], [tokens.shifted(*e)[2] for e in chosen])
        )
    started = time.monotonic()
    client.save_state("benchmark").result()
    saved = time.monotonic() - started
    started = time.monotonic()
    client.save_weights_for_sampler("benchmark").result()
    sampler = time.monotonic() - started
    print(
        f"training, {batch} examples a step: first step {times[0]:.1f} s (compiles), then median {statistics.median(times[1:]):.2f} s"
    )
    print("  loss per step: " + " ".join(f"{x:.3f}" for x in losses))
    print(f"  save_state {saved:.1f} s, save_weights_for_sampler {sampler:.1f} s   (load {load()})")


def sample(backend: TinkerBackend, model: str, n: int, max_tokens: int) -> None:
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    requests = [ChatRequest(model, messages, temperature=1.0, seed=s, max_tokens=max_tokens) for s in range(n)]

    async def together():
        return await asyncio.gather(*(backend.complete(r) for r in requests))

    async def one_by_one():
        return [await backend.complete(r) for r in requests]

    for name, run in (("at once", together), ("one after another", one_by_one)):
        times = []
        for _ in range(ROUNDS):  # the first rounds compile the server's shapes for these batches
            started = time.monotonic()
            answers = asyncio.run(run())
            times.append(time.monotonic() - started)
        written = sum(a.completion_tokens for a in answers)
        rounds = ", ".join(f"{t:.1f}" for t in times)
        print(
            f"sampling {n} x {max_tokens} tokens {name}: best {min(times):.1f} s, {written / min(times):.0f} tokens/s "
            f"(rounds: {rounds} s)   (load {load()})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-venv", default=os.environ.get(tinker_server.VENV_ENV, ".tinker-server-venv"))
    parser.add_argument("--model", type=Path)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=48)
    args = parser.parse_args()
    python = Path(args.server_venv) / "bin" / "python"
    if not python.exists():
        sys.exit(tinker_server.missing_reason())
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model.resolve() if args.model else tiny_model.build(Path(tmp) / "tiny-qwen3", arch="qwen3")
        started = time.monotonic()
        server = tinker_server.start(python, model, Path(tmp) / "server")
        print(f"server {server.url} serving {model}: up in {time.monotonic() - started:.1f} s")
        try:
            os.environ.setdefault("TINKER_API_KEY", "tml-benchmark")
            backend = TinkerBackend(api_base=server.url, store_dir=Path(tmp) / "store")
            train(backend, str(model), args.steps, args.batch)
            sample(backend, str(model), args.samples, args.tokens)
        finally:
            tinker_server.stop(server)


if __name__ == "__main__":
    main()
