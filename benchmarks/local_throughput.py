"""Generation and training throughput of the local backend, on one model in one run, beside the
bound the CPU's matrix products set.

    python benchmarks/local_throughput.py [--model smollm2-135m] [--tokens 32] [--rounds 3]
                                          [--naive-samples 2] [--threads N] [--skip-training]

Generation, every method writing exactly --tokens new tokens per sample at temperature 1 (end of
turn ignored, so the work is equal), on 16 different prompts (the questions of
scenarios/hello.yaml; different prompts share no prefill, the harder case):
  before      the sampler as it was before issue 23 (transformers' cache, left padding), float32,
              batch 16: kept here as the baseline
  naive       one model.generate call per sample (timed on --naive-samples of them: a rate)
  batched     one model.generate call on the whole left-padded batch of 16
  ours        backends.local's engine (what `harness run` uses) in float32 and bfloat16 at batch
              16, and in its own dtype at the batch size it chose for this machine (on as many
              prompts)
Each method runs once per round, rounds interleaved, and keeps its best round (this machine is
shared: the best round is the least disturbed). Beside them, the matrix-product bound: decode-
shaped products (every linear layer of the model at the batch's rows) timed alone, as GFLOPS and
as the tokens/s they would allow with nothing else to do. Then batch dependence (the first 8
samples alone and in the batch, same seeds: identical?) and training tokens/s. `uptime` is
printed first and last: compare figures only within one run.
"""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.local import loading, models, training  # noqa: E402
from backends.local.engine import Engine  # noqa: E402
from backends.local.hyper import resolve as resolve_hyper  # noqa: E402
from backends.local.sampler import Row, Sampled, choose  # noqa: E402
from backends.local.store import default_store  # noqa: E402
from harness.domain.dataset import chat_records, resolve_examples  # noqa: E402
from harness.domain.scenario import load_scenario  # noqa: E402

BASELINE_BATCH = 16


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def prompts(tokenizer, n: int) -> list[list[int]]:
    scenario = load_scenario(ROOT / "scenarios" / "hello.yaml")
    questions = [e.question for e in resolve_examples(scenario, ROOT / "scenarios")] + [
        p.prompt for p in scenario.probes
    ]
    return [
        loading.prompt_ids(
            tokenizer,
            [
                {"role": "system", "content": scenario.system_prompt},
                {"role": "user", "content": questions[i % len(questions)]},
            ],
        )
        for i in range(n)
    ]


def left_pad(batch: list[list[int]], pad: int):
    import torch

    width = max(map(len, batch))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
    return ids, mask


def before(lm, rows: list[Row], pad: int) -> list[Sampled]:
    """The sampling loop the local backend had before issue 23: one left-padded prefill, then
    transformers' cache, one forward pass per token, finished rows dropped from the cache."""
    import torch

    results = [Sampled([], "length") for _ in rows]
    ids, mask = left_pad([r.prompt for r in rows], pad)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    next_pos = positions[:, -1:] + 1
    generators = [torch.Generator().manual_seed(r.seed) for r in rows]
    active = list(range(len(rows)))
    name = "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"  # transformers 5 / 4
    with torch.inference_mode():
        out = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        cache, logits = getattr(out, name), out.logits[:, -1, :]
        while True:
            chosen = choose(logits, [rows[i] for i in active], [generators[i] for i in active])
            keep = []
            for j, i in enumerate(active):
                results[i].tokens.append(chosen[j])
                if len(results[i].tokens) < rows[i].max_new:
                    keep.append(j)
            if not keep:
                return results
            if len(keep) < len(active):
                index = torch.tensor(keep)
                cache.batch_select_indices(index)
                mask, next_pos = mask[index], next_pos[index]
                active = [active[j] for j in keep]
            step = torch.tensor([[chosen[j]] for j in keep])
            mask = torch.cat([mask, torch.ones((len(keep), 1), dtype=mask.dtype)], dim=1)
            out = lm(
                input_ids=step,
                attention_mask=mask,
                position_ids=next_pos,
                use_cache=True,
                logits_to_keep=1,
                **{name: cache},
            )
            cache, logits = getattr(out, name), out.logits[:, -1, :]
            next_pos = next_pos + 1


def generate(lm, batch: list[list[int]], tokens: int, pad: int) -> int:
    import torch

    ids, mask = left_pad(batch, pad)
    with torch.inference_mode():
        out = lm.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            pad_token_id=pad,
        )
    return (out.shape[1] - ids.shape[1]) * len(batch)


def product_bound(lm, rows: int, dtype, repeats: int = 5) -> tuple[float, float]:
    """(GFLOPS, tokens/s) of one decode step's matrix products alone: every linear layer of the
    model (the output layer included) at `rows` rows, in `dtype`, best of `repeats`."""
    import torch

    layers = [m for m in lm.modules() if isinstance(m, torch.nn.Linear)]
    weights = [m.weight.detach().to(dtype) for m in layers]
    inputs = {w.shape[1]: torch.randn(rows, w.shape[1]).to(dtype) for w in weights}
    flops = sum(2 * rows * w.shape[0] * w.shape[1] for w in weights)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            for w in weights:
                torch.nn.functional.linear(inputs[w.shape[1]], w)
            best = min(best, time.perf_counter() - start)
    return flops / best / 1e9, rows / best


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--naive-samples", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each method keeps its best")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load before: {uptime()}")
    resolved = models.resolve(args.model)
    cache = default_store() / "converted"
    (baseline_lm, tokenizer), load_s = timed(lambda: loading.load(resolved, "cpu", cache, "float32"))
    engines = {dtype: Engine(resolved, "cpu", cache, dtype) for dtype in ("float32", "bfloat16")}
    native = loading.inference_dtype("cpu")
    chosen, calibrate_s = timed(lambda: engines[native].max_batch)
    pad = tokenizer.pad_token_id
    print(
        f"model {resolved.source} on cpu, {torch.get_num_threads()} threads, loaded in {load_s:.1f} s; "
        f"the engine's dtype here: {native}; its batch size for this machine: {chosen} "
        f"(measured in {calibrate_s:.1f} s)"
    )
    batch = prompts(tokenizer, max(BASELINE_BATCH, chosen))
    rows = [Row(p, args.tokens, 1.0, seed) for seed, p in enumerate(batch)]
    base_rows = rows[:BASELINE_BATCH]
    k = min(args.naive_samples, BASELINE_BATCH)

    def ours(dtype: str, size: int):
        return lambda: sum(len(s.tokens) for s in engines[dtype].generate(None, rows[:size], size))

    methods = {
        f"before: transformers' cache, float32, batch {BASELINE_BATCH}": lambda: sum(
            len(s.tokens) for s in before(baseline_lm, base_rows, pad)
        ),
        "naive generate, float32, 1 at a time": lambda: sum(
            generate(baseline_lm, [p], args.tokens, pad) for p in batch[:k]
        ),
        f"batched generate, float32, {BASELINE_BATCH}": lambda: generate(
            baseline_lm, batch[:BASELINE_BATCH], args.tokens, pad
        ),
        f"ours, float32, batch {BASELINE_BATCH}": ours("float32", BASELINE_BATCH),
        f"ours, bfloat16, batch {BASELINE_BATCH}": ours("bfloat16", BASELINE_BATCH),
    }
    headline = f"ours, {native}, batch {chosen} (the engine's choice)"
    if chosen != BASELINE_BATCH:
        methods[headline] = ours(native, chosen)
    else:
        headline = f"ours, {native}, batch {BASELINE_BATCH}"
    for dtype in engines:  # warm-up: first calls allocate and check batch sizes
        engines[dtype].generate(None, rows[:2], max(chosen, BASELINE_BATCH))
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, run in methods.items():
            tokens, seconds = timed(run)
            best[name] = max(best.get(name, 0.0), tokens / seconds)
    print(
        f"generation, {args.tokens} new tokens per sample at temperature 1, best of {args.rounds} rounds"
        f" (naive on {k} samples):"
    )
    for name, rate in best.items():
        print(f"  {name:52} {rate:8.1f} tokens/s")
    baseline = best[f"before: transformers' cache, float32, batch {BASELINE_BATCH}"]
    print(f"  {headline} / before = {best[headline] / baseline:.2f}  (goal >= 2)")
    print("matrix-product bound (one decode step's linear layers alone, best of 5):")
    for label, kind in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        for size in sorted({BASELINE_BATCH, chosen}):
            gflops, bound = product_bound(baseline_lm, size, kind)
            print(f"  {label:9} batch {size:3}: {gflops:6.1f} GFLOPS = {bound:7.1f} tokens/s at most")

    together = engines[native].generate(None, rows[:BASELINE_BATCH], chosen)
    alone = [engines[native].generate(None, [r], chosen)[0] for r in rows[:8]]
    same = sum(a.tokens == b.tokens for a, b in zip(alone, together))
    print(f"batch invariance ({native}): {same} of 8 samples token for token the same alone and in the batch of 16")

    if not args.skip_training:
        scenario = load_scenario(ROOT / "scenarios" / "hello.yaml")
        conversations = [r["messages"] for r in chat_records(scenario, resolve_examples(scenario, ROOT / "scenarios"))]
        hyper = resolve_hyper({"n_epochs": 1}, len(conversations), 0)
        with tempfile.TemporaryDirectory() as job_dir:
            (_, trained), train_s = timed(
                lambda: training.train(
                    baseline_lm, tokenizer, conversations, hyper, Path(job_dir), lambda message, level="info": None
                )
            )
        print(
            f"training: {trained / train_s:.1f} tokens/s (one epoch, {len(conversations)} examples, batch "
            f"{hyper.batch_size}, {trained} tokens, {train_s:.1f} s, LoRA r={hyper.lora_r} on all linear layers, float32)"
        )
    print(f"load after: {uptime()}")


if __name__ == "__main__":
    main()
