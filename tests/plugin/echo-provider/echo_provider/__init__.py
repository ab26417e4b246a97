"""A toy provider living in its own distribution, to show (and test) that a backend from
another package plugs into the harness through the `harness.backends` entry-point group.

It can only chat, and its answer is the last user message echoed back with a prefix, so a
test can tell exactly what it sent. Fine-tuning calls fail with the base class's
BackendError, as a real chat-only provider's would.
"""

from __future__ import annotations

from backends.base import CHAT, Backend, ChatRequest, Completion, ModelPrice

PREFIX = "echo: "


def echo_text(request: ChatRequest) -> str:
    """The answer to a request: the last user message, prefixed (public so tests can compare)."""
    users = [m["content"] for m in request.messages if m.get("role") == "user"]
    return PREFIX + (users[-1] if users else "")


class EchoBackend(Backend):
    """Chat only: the base class answers every fine-tuning call with a clear BackendError."""

    name = "echo"
    capabilities = frozenset({CHAT})
    simulated = True  # a toy: nothing it says is about a real model

    @classmethod
    def price(cls, model: str) -> ModelPrice | None:
        """USD per 1M tokens of `model` here; None for a model whose price is unknown (a paid
        run is then refused unless --allow-unpriced). The echo costs nothing."""
        return ModelPrice(input=0.0, output=0.0)

    async def complete(self, request: ChatRequest) -> Completion:
        text = echo_text(request)
        prompt_words = sum(len(m.get("content", "").split()) for m in request.messages)
        return Completion(
            text=text, model=request.model, prompt_tokens=prompt_words, completion_tokens=len(text.split())
        )
