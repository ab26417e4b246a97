"""The sampler's own KV cache, and the attention that reads it so that a row's numbers do not
depend on the other rows of its batch.

Why not transformers' cache: its rows share one length, so a batch of prompts of different
lengths is left-padded, and where a row's keys sit (and how many masked places come before or
after them) then depends on its neighbours. Floating-point sums group differently with the
layout, the last bits of the logits move, and a sampled token can flip. Here each row keeps its
keys in a slot of its own from position 0, and attends over a span that is a function of its
own length only: its length rounded up to a bucket of BUCKET places, the rest masked. Rows whose
spans fall in one bucket are computed in one call (a batch of equal shapes gives each row the
numbers it gets alone: measured for the kernels used, and tested). The matrix products around
attention are checked at load (`invariant_sizes`): a batch is padded to a row count whose products
give every row exactly what it gets in any other.

The attention is registered with transformers' AttentionInterface under NAME; a forward pass
without our `kv_rows` argument (log-probabilities, tests) goes to the model's own attention.
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass, field
from typing import Any

NAME = "harness_rows"
BUCKET = 64
_ORIGINAL: dict[int, tuple[Any, str]] = {}  # id(config) -> (a weak reference to it, the implementation it had)


def install(lm) -> None:
    """Make `lm` use our attention (idempotent). Raises ValueError for a model whose attention
    does not go through transformers' AttentionInterface: the sampler could not read its keys."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    config = lm.config
    current = config._attn_implementation
    if current == NAME:
        return
    if not type(lm)._can_set_attn_implementation():
        raise ValueError(
            f"{type(lm).__name__} does not route attention through transformers' AttentionInterface; "
            "the local sampler needs it"
        )
    AttentionInterface.register(NAME, attention)
    mask = ALL_MASK_ATTENTION_FUNCTIONS._global_mapping.get(current, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    AttentionMaskInterface.register(NAME, mask)  # masks as the model's own attention wants them
    _ORIGINAL[id(config)] = (weakref.ref(config), current)
    lm.set_attn_implementation(NAME)


def _original(module) -> Any:
    from transformers import AttentionInterface

    ref, name = _ORIGINAL.get(id(module.config), (None, "sdpa"))
    if ref is None or ref() is not module.config:  # a config that reused a dead one's id
        name = "sdpa"
    if name == "eager" or name not in AttentionInterface._global_mapping:
        return sys.modules[type(module).__module__].eager_attention_forward
    return AttentionInterface._global_mapping[name]


@dataclass
class Cache:
    """Keys and values per layer, one slot per row, laid out (slot, position, kv head, dim) so
    that a row's new key is one contiguous block: a step writes all rows with one index_copy_."""

    slots: int
    capacity: int
    keys: dict[int, Any] = field(default_factory=dict)
    values: dict[int, Any] = field(default_factory=dict)
    layers_written: set[int] = field(default_factory=set)

    def buffers(self, layer: int, like):
        """The layer's (keys, values), allocated on first use from a key shaped (batch, kv heads,
        positions, dim). Zeros: masked places are read (with weight 0), and must not be NaN."""
        if layer not in self.keys:
            import torch

            shape = (self.slots, self.capacity, like.shape[1], like.shape[3])
            self.keys[layer] = torch.zeros(shape, dtype=like.dtype, device=like.device)
            self.values[layer] = torch.zeros(shape, dtype=like.dtype, device=like.device)
        return self.keys[layer], self.values[layer]

    def copy_prefix(self, source: int, targets: list[int], length: int) -> None:
        """Rows with the same prompt share one prefill: its keys are copied to their slots."""
        for layer in self.keys:
            for t in targets:
                self.keys[layer][t, :length] = self.keys[layer][source, :length]
                self.values[layer][t, :length] = self.values[layer][source, :length]


@dataclass
class Prefill:
    """One prompt, alone and unpadded, whose keys go to `slot` from position 0."""

    cache: Cache
    slot: int


@dataclass
class Group:
    """Rows first..first+count-1 of a step, whose spans share a bucket; their slots lie in
    [lo, hi) (with gaps where finished rows sit, which are computed and ignored)."""

    first: int
    count: int
    lo: int
    hi: int
    span: int  # keys [0, span) are read; those past a row's length are masked
    at: Any  # None when the slots are exactly lo..hi-1, else a tensor of slot - lo per row
    mask: Any  # boolean (hi - lo, 1, 1, span)
    lengths: Any  # tensor (hi - lo, 1): keys each slot may read (1 in a gap)
    windowed: dict = field(default_factory=dict)

    def visible(self, window: int | None):
        """The mask, narrowed to a sliding window's last `window` keys when the layer has one."""
        if not window:
            return self.mask
        if window not in self.windowed:
            import torch

            at = torch.arange(self.span, device=self.mask.device)[None, :]
            self.windowed[window] = self.mask & (at > self.lengths - 1 - window)[:, None, None, :]
        return self.windowed[window]


@dataclass
class Decode:
    """One new token per computed row: row i's key goes to flat place slots[i] * capacity +
    positions[i] of the layer's (slots x capacity, heads x dim) view."""

    cache: Cache
    places: Any  # long tensor (rows,)
    positions: Any  # long tensor (rows,): each row's position (its length before this token)
    groups: list[Group]


def plan_decode(cache: Cache, slots: list[int], lengths: list[int], device) -> Decode:
    """The step's writes and attention groups; `slots` ascending, each with its length once
    this step's token is written."""
    import torch

    runs: list[list[tuple[int, int]]] = []  # (slot, length) per group
    for slot, n in zip(slots, lengths):
        span = -(-n // BUCKET) * BUCKET
        if runs and -(-runs[-1][0][1] // BUCKET) * BUCKET == span:
            runs[-1].append((slot, n))
        else:
            runs.append([(slot, n)])
    groups, first = [], 0
    for run in runs:
        lo, hi = run[0][0], run[-1][0] + 1
        span = -(-run[0][1] // BUCKET) * BUCKET
        known = dict(run)
        lengths_t = torch.tensor([[known.get(s, 1)] for s in range(lo, hi)], device=device)
        mask = (torch.arange(span, device=device)[None, :] < lengths_t)[:, None, None, :]
        at = None if hi - lo == len(run) else torch.tensor([s - lo for s, _ in run], device=device)
        groups.append(Group(first, len(run), lo, hi, span, at, mask, lengths_t))
        first += len(run)
    places = torch.tensor([s * cache.capacity + n - 1 for s, n in zip(slots, lengths)], device=device)
    positions = torch.tensor([n - 1 for n in lengths], device=device)
    return Decode(cache, places, positions, groups)


def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, kv_rows=None, **kwargs):
    """transformers' attention interface: query (batch, heads, q, dim), key and value
    (batch, kv heads, q, dim); returns (batch, q, heads, dim) and no weights."""
    original = _original(module)
    if kv_rows is None:
        return original(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    cache = kv_rows.cache
    keys, values = cache.buffers(module.layer_idx, key)
    cache.layers_written.add(module.layer_idx)
    if isinstance(kv_rows, Prefill):
        n = key.shape[2]
        keys[kv_rows.slot, :n] = key[0].transpose(0, 1)
        values[kv_rows.slot, :n] = value[0].transpose(0, 1)
        return original(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    if kwargs.get("s_aux") is not None:
        raise ValueError("attention sinks are not supported by the local sampler")
    rows, kv_heads, _, dim = key.shape
    keys.view(-1, kv_heads * dim).index_copy_(0, kv_rows.places, key[:, :, 0].reshape(rows, -1))
    values.view(-1, kv_heads * dim).index_copy_(0, kv_rows.places, value[:, :, 0].reshape(rows, -1))
    return _decode(query, keys, values, kv_rows.groups, scaling, kwargs.get("softcap"), kwargs.get("sliding_window"))


def _decode(query, keys, values, groups: list[Group], scaling, softcap, window):
    import torch

    rows, heads, _, dim = query.shape
    kv_heads = keys.shape[2]
    packed = query.reshape(rows, kv_heads, heads // kv_heads, dim)  # a kv head's query heads as its rows
    outs = []
    threads = torch.get_num_threads()
    if threads > 1 and packed.device.type == "cpu":
        torch.set_num_threads(1)  # see _core; switching costs well under a microsecond
    try:
        for g in groups:
            q = packed[g.first : g.first + g.count]
            if g.at is not None:  # gaps in the slots: finished rows are computed too (and ignored)
                q = packed.new_zeros((g.hi - g.lo, *packed.shape[1:])).index_copy_(0, g.at, q)
            k = keys[g.lo : g.hi, : g.span].transpose(1, 2)
            v = values[g.lo : g.hi, : g.span].transpose(1, 2)
            out = _core(q, k, v, g.visible(window), scaling, softcap)
            outs.append(out if g.at is None else out.index_select(0, g.at))
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    return out.reshape(rows, heads, 1, dim).transpose(1, 2), None


def _core(q, k, v, mask, scaling, softcap):
    """Masked attention of a group of rows, on one thread. With two threads the fused kernel
    splits a group's rows and heads among them by the group's size, and a row got other last
    bits in a group of 2 than in one of 16 (measured on SmolLM2 in bfloat16, and in float32 on
    random inputs: 1270 of 1351 rows differed); on one thread none did. A softcap (Gemma 2) is
    not in the fused kernel; those products, batched, also differ with the batch, so they are
    computed row by row."""
    import torch

    if not softcap:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling)
    rows = []
    for i in range(len(q)):
        scores = torch.matmul(q[i : i + 1].float(), k[i : i + 1].float().transpose(-1, -2)) * (
            scaling or q.shape[-1] ** -0.5
        )
        scores = (torch.tanh(scores / softcap) * softcap).masked_fill(~mask[i : i + 1], float("-inf"))
        rows.append(torch.matmul(torch.softmax(scores, dim=-1), v[i : i + 1].float()).to(q.dtype))
    return torch.cat(rows)


def invariant_sizes(lm, up_to: int, sizes: list[int] | None = None) -> list[int]:
    """The batch sizes among `sizes` (default 1..up_to) at which every linear layer shape of `lm` gives each row exactly
    what it gives that row, wherever it sits, in a batch of `up_to` (some kernels take another
    path for a few rows: on this project's CPU bfloat16 does at 1 row, float32 below 12 rows but
    4 and 8). Paths are told apart by the order of their sums: each row of the probe adds a
    large value and later takes it away, so the small terms between are rounded in an order
    that any other order of summation changes (a random input shows it only near rounding
    boundaries, rarely). Shapes, dtype and device come from the model; the values are made up."""
    import torch

    good = {m for m in (sizes or range(1, up_to + 1)) if 1 <= m <= up_to} | {up_to}
    with torch.inference_mode():
        for n_in, n_out, dtype, device in {
            (m.in_features, m.out_features, m.weight.dtype, m.weight.device) for m in _linears(lm)
        }:
            weight, x = _order_probe(n_in, n_out, up_to, dtype, device)
            reference = linear(x, weight)
            for m in sorted(good - {up_to}):
                for start in {0, up_to - m}:
                    if not torch.equal(linear(x[start : start + m], weight), reference[start : start + m]):
                        good.discard(m)
    return sorted(good)


def _order_probe(n_in: int, n_out: int, rows: int, dtype, device):
    """A weight whose first and last columns are 1 and rows whose first and last inputs are +big
    and -big: each output is the sum of the small terms, rounded at big's scale as it goes."""
    import torch

    generator = torch.Generator().manual_seed(0)
    big = 2.0**20  # the float32 accumulator's step there is 1/8: every small term is rounded
    weight = torch.randn(n_out, n_in, generator=generator)
    x = torch.randn(rows, n_in, generator=generator)
    if n_in > 1:
        weight[:, 0] = weight[:, -1] = 1.0
        x[:, 0], x[:, -1] = big, -big
    return weight.to(dtype=dtype, device=device), x.to(dtype=dtype, device=device)


def linear(x, weight):
    import torch

    return torch.nn.functional.linear(x, weight)


def _linears(lm):
    import torch

    return [m for m in lm.modules() if isinstance(m, torch.nn.Linear) and m.weight.dim() == 2]
