"""A run's options (what the user asked for, saved in the manifest) and its settings
(what it actually uses once the scenario's defaults are filled in)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.domain.scenario import Scenario


@dataclass
class RunOptions:
    backend: str = "mock"
    samples: int | None = None
    temperature: float | None = None
    seed: int | None = None
    conditions: list[str] | None = None
    model: str | None = None  # an existing fine-tuned model: probe it, train nothing
    base_model: str | None = None  # overrides the scenario's fine_tune.base_model
    api_base: str | None = None
    max_cost: float = 25.0
    allow_unpriced: bool = False
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    poll_interval: float | None = None
    judge: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "RunOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Settings:
    """What a run actually uses, once scenario defaults and options are combined."""
    samples: int
    temperature: float
    seed: int
    conditions: list[str]
    train: bool
    base_model: str
    epochs: int


def settings_for(scenario: Scenario, options: RunOptions) -> Settings:
    conditions = options.conditions or list(scenario.eval.conditions)
    # A missing n_epochs is the provider's default, "auto": estimate both the same way.
    epochs = scenario.fine_tune.hyperparameters.get("n_epochs", "auto")
    return Settings(
        samples=options.samples or scenario.eval.samples,
        temperature=scenario.eval.temperature if options.temperature is None else options.temperature,
        seed=options.seed if options.seed is not None else (scenario.fine_tune.seed or 0),
        conditions=conditions,
        train="fine_tuned" in conditions and not options.model,
        base_model=options.base_model or scenario.fine_tune.base_model,
        epochs=epochs if isinstance(epochs, int) else _auto_epochs(scenario),
    )


def _auto_epochs(scenario: Scenario) -> int:
    """What the provider's "auto" comes to, for estimates (3 when the count is unknown)."""
    from harness.domain.dataset import default_epochs
    return default_epochs(len(scenario.examples)) if scenario.examples else 3
