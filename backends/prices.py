"""OpenAI's prices, from the harness's dated table (harness.domain.pricing: pure data), as
the backends' ModelPrice: the openai backend bills by them, and the mock is priced like the
model it stands for (its costs are estimates of the real experiment; nothing is charged)."""

from __future__ import annotations

from backends.base import ModelPrice


def openai_price(model: str) -> ModelPrice | None:
    from harness.domain import pricing  # pure: a table and arithmetic, no harness machinery

    rates = pricing.inference_price(model)
    if rates is None:
        return None
    return ModelPrice(input=rates[0], output=rates[1], training=pricing.training_price(model))
