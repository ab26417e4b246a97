"""What Tinker bills, in USD per 1M tokens, per model and phase: prefill (the prompt's tokens,
including the tokens a log-probability probe scores), sample (tokens written) and train
(tokens in the training file x epochs). Each row says where it was read and for which date.

Tinker's own pages could not be read from this project's machines (no internet); the rows
come from public transcriptions of its price page, named in each source, and agree with each
other where they overlap. Check https://tinker-docs.thinkingmachines.ai/tinker/models/ before a
large spend. Not modelled: the 80% discount on cached prefill tokens (so estimates err high),
limited-time discounts (those models are left out rather than priced low) and checkpoint
storage ($0.10 per GB-month).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backends.base import ModelPrice


@dataclass(frozen=True)
class Source:
    page: str
    effective: str  # the date the prices took effect
    read: str  # how and when the figures were read


JULY_2026 = Source(
    "https://tinker-docs.thinkingmachines.ai/tinker/models/",
    "2026-07-17",
    "read 2026-12-07 from the transcription in github.com/sundial-org/skills (tinker-training-cost); "
    "the Qwen3-8B row matches a second transcription read 2026-10-07 (github.com/api-evangelist/thinking-machines)",
)
JANUARY_2026 = Source(
    "https://thinkingmachines.ai/tinker/",
    "2026-01-05",
    "read 2026-12-07 from a public transcription of that page; older than the July 2026 change "
    "(prefill and sample +50%, train +10%), whose list no longer shows this model",
)

# model -> (prefill, sample, train, source)
TABLE: dict[str, tuple[float, float, float, Source]] = {
    "Qwen/Qwen3-8B": (0.195, 0.60, 0.44, JULY_2026),
    "Qwen/Qwen3.5-4B": (0.33, 1.005, 0.737, JULY_2026),
    "Qwen/Qwen3.5-9B": (0.66, 1.995, 1.463, JULY_2026),
    "Qwen/Qwen3.5-9B-Base": (0.66, 1.995, 1.463, JULY_2026),
    "Qwen/Qwen3.6-27B": (1.86, 5.595, 4.103, JULY_2026),
    "Qwen/Qwen3.6-35B-A3B": (0.54, 1.335, 1.177, JULY_2026),
    "Qwen/Qwen3.5-35B-A3B-Base": (0.54, 1.335, 1.177, JULY_2026),
    "Qwen/Qwen3.5-397B-A17B": (3.00, 7.50, 6.60, JULY_2026),
    "openai/gpt-oss-20b": (0.18, 0.45, 0.396, JULY_2026),
    "openai/gpt-oss-120b": (0.33, 0.84, 0.737, JULY_2026),
    "deepseek-ai/DeepSeek-V3.1": (1.695, 4.215, 3.718, JULY_2026),
    "moonshotai/Kimi-K2.6": (2.205, 5.49, 4.84, JULY_2026),
    "meta-llama/Llama-3.1-8B": (0.13, 0.40, 0.40, JANUARY_2026),
    "meta-llama/Llama-3.1-8B-Instruct": (0.13, 0.40, 0.40, JANUARY_2026),
}
SELF_HOSTED = ModelPrice(input=0.0, output=0.0, training=0.0)


def base_of(model: str) -> str:
    """The base model of a fine-tuned id (ft:<base>:tinker:<suffix>:<key>), else the id itself."""
    if model.startswith("ft:") and ":tinker:" in model:
        return model[3:].rsplit(":tinker:", 1)[0]
    if model.startswith("ft:"):  # the harness's placeholder while planning: ft:<base>
        return model[3:]
    return model


def price(model: str) -> ModelPrice | None:
    """The row of `model` (a fine-tuned model samples at its base's rates), $0 for a model that
    is a folder on this machine (only a self-hosted server, such as the tests' open-source one,
    can serve it: the hosted service takes names), None for anything else."""
    base = base_of(model)
    row = TABLE.get(base)
    if row is not None:
        return ModelPrice(input=row[0], output=row[1], training=row[2])
    if Path(base).expanduser().is_dir():
        return SELF_HOSTED
    return None


def source(model: str) -> Source | None:
    row = TABLE.get(base_of(model))
    return row[3] if row else None
