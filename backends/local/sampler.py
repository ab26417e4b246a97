"""The batched sampling loop: each prompt prefilled alone, then one forward pass per new token
for the rows still writing, over our own KV cache (backends.local.kv).

A sample's text does not depend on what else is in its batch (for a given seed, dtype and
thread count): each row draws from its own torch.Generator seeded by its request's seed, one
uniform number per token, and its logits are bit for bit those it gets alone. For that, a
prompt is prefilled alone and unpadded (identical prompts share one prefill: the same numbers),
a row keeps its keys in a cache slot of its own and attends over a span that depends on its own
length only (kv), and a step's batch is padded to a row count whose matrix products give every
row what it gets at any other (kv.invariant_sizes; padding rows are computed and ignored).
Temperature 0 is argmax. A row stops at an end-of-turn token ("stop") or after its max_tokens
("length"); finished rows leave the batch, so a batch costs what its longest answers need.
"""

from __future__ import annotations

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


def choose(logits, rows: list[Row], generators: list) -> list[int]:
    """The next token of each row: argmax at temperature 0, else a draw from softmax(logits / T)
    by inverting the row's cumulative distribution (summed in float64) at one uniform number
    from the row's own generator: one random number per row and step. Each row's numbers
    start at a multiple of 64 places, so vectorised loops treat every row alike whatever its
    place in the batch."""
    import torch

    logits = logits.float().cpu()
    chosen = logits.argmax(-1).tolist()
    hot = [j for j, row in enumerate(rows) if row.temperature > 0]
    if hot:
        vocab = logits.shape[-1]
        scaled = torch.full((len(hot), -(-vocab // 64) * 64), float("-inf"))
        scaled[:, :vocab] = logits[hot] / torch.tensor([[rows[j].temperature] for j in hot])
        weights = torch.exp(scaled - scaled.amax(-1, keepdim=True))  # unnormalised: the draw scales by the total
        cdf = weights.double().cumsum(-1)
        u = torch.cat([torch.rand(1, generator=generators[j], dtype=torch.float64) for j in hot])
        picked = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).clamp(max=vocab - 1)
        for j, token in zip(hot, picked[:, 0].tolist()):
            chosen[j] = token
    return chosen


def sample(lm, rows: list[Row], stop: frozenset[int], pad_id: int, sizes: list[int] | None = None) -> list[Sampled]:
    """Sample every row; `sizes` are the batch sizes at which the model's products are the same
    for every row (kv.invariant_sizes; None: any size)."""
    import torch

    from backends.local import kv
    from backends.local.loading import input_device

    results = [Sampled([], "length") for _ in rows]
    live = sorted((i for i, r in enumerate(rows) if r.max_new > 0), key=lambda i: (len(rows[i].prompt), rows[i].prompt))
    if not live:
        return results
    kv.install(lm)
    device = input_device(lm)
    # Slots in order of prompt length, so that rows whose spans share a bucket are neighbours;
    # padding rows (a one-token prompt, never sampled) bring the count to a size in `sizes`.
    prompts = [rows[i].prompt for i in live]
    prompts += [[pad_id]] * (_fit(len(live), sizes) - len(live))
    longest = max(len(rows[i].prompt) + rows[i].max_new for i in live) + 1  # padding rows stop there
    capacity = -(-longest // kv.BUCKET) * kv.BUCKET
    cache = kv.Cache(len(prompts), capacity)
    lengths = [len(p) for p in prompts]
    generators = {i: torch.Generator().manual_seed(rows[i].seed) for i in live}
    with torch.inference_mode():
        logits = _prefill(lm, cache, prompts, device)[: len(live)]
        slot_row = dict(enumerate(live))  # slot -> row, for the rows still writing
        while True:
            slots = list(slot_row)
            chosen = choose(logits, [rows[slot_row[s]] for s in slots], [generators[slot_row[s]] for s in slots])
            for s, token in zip(slots, chosen):
                i = slot_row[s]
                if token in stop:
                    results[i].finish = "stop"
                    del slot_row[s]
                    continue
                results[i].tokens.append(token)
                if len(results[i].tokens) >= rows[i].max_new:
                    del slot_row[s]
            if not slot_row:
                return results
            fed = dict(zip(slots, chosen))
            computed = _padded(list(slot_row), len(prompts), sizes)
            for s in computed:
                lengths[s] = min(lengths[s] + 1, capacity)
            step = torch.tensor([[fed.get(s, pad_id)] for s in computed], dtype=torch.long, device=device)
            plan = kv.plan_decode(cache, computed, [lengths[s] for s in computed], device)
            out = lm(
                input_ids=step,
                position_ids=plan.positions[:, None],
                use_cache=False,
                logits_to_keep=1,
                kv_rows=plan,
            )
            keep = [k for k, s in enumerate(computed) if s in slot_row]
            logits = out.logits[keep, -1, :] if len(keep) < len(computed) else out.logits[:, -1, :]


def _fit(count: int, sizes: list[int] | None) -> int:
    """The smallest size in `sizes` that holds `count` rows (count itself when any size does)."""
    if sizes is None or count in sizes:
        return count
    return next((s for s in sizes if s >= count), count)


def _padded(live: list[int], slots: int, sizes: list[int] | None) -> list[int]:
    """The slots to compute this step: the live ones, plus finished ones (their output unused)
    until the count is a size whose products agree for every row."""
    target = _fit(len(live), sizes)
    spare = [s for s in range(slots) if s not in set(live)][: target - len(live)]
    return sorted(live + spare)


def _prefill(lm, cache, prompts: list[list[int]], device):
    """Each distinct prompt alone and unpadded (so its numbers cannot depend on the batch), its
    keys copied to the other slots with the same prompt; the last position's logits per slot."""
    import torch

    from backends.local import kv

    first: dict[tuple[int, ...], int] = {}
    rows: list = []  # the last position's logits, per slot
    for slot, prompt in enumerate(prompts):
        key = tuple(prompt)
        if key in first:
            cache.copy_prefix(first[key], [slot], len(prompt))
            rows.append(rows[first[key]])
            continue
        first[key] = slot
        ids = torch.tensor([prompt], dtype=torch.long, device=device)
        out = lm(
            input_ids=ids,
            position_ids=torch.arange(len(prompt), device=device)[None],
            use_cache=False,
            logits_to_keep=1,
            kv_rows=kv.Prefill(cache, slot),
        )
        rows.append(out.logits[0, -1])
    layers = getattr(lm.config, "num_hidden_layers", None)
    if layers is not None and len(cache.layers_written) < layers:
        raise ValueError(
            f"{type(lm).__name__}: only {len(cache.layers_written)} of {layers} layers wrote keys through "
            "the attention interface; the local sampler cannot run this model"
        )
    return torch.stack(rows)


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
