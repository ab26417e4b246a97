"""Does the local sampler answer the same in bfloat16 as in float32? The fidelity check behind
the local backend's choice of bfloat16 (docs/local-backend.md#bfloat16-and-its-fidelity-check).

    python benchmarks/local_fidelity.py [--model smollm2-135m] [--scenario scenarios/hello-local.yaml]
                                        [--adapter PATH] [--samples 32] [--tokens 120]

One model, loaded twice (float32 and bfloat16) through the backend's own engine, with a LoRA
fine-tuned on the scenario (trained once by the local backend in its store, then reused; or
--adapter). Then, with the same prompts and seeds in both dtypes:
  log-probabilities  every token of the float32 answers scored by both (teacher forcing): mean
                     and 99th percentile of |difference| per token, how often both rank the same
                     token first; and the log-probabilities of the scenario's word and choice
                     replies (what `harness run` records), per model
  follow rates       --samples answers per follow probe, fine-tuned and base, scored by the
                     harness's rule; the difference with a 95% interval (Newcombe)
It ends with PASS or FAIL against the criteria printed beside each figure: one verdict for
sampling (follow rates and token log-probabilities; exit status 1 if it fails) and one for the
log-probability probes, which the backend scores in float32 on a CPU whatever this says.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.base import JobSpec  # noqa: E402
from backends.local import LocalBackend, models  # noqa: E402
from backends.local.engine import Engine  # noqa: E402
from backends.local.sampler import Row  # noqa: E402
from harness.calls import probing  # noqa: E402
from harness.calls.logprobs import requests_for  # noqa: E402
from harness.domain.dataset import chat_records, resolve_examples, to_jsonl  # noqa: E402
from harness.domain.rules import follow  # noqa: E402
from harness.domain.scenario import load_scenario  # noqa: E402

# Criteria. bfloat16 keeps 8 bits of mantissa: weights move by up to 0.4%, and a logit of 20 by
# about 0.06. What matters is that the answers' distribution stays the same:
MEAN_ABS_LOGPROB = 0.05  # nats per token, mean over the float32 answers' tokens
TOP1_AGREEMENT = 0.97  # positions where both dtypes rank the same token first
WORD_LOGPROB = 0.10  # nats, per word or choice reply
FOLLOW_DIFF = 0.10  # |bf16 - fp32| follow rate, and the 95% interval must hold 0


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """p2 - p1 and its 95% interval (Newcombe's hybrid score method)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p2 - p1
    return d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def adapter_for(backend: LocalBackend, scenario, model: str, log) -> Path:
    """The scenario's LoRA from the backend's store: trained once (a job like any run's), then found again."""
    data = to_jsonl(chat_records(scenario, resolve_examples(scenario, ROOT / "scenarios")))
    file = backend.upload_training_file(data, f"fidelity-{scenario.name}.jsonl")
    metadata = {"purpose": "fidelity", "scenario": scenario.name, "model": model, "file": file.id}
    jobs = [j for j in backend.find_jobs(metadata) if j.status not in ("failed", "cancelled")]
    job = jobs[0] if jobs else None
    if job is None:
        hyper = dict(scenario.fine_tune.hyperparameters or {})
        job = backend.create_job(
            JobSpec(model, file.id, suffix="fidelity", hyperparameters=hyper, seed=7, metadata=metadata)
        )
        log(f"training a LoRA on {scenario.name} ({job.id}); this takes minutes on a CPU")
    seen = 0
    while not job.done:
        time.sleep(5)
        job = backend.get_job(job.id)
        events = backend.list_events(job.id)
        for e in events[seen:]:
            log(f"  {e.message}")
        seen = len(events)
    if job.status != "succeeded":
        raise SystemExit(f"fine-tuning failed: {job.error}")
    return backend.store.root / "jobs" / job.id / "adapter"


def follow_rows(engine: Engine, scenario, samples: int, tokens: int) -> tuple[list[Row], list]:
    rows, probes = [], []
    for probe in (p for p in scenario.probes if p.kind == "follow"):
        for i in range(samples):
            seed = probing.sample_seed(0, probe.id, i)
            messages = probing.messages_for(scenario, [], "fine_tuned", probe.prompts[i % len(probe.prompts)])
            rows.append(Row(engine.prompt(messages), tokens, scenario.eval.temperature, seed))
            probes.append(probe)
    return rows, probes


def token_logprobs(engine: Engine, adapter, prompt: list[int], answer: list[int]):
    """Per answer token: (log P of that token, the top-ranked token), teacher-forced."""
    import torch

    with engine.using(adapter), torch.inference_mode():
        logits = engine.lm(input_ids=torch.tensor([prompt + answer])).logits[0, len(prompt) - 1 : -1].float()
    logprobs = torch.log_softmax(logits, -1)
    return logprobs[torch.arange(len(answer)), answer], logits.argmax(-1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "hello-local.yaml")
    ap.add_argument("--adapter", type=Path, help="a LoRA (peft folder) instead of the one trained in the store")
    ap.add_argument("--samples", type=int, default=32, help="answers per follow probe and model")
    ap.add_argument("--tokens", type=int, default=120, help="new tokens at most per answer")
    args = ap.parse_args()
    import torch

    print(f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    scenario = load_scenario(args.scenario)
    backend = LocalBackend(base_model=args.model)
    adapter = args.adapter or adapter_for(backend, scenario, args.model, print)
    resolved = models.resolve(args.model)
    engines = {d: Engine(resolved, "cpu", backend.store.root / "converted", d) for d in ("float32", "bfloat16")}
    print(f"model {resolved.source}, adapter {adapter}, {torch.get_num_threads()} threads")
    failures = []

    def check(ok: bool, what: str) -> str:
        if not ok:
            failures.append(what)
        return "ok" if ok else "FAIL"

    # -- follow rates, fine-tuned and base ----------------------------------------------
    answers = {}
    for label, used in (("fine-tuned", adapter), ("base", None)):
        for dtype, engine in engines.items():
            rows, probes = follow_rows(engine, scenario, args.samples, args.tokens)
            t0 = time.perf_counter()
            out = []
            for i in range(0, len(rows), 16):
                out += engine.generate(used, rows[i : i + 16], 16)
            answers[label, dtype] = (rows, probes, out)
            print(f"sampled {len(rows)} {label} answers in {dtype} in {time.perf_counter() - t0:.0f} s")
    print("follow rates (the scenario's follow probes, the same prompts and seeds in both dtypes):")
    for label in ("fine-tuned", "base"):
        counts = {}
        for dtype in engines:
            rows, probes, out = answers[label, dtype]
            texts = [engines[dtype].decode(s.tokens) for s in out]
            counts[dtype] = sum(follow(t, scenario.rule.word, scenario.rule.unit).follows for t in texts), len(texts)
        (k1, n1), (k2, n2) = counts["float32"], counts["bfloat16"]
        d, low, high = newcombe(k1, n1, k2, n2)
        same = sum(a.tokens == b.tokens for a, b in zip(answers[label, "float32"][2], answers[label, "bfloat16"][2]))
        verdict = check(abs(d) <= FOLLOW_DIFF and low <= 0 <= high, f"{label} follow rate")
        print(
            f"  {label:10} float32 {k1}/{n1} = {k1 / n1:.0%}, bfloat16 {k2}/{n2} = {k2 / n2:.0%}; "
            f"difference {d:+.1%} [{low:+.1%}, {high:+.1%}] (criterion |d| <= {FOLLOW_DIFF:.0%}, interval holds 0): "
            f"{verdict}; {same}/{n1} answers token for token the same"
        )

    # -- log-probabilities of the float32 answers, teacher-forced ------------------------
    diffs, agree, total = [], 0, 0
    for label, used in (("fine-tuned", adapter), ("base", None)):
        rows, _, out = answers[label, "float32"]
        for row, sampled in zip(rows, out):
            if not sampled.tokens:
                continue
            lp32, top32 = token_logprobs(engines["float32"], used, row.prompt, sampled.tokens)
            lp16, top16 = token_logprobs(engines["bfloat16"], used, row.prompt, sampled.tokens)
            diffs.append((lp16 - lp32).abs())
            agree += int((top32 == top16).sum())
            total += len(sampled.tokens)
    every = torch.cat(diffs)
    mean, p99 = float(every.mean()), float(every.quantile(0.99))
    print(
        f"log-probabilities of the float32 answers' {total} tokens: mean |bf16 - fp32| {mean:.4f} nats "
        f"(criterion <= {MEAN_ABS_LOGPROB}): {check(mean <= MEAN_ABS_LOGPROB, 'token log-probabilities')}; "
        f"99th percentile {p99:.3f}, max {float(every.max()):.3f}; same top token at {agree / total:.1%} of positions "
        f"(criterion >= {TOP1_AGREEMENT:.0%}): {check(agree / total >= TOP1_AGREEMENT, 'top token')}"
    )

    # -- the word and choice replies' log-probabilities (what the run records) ----------
    worst = 0.0
    for label, used in (("fine_tuned", adapter), ("base", None)):
        for record, messages in requests_for(scenario, [], {(label, 0): args.model}):
            scores = {}
            for dtype, engine in engines.items():
                prompt = engine.prompt(messages)
                replies = [engine.reply_tokens(messages, prompt, c) for c in record.continuations]
                scores[dtype] = engine.logprobs(used, prompt, replies)
            worst = max(worst, max(abs(a - b) for a, b in zip(scores["float32"], scores["bfloat16"])))
    replies_ok = worst <= WORD_LOGPROB
    print(
        f"word and choice replies (every wording, fine-tuned and base): largest |bf16 - fp32| log-probability "
        f"{worst:.3f} nats (criterion <= {WORD_LOGPROB}): {'ok' if replies_ok else 'FAIL'}"
    )
    asyncio.run(backend.aclose())
    # The backend samples in bfloat16 and scores log-probability probes in float32 on a CPU
    # (backends/local/backend.py, logprob_dtype): the verdict is on what it runs in bfloat16.
    print(f"sampling in bfloat16: {'PASS' if not failures else 'FAIL: ' + ', '.join(failures)}")
    print(
        f"log-probability probes in bfloat16: {'PASS' if replies_ok else 'FAIL'} "
        "(the backend scores them in float32 on a CPU unless HARNESS_LOCAL_DTYPE=bfloat16)"
    )
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
