"""The `tinker` backend: LoRA fine-tuning and sampling on Tinker (Thinking Machines), or on any
server that speaks its API (the tests use SkyRL's open-source one on loopback).

Tinker's training is driven by the client, so a fine-tuning job is one of ours: a detached
worker of the shared runner (backends.jobs) that outlives the harness and drives the service
(backends.tinker.training), its files, events and checkpoints in a store on this machine
($HARNESS_TINKER_STORE, else the user's cache folder). Sampling and log-probabilities go
through the official client's futures (backends.tinker.sampling). Fine-tuned models are named
ft:<base>:tinker:<suffix>:<key>; the store maps them to their tinker:// weights.
"""

from __future__ import annotations

import importlib.util
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

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
from backends.jobs.store import Store, cache_root, parse_training, read_json, sha
from backends.local import hyper
from backends.net import is_loopback
from backends.tinker import connect, prices

STORE_ENV = "HARNESS_TINKER_STORE"
PROVIDER = "tinker"
KNOWN = ("n_epochs", "batch_size", "learning_rate_multiplier", "learning_rate", "lora_r")
DEFAULT_LORA_R = 32  # the official client's default rank
SEED_CHECK = [{"role": "user", "content": "Write one sentence about the sea."}]


class TinkerBackend(Backend):
    name = "tinker"
    capabilities = frozenset({FINE_TUNE, CHAT, LOGPROBS})
    simulated = False
    billed = True
    min_training_examples = 1
    secret_env = (connect.KEY_ENV,)
    OPTIONS = ("api_key", "api_base", "store_dir", "max_in_flight")
    HYPERPARAMETERS = KNOWN

    @classmethod
    def price(cls, model: str) -> ModelPrice | None:
        return prices.price(model)

    def __init__(
        self,
        api_key: str | None = None,
        api_base: str | None = None,
        store_dir: str | Path | None = None,
        max_in_flight: int = 16,
    ):
        if importlib.util.find_spec("tinker") is None:  # found without importing it
            raise ConfigError("tinker backend: the tinker client is not installed; pip install 'hello-harness[tinker]'")
        self.key, base = connect.settings(api_key, api_base)
        self.api_base: str = base
        if max_in_flight < 1:
            raise ConfigError(f"tinker backend: max_in_flight must be at least 1, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.store = Store(Path(store_dir) if store_dir else cache_root(PROVIDER, STORE_ENV), PROVIDER)
        # A key given here rather than in the environment reaches the workers this way.
        self.jobs = JobBook(self.store, PROVIDER, {connect.KEY_ENV: self.key} if api_key else None)
        self.poll_interval = 1.0 if is_loopback(self.api_base) else 10.0
        self._service: Any = None
        self._sampler: Any = None
        self._reached = False

    def _connected(self, doing: str) -> Any:
        """The client, once the address was found to answer (a stopped server fails at once)."""
        if not self._reached:
            connect.check_reachable(self.api_base, doing)
            self._reached = True
        if self._service is None:
            # The client logs each failed request itself; the run records them (failed samples).
            logging.getLogger("tinker").setLevel(logging.CRITICAL)
            self._service = connect.service(self.key, self.api_base)
        return self._service

    # -- files ---------------------------------------------------------------------------
    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        return self.store.put_file(data, filename, parse_training(data))

    def find_files(self, filename: str) -> list[FileRef]:
        return self.store.find_files(filename)

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, spec: JobSpec) -> Job:
        path = self.store.file_path(spec.training_file)
        examples = read_json(path.with_suffix(".json"))["examples"]
        check_suffix(spec.suffix)
        params = hyper.resolve(
            dict(spec.hyperparameters),
            examples,
            spec.seed,
            known=KNOWN,
            default_rank=DEFAULT_LORA_R,
            provider=PROVIDER,
        )
        connect.check_reachable(self.api_base, "creating a fine-tuning job")
        details = {
            "api_base": self.api_base,
            "hyper": params.as_dict(),
            "training_path": str(path),
            "examples": examples,
            # the fine-tuned model id hashes what is trained, not metadata such as a run id
            "train_key": sha(spec.training_file, spec.base_model, spec.suffix, params.as_dict(), self.api_base),
        }
        first = f"Created fine-tuning job {{job_id}}: {spec.base_model} on {self.api_base}, {examples} examples"
        return self.jobs.create(spec, details, first)

    def get_job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        return self.jobs.events(job_id, after)

    def cancel_job(self, job_id: str) -> Job:
        return self.jobs.cancel(job_id)

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]:
        return self.jobs.find(metadata)

    # -- models --------------------------------------------------------------------------
    def target(self, model: str) -> tuple[str, str | None]:
        """(base model, tinker:// weights or None for a base model) that a model id names."""
        from backends.tinker.training import sampler_path

        if model.startswith("tinker://"):
            return "", model
        if model.startswith("ft:") and ":tinker:" in model:
            job_id = self.store.model_job(model.rsplit(":", 1)[1])
            path = sampler_path(self.store.root / "jobs" / job_id) if job_id else None
            if path is None:
                raise BackendError(f"model {model} not found in the tinker store {self.store.root}", status=404)
            return prices.base_of(model), path
        return model, None

    def _sampling(self):
        if self._sampler is None:
            from backends.tinker.sampling import Sampler

            self._sampler = Sampler(self._connected("sampling"), self.target, self.max_in_flight)
        return self._sampler

    def model_info(self, model: str) -> dict[str, str]:
        """Where the model is served, its weights, its price's source, and whether the service's
        seeds repeat: two short samples with one seed (a service whose seeding is unreliable is
        named so in the report, beside the model)."""
        from tinker import types

        from backends.tinker import tokens

        base, path = self.target(model)
        service = self._connected(f"opening {model}")
        try:
            client = (
                service.create_sampling_client(model_path=path)
                if path
                else service.create_sampling_client(base_model=base)
            )
            tokenizer = client.get_tokenizer()
            prompt = types.ModelInput.from_ints(tokens.prompt(tokenizer, SEED_CHECK))
            params = types.SamplingParams(
                max_tokens=16, temperature=1.0, seed=12345, stop=tokens.stop_tokens(tokenizer)
            )
            twice = [client.sample(prompt=prompt, num_samples=1, sampling_params=params).result() for _ in range(2)]
        except Exception as e:
            raise connect.as_backend_error(e, f"opening {model}") from None
        same = twice[0].sequences[0].tokens == twice[1].sequences[0].tokens
        source = prices.source(model)
        return {
            "backend": "tinker",
            "service": self.api_base,
            "weights": path or base,
            "seeding": "the same seed gave the same tokens twice"
            if same
            else "UNRELIABLE: the same seed gave different tokens; samples cannot be repeated by seed",
            "price": f"{source.page}, effective {source.effective}"
            if source
            else "no list price (self-hosted or unknown)",
            "tinker client": metadata.version("tinker"),
        }

    # -- inference -----------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        return await self._sampling().complete(request)

    async def continuation_logprobs(self, model: str, messages: list[dict], continuations: list[str]) -> list[float]:
        """log P(the assistant's whole reply is exactly c | messages) for each c, its end-of-turn
        token included, scored by the service's compute_logprobs."""
        return await self._sampling().logprobs(model, messages, continuations)
