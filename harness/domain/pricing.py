"""Our own dated price table for OpenAI fine-tunable models (USD per 1M tokens).

Prices change; a run must never pretend a price is known when it is not, so every lookup
returns None for a model missing from the table (callers print "unknown price"), never 0.
Simulated (mock) models carry real base names and are priced like the model they stand for:
their costs are estimates of what the real experiment would cost.
"""

from __future__ import annotations

from dataclasses import dataclass

# Written down on this date without network access, from OpenAI's published prices as we
# know them; the inference rates agree with litellm 1.110's bundled price map, the training
# rates could not be cross-checked offline. Check the pricing page before a large spend.
PRICES_READ_ON = "2026-11-26"
SOURCE = (
    "OpenAI API pricing page, 'Fine-tuning' section (standard tier); inference prices "
    "cross-checked against litellm 1.110's bundled model price map"
)


@dataclass(frozen=True)
class Price:
    training: float  # per 1M training tokens (tokens in the file x epochs)
    input: float  # base model inference, per 1M prompt tokens
    output: float  # base model inference, per 1M completion tokens
    ft_input: float  # inference on a model fine-tuned from this base
    ft_output: float


PRICES: dict[str, Price] = {
    "gpt-4.1-2025-04-14": Price(training=25.00, input=2.00, output=8.00, ft_input=3.00, ft_output=12.00),
    "gpt-4.1-mini-2025-04-14": Price(training=5.00, input=0.40, output=1.60, ft_input=0.80, ft_output=3.20),
    "gpt-4.1-nano-2025-04-14": Price(training=1.50, input=0.10, output=0.40, ft_input=0.20, ft_output=0.80),
    "gpt-4o-2024-08-06": Price(training=25.00, input=2.50, output=10.00, ft_input=3.75, ft_output=15.00),
    "gpt-4o-mini-2024-07-18": Price(training=3.00, input=0.15, output=0.60, ft_input=0.30, ft_output=1.20),
    "gpt-3.5-turbo-0125": Price(training=8.00, input=0.50, output=1.50, ft_input=3.00, ft_output=6.00),
}

# Snapshot-less names, as OpenAI's fine-tuning API resolves them.
ALIASES: dict[str, str] = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}


@dataclass(frozen=True)
class Resolved:
    base: str  # the snapshot name in PRICES
    fine_tuned: bool


def resolve(model: str) -> Resolved | None:
    """Map a model id to its table entry: aliases to snapshots, "ft:<base>:org:suffix:id"
    (and the mock's "ft:<base>:mock:...") to the fine-tuned price of <base>."""
    name = model.strip()
    name = name.removeprefix("openai/")  # litellm's provider prefix
    fine_tuned = False
    if name.startswith("ft:"):
        parts = name.split(":")
        if len(parts) < 2 or not parts[1]:
            return None
        name, fine_tuned = parts[1], True
    name = ALIASES.get(name, name)
    if name not in PRICES:
        return None
    return Resolved(name, fine_tuned)


def is_priced(model: str) -> bool:
    return resolve(model) is not None


def training_price(model: str) -> float | None:
    """USD per 1M training tokens for fine-tuning `model` (a base model; an ft: id is
    priced as its base, since OpenAI bills continued fine-tuning at the base's rate)."""
    r = resolve(model)
    return PRICES[r.base].training if r else None


def inference_price(model: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens; fine-tuned ids get the fine-tuned rates."""
    r = resolve(model)
    if r is None:
        return None
    p = PRICES[r.base]
    return (p.ft_input, p.ft_output) if r.fine_tuned else (p.input, p.output)


def training_cost(tokens_per_epoch: int, epochs: int, model: str) -> float | None:
    price = training_price(model)
    if price is None:
        return None
    return tokens_per_epoch * epochs * price / 1_000_000


def inference_cost(prompt_tokens: int, completion_tokens: int, model: str) -> float | None:
    price = inference_price(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def format_usd(cost: float | None) -> str:
    """'$0.0123', or 'unknown price' (never $0 for a model we cannot price)."""
    if cost is None:
        return "unknown price"
    if cost < 1:
        return f"${cost:.4f}"
    return f"${cost:.2f}"
