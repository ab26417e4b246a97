"""A small batched sampling loop over the KV cache: one prefill of the left-padded prompts,
then one forward pass per new token for the rows still writing.

Each row draws from its own torch.Generator seeded by its request's seed, on the CPU (the last
position's logits are copied there), one uniform number per token, so what a row samples never
depends on what the other rows drew, and the same logits give the same tokens on every device. Temperature 0 is argmax.
A row stops at an end-of-turn token ("stop") or after its max_tokens ("length"); finished rows
leave the batch and the cache, so a batch costs what its longest answers need, not width x
longest. Left padding with an attention mask and per-row positions gives every row the same
attention it would get alone: exactly in arithmetic, nearly in floating point (a row's logits
can differ in the last bits with the batch's shape; docs/local-backend.md measures how often a
sampled token changes because of it).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    prompt: list[int]
    max_new: int
    temperature: float
    seed: int


@dataclass
class Sampled:
    tokens: list[int]
    finish: str  # "stop" | "length"


def cache_name(lm) -> str:
    """transformers 5 calls the KV cache argument `cache`, 4.x `past_key_values`."""
    return "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"


def _choose(logits, rows: list[Row], generators: list) -> list[int]:
    """The next token of each row: argmax at temperature 0, else a draw from softmax(logits / T)
    by inverting the row's cumulative distribution (float64) at one uniform number from the
    row's own generator: one random number per row and step, the distributions in one batch."""
    import torch

    logits = logits.float().cpu()
    chosen = logits.argmax(-1).tolist()
    hot = [j for j, row in enumerate(rows) if row.temperature > 0]
    if hot:
        temperature = torch.tensor([rows[j].temperature for j in hot], dtype=torch.float64)
        cdf = torch.softmax(logits[hot].double() / temperature[:, None], dim=-1).cumsum(-1)
        u = torch.cat([torch.rand(1, generator=generators[j], dtype=torch.float64) for j in hot])
        picked = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).clamp(max=cdf.shape[-1] - 1)
        for j, token in zip(hot, picked[:, 0].tolist()):
            chosen[j] = token
    return chosen


def sample(lm, rows: list[Row], stop: frozenset[int], pad_id: int) -> list[Sampled]:
    import torch

    from backends.local.loading import input_device

    results = [Sampled([], "length") for _ in rows]
    active = [i for i, r in enumerate(rows) if r.max_new > 0]
    if not active:
        return results
    device, name = input_device(lm), cache_name(lm)
    width = max(len(rows[i].prompt) for i in active)
    ids = torch.full((len(active), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(active), width), dtype=torch.long)
    for j, i in enumerate(active):
        n = len(rows[i].prompt)
        ids[j, width - n :] = torch.tensor(rows[i].prompt, dtype=torch.long)
        mask[j, width - n :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    next_pos = positions[:, -1:] + 1
    ids, mask, positions, next_pos = ids.to(device), mask.to(device), positions.to(device), next_pos.to(device)
    generators = {i: torch.Generator().manual_seed(rows[i].seed) for i in active}
    with torch.inference_mode():
        out = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        cache, logits = getattr(out, name), out.logits[:, -1, :]
        while True:
            chosen = _choose(logits, [rows[i] for i in active], [generators[i] for i in active])
            keep = []
            for j, i in enumerate(active):
                token = chosen[j]
                if token in stop:
                    results[i].finish = "stop"
                    continue
                results[i].tokens.append(token)
                if len(results[i].tokens) < rows[i].max_new:
                    keep.append(j)
            if not keep:
                return results
            if len(keep) < len(active):  # finished rows leave the batch and the cache
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                mask, next_pos = mask[index], next_pos[index]
                active = [active[j] for j in keep]
            step = torch.tensor([[chosen[j]] for j in keep], dtype=torch.long, device=device)
            mask = torch.cat([mask, torch.ones((len(keep), 1), dtype=mask.dtype, device=device)], dim=1)
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


def continuation_logprobs(lm, prompt: list[int], continuations: list[list[int]], pad_id: int) -> list[float]:
    """Sum of log P(token | everything before it) over each continuation's tokens, the prompt
    shared; one right-padded forward pass for all of them."""
    import torch

    from backends.local.loading import input_device

    device = input_device(lm)
    seqs = [prompt + c for c in continuations]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[j, : len(s)] = 1
    with torch.inference_mode():
        logits = lm(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float().cpu()
    logprobs = torch.log_softmax(logits, dim=-1)
    totals = []
    for j, c in enumerate(continuations):
        start = len(prompt)
        picked = [logprobs[j, start + k - 1, token] for k, token in enumerate(c)]
        totals.append(float(sum(picked)) if picked else 0.0)
    return totals
