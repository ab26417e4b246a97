"""What a run will cost before it starts: tokens, calls, the estimate from the backend's
prices, and the checks that refuse to start (unknown price, over --max-cost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backends.base import Backend, ConfigError
from harness.calls.budget import Pricer
from harness.domain import dataset, pricing
from harness.domain.scenario import Example, Scenario
from harness.domain.tokens import TOKENS_REPLY_PRIMING, count_tokens
from harness.errors import PlanError
from harness.store.run_files import RunOptions, Settings
from harness.store.summary import PowerFigure


@dataclass
class Power:
    """What the run will detect for its primary condition (fine-tuned, else in-context)
    against base: one figure under the icc the plan assumes (harness.analysis.effects)."""

    a: str
    samples: int  # per probe, condition and replicate
    replicates: int
    figure: PowerFigure


@dataclass
class Plan:
    examples: int
    training_tokens: int  # per epoch
    epochs: int
    training_cost: float | None  # all jobs
    probe_calls: int
    inference_cost: float | None
    unpriced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    jobs: int = 0
    power: Power | None = None

    @property
    def total(self) -> float | None:
        parts = [self.training_cost or 0.0, self.inference_cost or 0.0]
        return None if self.unpriced else sum(parts)


# A judge request's prompt besides the answer it grades (the rubric), roughly. Completions are
# estimated at max_tokens: an upper bound, so a budget check errs on the side of not spending.
EST_PROMPT_TOKENS = 60


def training_tokens(scenario: Scenario, examples: list[Example], base_model: str) -> int:
    """Tokens of one epoch of the training file, counted as OpenAI counts them."""
    return sum(count_tokens(dataset.chat_records(scenario, examples), base_model))


def probe_prompt_tokens(scenario: Scenario, examples: list[Example], condition: str, model: str) -> list[int]:
    """Each probe's prompt as it is sent (the system prompt, the longest wording with a choice
    probe's options, and in_context's examples), counted as the ledger counts it: a
    7,000-token system prompt was estimated at 60 tokens per call ($0.03 for a $0.195 run)."""
    from harness.calls.probing import messages_for, user_prompt

    extra = 0
    if condition == "in_context":  # the examples as earlier turns: counted once, added to each
        turns = messages_for(scenario, examples, condition, "")[len(messages_for(scenario, [], condition, "")) - 1 : -1]
        extra = count_tokens([{"messages": turns}], model)[0] - TOKENS_REPLY_PRIMING
    counts = []
    for probe in scenario.probes:
        options = [o.upper() for o in probe.options] if probe.kind == "choice" and probe.options else None
        prompts = [
            messages_for(scenario, [], "base", user_prompt(probe, options, i)) for i in range(len(probe.prompts))
        ]
        counts.append(max(count_tokens([{"messages": m} for m in prompts], model)) + extra)
    return counts


def make_plan(scenario: Scenario, examples: list[Example], s: Settings, options: RunOptions, pricer: Pricer) -> Plan:
    """The run's cost, priced by its backend (`pricer`: Pricer.of(the backend's class))."""
    warnings = check_model_base(options.model, s.base_model)
    ft = scenario.fine_tune
    if options.model and (ft.replicates > 1 or "sham" in scenario.eval.conditions) and not options.replicates:
        warnings.append(
            f"--model {options.model}: one existing model is probed, so the scenario's "
            f"{ft.replicates} replicates and sham control are not used"
        )
    tokens = training_tokens(scenario, examples, s.base_model)
    unpriced: list[str] = []
    training_cost = None
    jobs = len(s.trainings) * s.replicates
    if s.train:
        one = pricer.training(tokens, s.epochs, s.base_model)  # the sham has the same tokens
        training_cost = None if one is None else one * jobs
        if training_cost is None:
            unpriced.append(f"training {s.base_model}")
    inference = 0.0
    calls = 0
    for cond in s.conditions:
        model = _probe_model_name(cond, s, options)
        per_probe = s.samples * s.replicates_of(cond)
        n = len(scenario.probes) * per_probe
        calls += n
        prompt = sum(probe_prompt_tokens(scenario, examples, cond, s.base_model)) * per_probe
        cost = pricer.inference(prompt, scenario.eval.max_tokens * n, model)
        if cost is None:
            unpriced.append(f"inference {model}")
        else:
            inference += cost
    if options.judge:  # one verdict per describe answer: the answer is the prompt
        n = sum(p.kind == "describe" for p in scenario.probes) * s.total_samples
        calls += n
        cost = pricer.inference((EST_PROMPT_TOKENS + scenario.eval.max_tokens) * 3 * n, 10 * n, options.judge)
        if cost is None:
            unpriced.append(f"inference {options.judge}")
        else:
            inference += cost
    return Plan(
        len(examples),
        tokens,
        s.epochs,
        training_cost,
        calls,
        None if any(u.startswith("inference") for u in unpriced) else inference,
        unpriced,
        warnings,
        jobs=jobs,
        power=power_of(s),
    )


def power_of(s: Settings) -> Power | None:
    """The figure the report will repeat as "planned" (the same function, the same assumption)."""
    from harness.analysis.effects import ASSUMED_ICC, power_figure

    a = next((c for c in ("fine_tuned", "in_context") if c in s.conditions), None)
    if a is None or "base" not in s.conditions:
        return None
    replicates = s.replicates if a == "fine_tuned" else 1
    return Power(a, s.samples, replicates, power_figure(s.samples, replicates, ASSUMED_ICC, "assumed"))


def _snapshot(model: str) -> str:
    name = model.strip().removeprefix("openai/")
    return pricing.ALIASES.get(name, name)


def check_model_base(model: str | None, base_model: str) -> list[str]:
    """--model names an existing fine-tuned model; the base and in_context controls use the
    scenario's base model, so the two must be the same model or the controls compare against
    the wrong one. Refuses a mismatch; returns a warning when the id shows no base."""
    if not model:
        return []
    parts = model.strip().removeprefix("openai/").split(":")
    if parts[0] != "ft" or len(parts) < 2 or not parts[1]:
        return [
            f"--model {model}: cannot tell its base model; the base and in_context controls "
            f"use the scenario's {base_model}"
        ]
    if _snapshot(parts[1]) != _snapshot(base_model):
        raise PlanError(
            f"--model {model} was fine-tuned from {parts[1]}, but the scenario's "
            f"fine_tune.base_model is {base_model}: the controls would probe another model; "
            f"set fine_tune.base_model to {parts[1]}"
        )
    return []


def _probe_model_name(condition: str, s: Settings, options: RunOptions) -> str:
    if condition in ("fine_tuned", "sham"):
        return options.model or f"ft:{s.base_model}"
    return s.base_model


def check_plan(plan: Plan, options: RunOptions, simulated: bool) -> None:
    """Refuse to start a run that may cost more than allowed or whose price is unknown.
    A simulated backend costs nothing, so only its estimate is shown."""
    if simulated:
        return
    if plan.unpriced and not options.allow_unpriced:
        raise PlanError(f"no known price for {', '.join(plan.unpriced)}; pass --allow-unpriced to run anyway")
    if plan.total is not None and plan.total > options.max_cost:
        raise PlanError(f"estimated cost ${plan.total:.4g} exceeds --max-cost ${options.max_cost:.4g}")


def check_fits_backend(
    scenario_path: Path, name: str, cls: type[Backend], examples: int, train: bool, hyperparameters: dict | None = None
) -> None:
    """The provider would refuse the upload or the job: say so before anything is created
    (run) or as soon as the scenario is checked (validate), with the same words."""
    known = cls.HYPERPARAMETERS
    unknown = sorted(set(hyperparameters or {}) - set(known)) if known is not None and train else []
    if unknown:
        raise ConfigError(
            f"{scenario_path}: fine_tune.hyperparameters: backend {name!r} does not take {', '.join(unknown)} "
            f"(it takes {', '.join(known or ())})"
        )
    minimum = max(1, cls.min_training_examples)
    if train and examples < minimum:
        raise ConfigError(
            f"{scenario_path}: examples: backend {name!r} needs at least {minimum} "
            f"training examples to fine-tune, the scenario has {examples}"
        )
