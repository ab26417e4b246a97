"""The tinker trainer of backends.jobs.worker: the training loop runs here, on the user's
machine, and drives the service (forward_backward, then optim_step, per batch; the futures
of both are sent before either is awaited, so the service queues the step while the client
waits).

Every epoch ends with save_state (adapter weights and optimizer state, on the service) and
its `tinker://` path in checkpoint/epoch.json. A worker started again after a kill makes a new
training client and loads that state with its optimizer, then goes on with the next epoch:
the service continues exactly where the dead worker's last checkpoint left it (checked
against an uninterrupted run in the tests). The seed sets the LoRA initialisation (the
client's `seed`) and each epoch's example order (a generator seeded by the seed and the epoch,
not a running state, so a resumed worker draws the same orders).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from backends._files import write_atomic
from backends.jobs.store import Store, last_checkpoint, read_json, record_checkpoint
from backends.local.hyper import Hyper
from backends.tinker import connect, tokens

if TYPE_CHECKING:
    from backends.jobs.worker import Job, Outcome

MAX_TOKENS = 4096  # an example longer than this is cut, with a warning
SAMPLER_FILE = "sampler.json"  # the trained weights' tinker:// path, for sampling


def sampler_path(job_dir: Path) -> str | None:
    path = job_dir / SAMPLER_FILE
    return read_json(path)["path"] if path.exists() else None


def order(n: int, seed: int, epoch: int) -> list[int]:
    """The example order of one epoch: a function of (seed, epoch) alone."""
    indices = list(range(n))
    random.Random(f"tinker-order:{seed}:{epoch}").shuffle(indices)
    return indices


def _examples(tokenizer, path: Path, job: Job) -> list[tuple[list[int], list[float]]]:
    conversations = [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    kept, cut = [], 0
    for messages in conversations:
        ids, weights = tokens.example(tokenizer, messages)
        if len(ids) > MAX_TOKENS:
            ids, weights, cut = ids[:MAX_TOKENS], weights[:MAX_TOKENS], cut + 1
        if any(weights[1:]):  # the first token has no prediction, so it cannot be trained
            kept.append((ids, weights))
    if cut:
        job.log(f"{cut} example(s) longer than {MAX_TOKENS} tokens were cut to {MAX_TOKENS}", "warning")
    if not kept:
        raise ValueError("no example has an assistant reply to train on")
    return kept


def datum(example: tuple[list[int], list[float]]):
    from tinker import types

    model_input, targets, weights = tokens.shifted(*example)
    return types.Datum(
        model_input=types.ModelInput.from_ints(model_input),
        loss_fn_inputs={
            "target_tokens": types.TensorData(data=targets, dtype="int64", shape=[len(targets)]),
            "weights": types.TensorData(data=weights, dtype="float32", shape=[len(weights)]),
        },
    )


def run_job(job: Job) -> Outcome | None:
    from tinker import types

    from backends.jobs.worker import Outcome

    spec, hyper = job.spec, Hyper(**job.spec["hyper"])
    key, base = connect.settings(None, spec["api_base"])
    service = connect.service(key, base)
    job.log(f"Connecting to {base}: a LoRA of rank {hyper.lora_r} on {spec['base_model']}")
    client = service.create_lora_training_client(base_model=spec["base_model"], rank=hyper.lora_r, seed=hyper.seed)
    examples = _examples(client.get_tokenizer(), Path(spec["training_path"]), job)
    saved = last_checkpoint(job.dir)
    first_epoch, tokens_done = 0, 0
    if saved:
        client.load_state_with_optimizer(saved["state"]).result()
        first_epoch, tokens_done = saved["epoch"], saved["trained_tokens"]
        job.log(f"Continuing from the epoch {first_epoch} checkpoint ({saved['state']})")
    n, size = len(examples), hyper.batch_size
    per_epoch = math.ceil(n / size)
    total = hyper.n_epochs * per_epoch
    job.log(f"Training on {n} examples: {hyper.describe(alpha=False)}")
    for epoch in range(first_epoch, hyper.n_epochs):
        started, epoch_tokens, losses = time.monotonic(), 0, []
        indices = order(n, hyper.seed, epoch)
        for b in range(per_epoch):
            step = epoch * per_epoch + b
            batch = [examples[i] for i in indices[b * size : (b + 1) * size]]
            t0 = time.monotonic()
            learning_rate = hyper.learning_rate * (1 - step / total)  # linear decay to 0 over all steps
            backward = client.forward_backward([datum(e) for e in batch], "cross_entropy")
            optimizer = client.optim_step(
                types.AdamParams(learning_rate=learning_rate, weight_decay=0.0, grad_clip_norm=1.0)
            )
            outputs = backward.result().loss_fn_outputs
            optimizer.result()
            weights = [tokens.shifted(*e)[2] for e in batch]
            losses.append(tokens.mean_loss([o["logprobs"].tolist() for o in outputs], weights))
            count = sum(len(e[0]) for e in batch)
            epoch_tokens += count
            job.log(
                f"Step {step + 1}/{total}: training loss={losses[-1]:.4f}, "
                f"{count} tokens in {time.monotonic() - t0:.2f} s"
            )
        tokens_done += epoch_tokens
        state = client.save_state(f"{job.id}-epoch-{epoch + 1}").result().path
        record_checkpoint(job.dir, {"epoch": epoch + 1, "state": state, "trained_tokens": tokens_done})
        job.log(
            f"Epoch {epoch + 1}/{hyper.n_epochs}: mean training loss={sum(losses) / len(losses):.4f}, "
            f"{epoch_tokens} tokens in {time.monotonic() - started:.1f} s; training state saved to {state}"
        )
        job.after_epoch()
    if job.cancelled:
        return None
    path = client.save_weights_for_sampler(job.id).result().path
    write_atomic(job.dir / SAMPLER_FILE, json.dumps({"path": path}))
    job.log(f"Weights for sampling saved to {path}")
    store = Store(job.dir.parent.parent, "tinker")
    model_key = store.claim_model(spec["train_key"][:8], job.id)
    return Outcome(f"ft:{spec['base_model']}:tinker:{spec['suffix'] or 'model'}:{model_key}", tokens_done)
