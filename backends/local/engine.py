"""Inference: each base model loaded once per process, its fine-tuned adapters attached to it,
and a batcher that turns concurrent requests into batches for backends.local.sampler.

Batches are formed in a deterministic order. The sampler runs on the event loop's own thread
(it has the CPU to itself anyway), so while it works no request can arrive, and the loop's
schedule, hence which requests share a batch, is a function of the run's requests alone (a
client-side rate limit, --rpm or --tpm, brings timers in and with them timing). Before each
batch the batcher yields to the loop until no more requests arrive, then takes the oldest
request's model and up to `max_batch` waiting requests for that model, oldest first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.base import BackendError, ConfigError
from backends.local.models import ResolvedModel

_ENGINES: dict[tuple, Engine] = {}


def engine_for(model: ResolvedModel, device: str, cache: Path | None = None, dtype: str = "auto") -> Engine:
    """The process's engine for this base model (loaded on first use); `cache` is where a
    de-quantized GGUF is kept (see loading.load)."""
    from backends.local.loading import choose_device, inference_dtype

    dtype = inference_dtype(choose_device(device), dtype)  # "auto" and its answer are one engine
    key = (model.kind, model.folder, model.gguf_file, model.revision, device, dtype)
    if key not in _ENGINES:
        _ENGINES[key] = Engine(model, device, cache, dtype)
    return _ENGINES[key]


def loaded_engines() -> list[Engine]:
    return list(_ENGINES.values())


class Engine:
    """One base model on one device, with the adapters loaded so far."""

    def __init__(self, model: ResolvedModel, device_preference: str, cache: Path | None = None, dtype: str = "auto"):
        from backends.local import kv, loading

        self.model = model
        self.device = loading.choose_device(device_preference)
        self.dtype = loading.inference_dtype(self.device, dtype)
        self.lm, self.tokenizer = loading.load(model, self.device, cache, self.dtype)
        try:
            kv.install(self.lm)
        except ValueError as e:
            raise ConfigError(f"local backend: {model.name}: {e}") from None
        self.stop = loading.stop_ids(self.lm, self.tokenizer)
        self.context = int(getattr(self.lm.config, "max_position_embeddings", 0) or 1 << 30)
        self.peft: Any = None  # a PeftModel around self.lm once an adapter is attached
        self.adapters: set[str] = set()
        self._sizes: dict[tuple, list[int]] = {}
        self._max_batch: int | None = None

    CANDIDATE_BATCHES = (8, 16, 32, 64)
    CALIBRATION_TOKENS = 6

    @property
    def max_batch(self) -> int:
        """The batch size this machine samples this model fastest at: a few new tokens timed at
        each candidate size, once per process; the smallest within 10% of the best tokens per
        second wins (a larger batch holds more memory and waits longer to fill). Results do not
        depend on it: a row's numbers are the same in any batch."""
        if self._max_batch is None:
            import time

            from backends.local.sampler import Row, sample

            prompt = self.prompt([{"role": "user", "content": "Why is the sky blue? Answer in a few lines."}])
            rates: dict[int, float] = {}
            sample(self.lm, [Row(prompt, 2, 1.0, 0)] * 2, frozenset(), self.tokenizer.pad_token_id)  # warm-up
            for _ in range(2):  # best of two: a shared machine slows some of them
                for size in self.CANDIDATE_BATCHES:
                    rows = [Row(prompt, self.CALIBRATION_TOKENS, 1.0, seed) for seed in range(size)]
                    start = time.perf_counter()
                    sample(self.lm, rows, frozenset(), self.tokenizer.pad_token_id)
                    rate = size * self.CALIBRATION_TOKENS / (time.perf_counter() - start)
                    rates[size] = max(rates.get(size, 0.0), rate)
            best = max(rates.values())
            self._max_batch = min(size for size, rate in rates.items() if rate >= 0.9 * best)
        return self._max_batch

    def batch_sizes(self, up_to: int) -> list[int]:
        """The batch sizes whose matrix products give every row what it gets in any other (see
        kv.invariant_sizes); checked once per set of layer shapes (an adapter adds its own)."""
        from backends.local import kv

        shapes = (up_to, *sorted({(m.in_features, m.out_features, str(m.weight.dtype)) for m in kv._linears(self.lm)}))
        if shapes not in self._sizes:
            # every size up to 16, then multiples of 8: a batch of 17 rows is padded to 24, and the
            # check (an output layer of 49152 x 576 at each size) stays under a second
            lattice = [m for m in range(1, up_to + 1) if m <= 16 or m % 8 == 0]
            self._sizes[shapes] = kv.invariant_sizes(self.lm, up_to, lattice)
        return self._sizes[shapes]

    def prompt(self, messages: list[dict]) -> list[int]:
        from backends.local.loading import prompt_ids

        try:
            return prompt_ids(self.tokenizer, messages)
        except Exception as e:  # the template's own error (jinja): e.g. a role it refuses
            raise BackendError(
                f"the chat template of {self.model.name} cannot render these messages: {type(e).__name__}: {e}",
                status=400,
            ) from None

    def tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def reply_tokens(self, messages: list[dict], prompt: list[int], reply: str) -> list[int]:
        """The tokens the model writes for `reply` after `prompt`, end-of-turn included: the
        conversation rendered with the reply, cut after its first end-of-turn token (the
        template's text after it, e.g. a newline, is not the model's). Where the rendering does
        not extend the prompt's tokens, the reply is tokenized alone and the eos token added."""
        from backends.local.loading import render

        whole = self.tokens(render(self.tokenizer, messages + [{"role": "assistant", "content": reply}], False))
        tail = whole[len(prompt) :] if whole[: len(prompt)] == prompt else []
        ends = [k for k, token in enumerate(tail) if token in self.stop]
        if ends:
            return tail[: ends[0] + 1]
        return self.tokens(reply) + [self.tokenizer.eos_token_id]

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def using(self, adapter: Path | None):
        """A context in which self.lm is the base model (adapter None) or base + that adapter.
        peft injects its layers into self.lm in place: the base is the same weights with the
        adapter layers switched off, so there is one copy of the base in memory."""
        if adapter is None:
            return self.peft.disable_adapter() if self.peft is not None else contextlib.nullcontext()
        name = adapter.parent.name.replace(".", "_")  # the job id: peft's adapter names may not hold dots
        if name not in self.adapters:
            from peft import PeftModel

            # The adapter in the base's dtype (peft would keep a bfloat16 base's adapter in float32,
            # and float32 products take other paths for a few rows than bfloat16 ones).
            if self.peft is None:
                self.peft = PeftModel.from_pretrained(
                    self.lm, str(adapter), adapter_name=name, autocast_adapter_dtype=False
                )
            else:
                self.peft.load_adapter(str(adapter), adapter_name=name, autocast_adapter_dtype=False)
            self.peft.eval()
            self.adapters.add(name)
        self.peft.set_adapter(name)
        return contextlib.nullcontext()

    def generate(self, adapter: Path | None, rows: list, max_batch: int | None = None) -> list:
        from backends.local.sampler import sample

        with self.using(adapter):
            sizes = self.batch_sizes(max(max_batch or len(rows), len(rows)))
            return sample(self.lm, rows, self.stop, self.tokenizer.pad_token_id, sizes)

    def logprobs(self, adapter: Path | None, prompt: list[int], continuations: list[list[int]]) -> list[float]:
        from backends.local.sampler import continuation_logprobs

        with self.using(adapter):
            return continuation_logprobs(self.lm, prompt, continuations, self.tokenizer.pad_token_id)


class Batcher:
    """Gathers concurrent requests into batches; `run(key, payloads)` answers one batch of
    requests that share `key` (a model), in order."""

    SETTLE_YIELDS = 3  # loop turns without a new request before a batch is taken

    def __init__(self, run: Callable[[Any, list], list], max_batch: int):
        self.run = run
        self.max_batch = max_batch
        self.waiting: list[tuple[Any, Any, asyncio.Future]] = []
        self.task: asyncio.Task | None = None
        self.batches: list[int] = []  # sizes of the batches run, for tests and the benchmark

    async def submit(self, key, payload):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((key, payload, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await future

    async def _settle(self) -> None:
        quiet, seen = 0, -1
        while quiet < self.SETTLE_YIELDS and len(self.waiting) < self.max_batch:
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(self.waiting) == seen else 0
            seen = len(self.waiting)

    async def _drain(self) -> None:
        while self.waiting:
            await self._settle()
            self.waiting = [w for w in self.waiting if not w[2].done()]  # drop requests given up on
            if not self.waiting:
                return
            key = self.waiting[0][0]
            batch = [w for w in self.waiting if w[0] == key][: self.max_batch]
            taken = {id(w) for w in batch}
            self.waiting = [w for w in self.waiting if id(w) not in taken]
            self.batches.append(len(batch))
            try:
                results = self.run(key, [payload for _, payload, _ in batch])
            except Exception as e:  # the whole batch failed (e.g. out of memory): each request says so
                error = (
                    e
                    if isinstance(e, BackendError)
                    else BackendError(f"local inference failed: {type(e).__name__}: {e}", status=500)
                )
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = None
        self.waiting = []
