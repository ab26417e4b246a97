"""The LoRA training loop (torch + peft; no trainer library): loss on the assistant's tokens
only, an epoch checkpoint a restarted worker continues from, and the same adapter bytes for
the same seed and data on the CPU.

What makes it repeatable: LoRA's random init draws from a generator seeded by the job's seed;
each epoch's example order comes from a generator seeded by (seed, epoch) rather than from a
running random state, and there is no dropout; so resuming at an epoch boundary from the saved
adapter weights and optimizer state continues exactly as if the worker had never stopped.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends._files import write_atomic
from backends.jobs.store import Store
from backends.local import models
from backends.local.hyper import Hyper
from backends.local.loading import training_example
from backends.local.store import PROVIDER

if TYPE_CHECKING:
    from backends.jobs.worker import Job, Outcome

MAX_TOKENS = 4096  # an example longer than this (or the model's context) is cut, with a warning
Log = Callable[..., None]


def encode(tokenizer, conversations: list[list[dict]], context: int, log: Log) -> list[tuple[list[int], list[bool]]]:
    limit = min(MAX_TOKENS, context)
    out, cut = [], 0
    for messages in conversations:
        ids, trained = training_example(tokenizer, messages)
        if len(ids) > limit:
            ids, trained, cut = ids[:limit], trained[:limit], cut + 1
        if any(trained[1:]):  # the first token has no prediction, so it cannot be trained
            out.append((ids, trained))
    if cut:
        log(f"{cut} example(s) longer than {limit} tokens were cut to {limit}", "warning")
    if not out:
        raise ValueError("no example has an assistant reply to train on")
    return out


def _batch(examples, idx: list[int], pad_id: int, device):
    import torch

    width = max(len(examples[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    for row, i in enumerate(idx):  # right-padded: positions count from 0 in every row
        tokens, trained = examples[i]
        n = len(tokens)
        ids[row, :n] = torch.tensor(tokens)
        mask[row, :n] = 1
        labels[row, :n] = torch.where(torch.tensor(trained), torch.tensor(tokens), torch.tensor(-100))
    return ids.to(device), mask.to(device), labels.to(device), int(mask.sum())


class Checkpoint:
    """checkpoint/epoch.json names the last finished epoch; the adapter weights and the
    optimizer state of that epoch sit beside it. epoch.json is written last, so a worker
    killed while saving leaves the previous checkpoint whole."""

    def __init__(self, job_dir: Path):
        self.dir = job_dir / "checkpoint"

    def load(self) -> dict | None:
        path = self.dir / "epoch.json"
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, model, optimizer, info: dict) -> None:
        import torch
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        self.dir.mkdir(parents=True, exist_ok=True)
        epoch = info["epoch"]
        weights, optim = self.dir / f"epoch-{epoch}.safetensors", self.dir / f"epoch-{epoch}.optim.pt"
        state = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}
        save_file(state, str(weights) + ".tmp")
        os.replace(str(weights) + ".tmp", weights)
        torch.save(optimizer.state_dict(), str(optim) + ".tmp")
        os.replace(str(optim) + ".tmp", optim)
        write_atomic(self.dir / "epoch.json", json.dumps(info))
        for old in self.dir.glob("epoch-*"):
            if not old.name.startswith(f"epoch-{epoch}."):
                old.unlink()

    def restore(self, model, optimizer, info: dict) -> None:
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        epoch = info["epoch"]
        set_peft_model_state_dict(model, load_file(str(self.dir / f"epoch-{epoch}.safetensors")))
        optimizer.load_state_dict(torch.load(self.dir / f"epoch-{epoch}.optim.pt", weights_only=True))


def train(
    lm,
    tokenizer,
    conversations: list[list[dict]],
    hyper: Hyper,
    job_dir: Path,
    log: Log,
    after_epoch: Callable[[], None] = lambda: None,
):
    """Train a LoRA on `lm`; returns (the peft model, tokens trained over all epochs)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from backends.local.loading import input_device

    device = input_device(lm)
    context = int(getattr(lm.config, "max_position_embeddings", MAX_TOKENS) or MAX_TOKENS)
    examples = encode(tokenizer, conversations, context, log)
    torch.manual_seed(hyper.seed)  # LoRA's init draws from the global generator
    alpha: Any = hyper.lora_alpha  # peft types it int; a float scales the adapter the same way
    config = LoraConfig(
        r=hyper.lora_r,
        lora_alpha=alpha,
        target_modules="all-linear",
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(lm, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.learning_rate, weight_decay=0.0, foreach=False)
    n, size = len(examples), hyper.batch_size
    per_epoch = math.ceil(n / size)
    total = hyper.n_epochs * per_epoch
    checkpoint = Checkpoint(job_dir)
    saved = checkpoint.load()
    first_epoch, tokens_done = 0, 0
    if saved:
        checkpoint.restore(model, optimizer, saved)
        first_epoch, tokens_done = saved["epoch"], saved["trained_tokens"]
        log(f"Continuing from the epoch {first_epoch} checkpoint")
    trainable = sum(p.numel() for p in params)
    log(f"Training {trainable:,} LoRA parameters on {n} examples: {hyper.describe()}")
    pad = tokenizer.pad_token_id
    model.train()
    for epoch in range(first_epoch, hyper.n_epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(hyper.seed * 1_000_003 + epoch)).tolist()
        started, epoch_tokens, losses = time.monotonic(), 0, []
        for b in range(per_epoch):
            step = epoch * per_epoch + b
            for group in optimizer.param_groups:  # linear decay to 0 over all steps
                group["lr"] = hyper.learning_rate * (1 - step / total)
            t0 = time.monotonic()
            ids, mask, labels, count = _batch(examples, order[b * size : (b + 1) * size], pad, device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            targets = labels[:, 1:]
            loss = (
                torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum"
                )
                / (targets != -100).sum()
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            epoch_tokens += count
            log(
                f"Step {step + 1}/{total}: training loss={losses[-1]:.4f}, "
                f"{count / max(time.monotonic() - t0, 1e-9):.0f} tokens/s"
            )
        tokens_done += epoch_tokens
        elapsed = max(time.monotonic() - started, 1e-9)
        checkpoint.save(model, optimizer, {"epoch": epoch + 1, "trained_tokens": tokens_done})
        log(
            f"Epoch {epoch + 1}/{hyper.n_epochs}: mean training loss={sum(losses) / len(losses):.4f}, "
            f"{epoch_tokens} tokens in {elapsed:.1f} s ({epoch_tokens / elapsed:.0f} tokens/s)"
        )
        after_epoch()
    model.eval()
    return model, tokens_done


def conversations(path: Path) -> list[list[dict]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_job(job: Job) -> Outcome | None:
    """The local trainer of backends.jobs.worker: load the base model, train (continuing from
    the last epoch checkpoint), save the adapter into the job's folder and name the model."""
    from backends.jobs.worker import Outcome

    spec = job.spec
    if spec["device"].startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, where it can be
    import torch

    from backends.local import loading

    torch.use_deterministic_algorithms(True, warn_only=True)
    device = loading.choose_device(spec["device"])
    base = models.ResolvedModel(**spec["model"])
    job.log(f"Loading {base.source} on {device} ({loading.dtype_name(device)}), {torch.get_num_threads()} CPU threads")
    started = time.monotonic()
    store_root = job.dir.parent.parent
    lm, tokenizer = loading.load(base, device, store_root / "converted")
    job.log(f"Loaded the base model in {time.monotonic() - started:.1f} s")
    hyper = Hyper(**spec["hyper"])
    model, tokens = train(
        lm, tokenizer, conversations(Path(spec["training_path"])), hyper, job.dir, job.log, job.after_epoch
    )
    if job.cancelled:
        return None  # cancelled while finishing: the canceller records it
    adapter, tmp = job.dir / "adapter", job.dir / f"adapter.tmp-{os.getpid()}"
    model.save_pretrained(str(tmp))
    if adapter.exists():  # left by a worker killed after saving, before recording success
        for f in adapter.iterdir():
            f.unlink()
        adapter.rmdir()
    os.replace(tmp, adapter)
    key = Store(store_root, PROVIDER).claim_model(spec["train_key"][:8], job.id)
    return Outcome(f"ft:{spec['base_model']}:local:{spec['suffix'] or 'model'}:{key}", tokens)
