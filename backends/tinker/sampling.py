"""Sampling and scoring through the official client's futures: one sampling client and
tokenizer per model (made once, on first use), each request sent as a future of the client
(which runs them on its own thread and connection pool) and awaited on the caller's loop, at
most `max_in_flight` at a time.

One sample per request, each with its own seed: with num_samples=n the open-source server
seeds sample i with seed+i, so two requests whose seeds differ by one would share answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from backends.base import BackendError, ChatRequest, Completion
from backends.tinker import connect, tokens

DEFAULT_MAX_TOKENS = 1024  # a request that sets no max_tokens (the harness always sets one)


class Sampler:
    """`target(model)` says what a model id names: (base model, tinker:// path or None)."""

    def __init__(self, service: Any, target: Callable[[str], tuple[str, str | None]], max_in_flight: int):
        self.service = service
        self.target = target
        self.max_in_flight = max_in_flight
        self._clients: dict[str, tuple[Any, Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gate = asyncio.Semaphore(max_in_flight)
        self._opening = asyncio.Lock()

    def _for_this_loop(self) -> None:
        """A gate and a lock per event loop (the harness runs a loop per step)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._gate, self._opening = loop, asyncio.Semaphore(self.max_in_flight), asyncio.Lock()

    def _semaphore(self) -> asyncio.Semaphore:
        self._for_this_loop()
        return self._gate

    async def client(self, model: str) -> tuple[Any, Any]:
        """(sampling client, tokenizer) for a model id, made once (concurrent first requests
        wait for the one that opens it)."""
        if model in self._clients:
            return self._clients[model]
        self._for_this_loop()
        async with self._opening:
            if model in self._clients:
                return self._clients[model]
            base, path = self.target(model)
            doing = f"opening {model} for sampling"
            try:
                if path is None:
                    client = await self.service.create_sampling_client_async(base_model=base)
                else:
                    client = await self.service.create_sampling_client_async(model_path=path)
                tokenizer = await asyncio.to_thread(client.get_tokenizer)
            except Exception as e:
                raise connect.as_backend_error(e, doing) from None
            self._clients[model] = (client, tokenizer)
        return self._clients[model]

    async def _await(self, future, doing: str):
        try:
            return await asyncio.wrap_future(future)
        except Exception as e:
            raise connect.as_backend_error(e, doing) from None

    async def complete(self, request: ChatRequest) -> Completion:
        from tinker import types

        if not request.messages or not any(m.get("role") == "user" for m in request.messages):
            raise BackendError("messages must include a user message", status=400)
        client, tokenizer = await self.client(request.model)
        prompt = _prompt(tokenizer, request.messages, request.model)
        params = types.SamplingParams(
            max_tokens=request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS,
            temperature=request.temperature,
            seed=request.seed,
            stop=tokens.stop_tokens(tokenizer),
        )
        async with self._semaphore():
            future = client.sample(prompt=types.ModelInput.from_ints(prompt), num_samples=1, sampling_params=params)
            result = await self._await(future, f"sampling from {request.model}")
        if not result.sequences:
            raise BackendError(f"sampling from {request.model}: the service returned no sequence", status=502)
        sequence = result.sequences[0]
        finish = "stop" if sequence.stop_reason == "stop" else "length"
        text = tokenizer.decode(sequence.tokens, skip_special_tokens=True)
        return Completion(text, request.model, len(prompt), len(sequence.tokens), finish)

    async def logprobs(self, model: str, messages: list[dict], continuations: list[str]) -> list[float]:
        """log P(the assistant's whole reply is exactly c | messages) for each c: the sum over its
        tokens and its end-of-turn token, from compute_logprobs of prompt + reply."""
        from tinker import types

        client, tokenizer = await self.client(model)
        prompt = _prompt(tokenizer, messages, model)
        totals = []
        for text in continuations:
            ids = prompt + tokens.reply(tokenizer, messages, prompt, text)
            async with self._semaphore():
                future = client.compute_logprobs(types.ModelInput.from_ints(ids))
                values = await self._await(future, f"scoring a reply with {model}")
            totals.append(tokens.continuation_total(values, len(prompt), len(ids)))
        return totals


def _prompt(tokenizer, messages: list[dict], model: str) -> list[int]:
    try:
        return tokens.prompt(tokenizer, messages)
    except Exception as e:  # the template's own error (jinja): e.g. a role it refuses
        raise BackendError(
            f"the chat template of {model} cannot render these messages: {type(e).__name__}: {e}", status=400
        ) from None
