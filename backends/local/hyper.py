"""Fine-tuning hyperparameters: what a job spec may say, and what the training loop uses.

    n_epochs                  "auto" = about 100 example passes, 1-25 epochs (OpenAI's documented
                              heuristic; the harness estimates cost and time with the same rule)
    batch_size                "auto" = 1 per 50 examples, 1-8
    learning_rate_multiplier  learning rate = multiplier x BASE_LEARNING_RATE ("auto" = 1)
    learning_rate             local only: the learning rate itself (not with the multiplier)
    lora_r, lora_alpha        local only: LoRA rank (default 16) and scale (default 2 x rank)

BASE_LEARNING_RATE (5e-4) is where a LoRA on all linear layers of SmolLM2-135M learned the ten
HELLO examples (loss 2.8 -> 0.06 in 8 epochs, measured on this project's CPU machine). The
schedule decays linearly from it to 0 over all steps; AdamW, no weight decay, gradients clipped
at norm 1, no dropout (so that a seed fixes the result).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from backends.base import BackendError

BASE_LEARNING_RATE = 5e-4
DEFAULT_LORA_R = 16
KNOWN = ("n_epochs", "batch_size", "learning_rate_multiplier", "learning_rate", "lora_r", "lora_alpha")


@dataclass(frozen=True)
class Hyper:
    n_epochs: int
    batch_size: int
    learning_rate: float
    lora_r: int
    lora_alpha: float
    seed: int

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self, alpha: bool = True) -> str:
        """One line for the job's events; alpha=False where the provider sets the scale itself."""
        scale = f" lora_alpha={self.lora_alpha:g}" if alpha else ""
        return (
            f"n_epochs={self.n_epochs} batch_size={self.batch_size} learning_rate={self.learning_rate:g} "
            f"lora_r={self.lora_r}{scale} seed={self.seed}"
        )


def auto_epochs(n_examples: int) -> int:
    """Mirrors harness.domain.tokens.default_epochs (a backend does not import the harness's
    dataset code; tests check that the two agree)."""
    if n_examples <= 0:
        return 3
    if n_examples * 3 < 100:
        return min(25, 100 // n_examples)
    if n_examples * 3 > 25_000:
        return max(1, 25_000 // n_examples)
    return 3


def _bad(key: str, value, expected: str) -> BackendError:
    return BackendError(f"hyperparameter {key}: expected {expected}, got {value!r}", status=400)


def _int(params: dict, key: str, low: int, high: int, auto: int) -> int:
    value = params.get(key)
    if value is None or value == "auto":  # left out or "auto": the backend's choice
        return auto
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, value, f"an integer from {low} to {high} or 'auto'")
    return value


def _positive(params: dict, key: str, allow_auto: bool) -> float | None:
    value = params.get(key)
    if value is None or (allow_auto and value == "auto"):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _bad(key, value, "a number above 0" + (" or 'auto'" if allow_auto else ""))
    return float(value)


def resolve(
    params: dict,
    n_examples: int,
    seed: int | None,
    *,
    known: tuple[str, ...] = KNOWN,
    default_rank: int = DEFAULT_LORA_R,
    provider: str = "local",
) -> Hyper:
    """The hyperparameters a job trains with. The tinker backend shares this with its own
    `known` (no lora_alpha: the service sets the scale) and its default rank."""
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise BackendError(
            f"unknown hyperparameter(s) {', '.join(unknown)}; the {provider} backend takes {', '.join(known)}",
            status=400,
        )
    multiplier = _positive(params, "learning_rate_multiplier", allow_auto=True)
    learning_rate = _positive(params, "learning_rate", allow_auto=False)
    if multiplier is not None and learning_rate is not None:
        raise BackendError("give learning_rate or learning_rate_multiplier, not both", status=400)
    lora_r = _int(params, "lora_r", 1, 1024, default_rank)
    alpha = _positive(params, "lora_alpha", allow_auto=False)
    return Hyper(
        n_epochs=_int(params, "n_epochs", 1, 50, auto_epochs(n_examples)),
        batch_size=_int(params, "batch_size", 1, 1024, max(1, min(8, n_examples // 50))),
        learning_rate=learning_rate or BASE_LEARNING_RATE * (multiplier or 1.0),
        lora_r=lora_r,
        lora_alpha=alpha if alpha is not None else 2.0 * lora_r,
        seed=0 if seed is None else seed,
    )
