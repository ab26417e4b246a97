"""The `local` backend: LoRA fine-tuning and inference of open-weights models on this machine.

Nothing here imports torch, transformers or peft at module level: `harness backends` and
every other backend stay fast. Training runs in a detached worker process (the shared runner of
backends.jobs, with backends.local.training as its trainer); inference loads each base model
once per process (backends.local.engine).
docs/local-backend.md explains the design, devices and determinism.
"""

from __future__ import annotations

import importlib.util
import os
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from backends.base import (
    CHAT,
    FINE_TUNE,
    LOGPROBS,
    Backend,
    BackendError,
    ChatRequest,
    Completion,
    ConfigError,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
    ModelPrice,
)
from backends.jobs.book import JobBook, check_suffix
from backends.jobs.store import Store, parse_training, read_json, sha
from backends.local import hyper, models
from backends.local.store import PROVIDER, default_store

if TYPE_CHECKING:  # torch behind it: imported when the first request comes
    from backends.local.engine import Batcher

DEVICE_ENV = "HARNESS_LOCAL_DEVICE"
MAX_BATCH_ENV = "HARNESS_LOCAL_MAX_BATCH"
DEFAULT_MAX_TOKENS = 1024  # a request that sets no max_tokens (the harness always sets one)


class LocalBackend(Backend):
    name = "local"
    capabilities = frozenset({FINE_TUNE, CHAT, LOGPROBS})
    simulated = False
    billed = False  # this machine's time is the cost: every model is priced at $0
    min_training_examples = 1
    poll_interval = 2.0
    OPTIONS = ("store_dir", "device", "base_model", "max_batch", "dtype")
    HYPERPARAMETERS = hyper.KNOWN

    @classmethod
    def price(cls, model: str) -> ModelPrice:
        return ModelPrice(input=0.0, output=0.0, training=0.0)

    def __init__(
        self,
        store_dir: str | Path | None = None,
        device: str | None = None,
        base_model: str | None = None,
        max_batch: int | None = None,
        dtype: str | None = None,
    ):
        from backends.local.loading import DTYPE_ENV, check_device, check_dtype  # no torch at import: names only

        missing = [m for m in ("torch", "transformers", "peft") if importlib.util.find_spec(m) is None]
        if missing:  # found without importing them (that takes seconds)
            raise ConfigError(
                f"local backend: {', '.join(missing)} not installed; "
                "pip install 'hello-harness[local]' (see docs/local-backend.md)"
            )
        self.store = Store(Path(store_dir) if store_dir else default_store(), PROVIDER)
        self.jobs = JobBook(self.store, trainer="local")
        self.device = check_device(device or os.environ.get(DEVICE_ENV) or "auto")
        self.dtype = check_dtype(dtype or os.environ.get(DTYPE_ENV) or "auto")
        self.max_batch = max_batch if max_batch is not None else _env_batch()  # None: the engine's choice
        if self.max_batch is not None and self.max_batch < 1:
            raise ConfigError(f"local backend: max_batch must be at least 1, got {self.max_batch}")
        self._resolved: dict[str, models.ResolvedModel] = {}
        self._batcher: Batcher | None = None
        if base_model:
            self._resolve(base_model)  # a model that cannot be found is refused before a run starts

    def _resolve(self, name: str) -> models.ResolvedModel:
        if name not in self._resolved:
            self._resolved[name] = models.resolve(name)
        return self._resolved[name]

    # -- files ---------------------------------------------------------------------------
    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        return self.store.put_file(data, filename, parse_training(data))

    def find_files(self, filename: str) -> list[FileRef]:
        return self.store.find_files(filename)

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, spec: JobSpec) -> Job:
        path = self.store.file_path(spec.training_file)
        examples = read_json(path.with_suffix(".json"))["examples"]
        try:
            base = self._resolve(spec.base_model)
        except ConfigError as e:
            raise BackendError(str(e), status=400) from None
        check_suffix(spec.suffix)
        params = hyper.resolve(dict(spec.hyperparameters), examples, spec.seed)
        details = {
            "device": self.device,
            "model": base.as_dict(),
            "hyper": params.as_dict(),
            "training_path": str(path),
            "examples": examples,
            # the fine-tuned model id hashes what is trained, not metadata such as a run id
            "train_key": sha(spec.training_file, base.as_dict(), spec.suffix, params.as_dict()),
        }
        return self.jobs.create(
            spec, details, f"Created fine-tuning job {{job_id}}: {base.source}, {examples} examples"
        )

    def get_job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        return self.jobs.events(job_id, after)

    def cancel_job(self, job_id: str) -> Job:
        return self.jobs.cancel(job_id)

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]:
        return self.jobs.find(metadata)

    # -- models --------------------------------------------------------------------------
    def _target(self, model: str) -> tuple[models.ResolvedModel, Path | None]:
        """The base weights and the adapter (None for a base model) that `model` names."""
        if model.startswith("ft:") and ":local:" in model:
            job_id = self.store.model_job(model.rsplit(":", 1)[1])
            adapter = self.store.root / "jobs" / job_id / "adapter" if job_id else None
            if adapter is None or not (adapter / "adapter_config.json").is_file():
                raise BackendError(f"model {model} not found in the local store {self.store.root}", status=404)
            spec = read_json(adapter.parent / "spec.json")
            return models.ResolvedModel(**spec["model"]), adapter
        try:
            return self._resolve(model), None
        except ConfigError as e:
            raise BackendError(str(e), status=404) from None

    def _engine(self, base: models.ResolvedModel, dtype: str | None = None):
        """The loaded model (in `dtype`, default the backend's); a model that fails to load fails
        the request that asked (every request asks again, so a run whose model cannot load fails
        all its samples, loudly)."""
        from backends.local.engine import engine_for

        try:
            return engine_for(base, self.device, self.store.root / "converted", dtype or self.dtype)
        except ConfigError as e:
            raise BackendError(str(e), status=400) from None
        except (OSError, ValueError, RuntimeError) as e:  # unreadable weights, a format transformers refuses, OOM
            raise BackendError(f"local backend: cannot load {base.name}: {type(e).__name__}: {e}", status=500) from None

    def model_info(self, model: str) -> dict[str, str]:
        """Device and dtype, CPU threads (results repeat bit for bit only with the same), the
        weights' source and revision or sha256, and for a fine-tuned model its job and adapter
        hash. Imports torch but loads no weights; BackendError 404 for an unknown model."""
        import torch

        from backends.local.loading import choose_device, inference_dtype

        base, adapter = self._target(model)
        device = choose_device(self.device)
        info = {
            "backend": "local",
            "device": f"{device} ({inference_dtype(device, self.dtype)}{self._logprob_note(device)})",
            # each row has its own cache slot and seed, and batches are padded to sizes whose
            # products agree (docs/local-backend.md): a sample's text does not depend on its batch
            "sampler": "batch-invariant",
            "cpu_threads": str(torch.get_num_threads()),
            "source": base.source,
            **models.weights_fingerprint(base),
        }
        if adapter is not None:
            info.update(
                job=adapter.parent.name, adapter_sha256=models.file_sha256(adapter / "adapter_model.safetensors")
            )
        for package in ("torch", "transformers", "peft"):
            info[package] = metadata.version(package)
        return info

    def logprob_dtype(self, device: str) -> str:
        """Log-probability probes on a CPU are scored in float32 unless a dtype was asked for by
        name: the fidelity check found bfloat16 shifting a reply's log-probability by up to 0.76
        nats there while its samples passed (docs/local-backend.md#bfloat16-and-its-fidelity-check).
        Elsewhere they use the sampling dtype (a GPU's weights are bfloat16 already)."""
        from backends.local.loading import inference_dtype

        if self.dtype == "auto" and device == "cpu":
            return "float32"
        return inference_dtype(device, self.dtype)

    def _logprob_note(self, device: str) -> str:
        from backends.local.loading import inference_dtype

        scored = self.logprob_dtype(device)
        return "" if inference_dtype(device, self.dtype) == scored else f"; log-probabilities in {scored}"

    # -- inference -----------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        from backends.local.engine import Batcher
        from backends.local.sampler import Row

        if not request.messages or not any(m.get("role") == "user" for m in request.messages):
            raise BackendError("messages must include a user message", status=400)
        base, adapter = self._target(request.model)
        engine = self._engine(base)
        prompt = engine.prompt(request.messages)
        room = engine.context - len(prompt)
        if room <= 0:
            raise BackendError(
                f"the prompt has {len(prompt)} tokens; {base.name} reads at most {engine.context}", status=400
            )
        wanted = request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS
        row = Row(prompt, min(wanted, room), request.temperature, request.seed or 0)
        if self._batcher is None:
            size = self.max_batch or engine.max_batch  # the engine's: chosen for this machine
            self._batcher = Batcher(lambda key, payloads: key[0].generate(key[1], payloads, size), size)
        sampled = await self._batcher.submit((engine, adapter), row)
        return Completion(
            engine.decode(sampled.tokens), request.model, len(prompt), len(sampled.tokens), sampled.finish
        )

    async def continuation_logprobs(self, model: str, messages: list[dict], continuations: list[str]) -> list[float]:
        """log P(the assistant's whole reply is exactly c | messages) for each c: the sum of the
        log-probabilities of c's tokens and of the end-of-turn token after them (so "A" and
        "A) HELLO" are different replies, and the casings of a word are disjoint events). The
        reply is tokenized as the chat template renders it after the prompt."""
        from backends.local.loading import choose_device

        base, adapter = self._target(model)
        engine = self._engine(base, self.logprob_dtype(choose_device(self.device)))
        prompt = engine.prompt(messages)
        return engine.logprobs(adapter, prompt, [engine.reply_tokens(messages, prompt, c) for c in continuations])

    async def aclose(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None


def _env_batch() -> int | None:
    value = os.environ.get(MAX_BATCH_ENV)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"local backend: {MAX_BATCH_ENV}={value!r}: expected a whole number") from None
