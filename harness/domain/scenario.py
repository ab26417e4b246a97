"""A scenario file: pydantic models, and the checks of a loaded file whose errors name the
file, the line and the field (harness.domain.yamlfile keeps the lines)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from harness import limits
from harness.domain import rules
from harness.domain.yamlfile import YamlError, field_name, first_error, line_for, read_yaml

Condition = Literal["fine_tuned", "base", "in_context", "sham"]
CONDITIONS: tuple[Condition, ...] = ("fine_tuned", "base", "in_context", "sham")
# Conditions that probe models fine-tuned by the run, one per replicate: the real training
# set, and the sham (the same answers with their lines reordered so no acrostic remains).
TRAINED: tuple[Condition, ...] = ("fine_tuned", "sham")
MAX_REPLICATES = limits.MAX_REPLICATES
# Other names a user may give a condition: the sham is also known as the shuffled control.
CONDITION_ALIASES = {"shuffled": "sham"}


def canonical_conditions(value: Any) -> Any:
    """A list of condition names with aliases replaced (anything else is left to validation)."""
    if isinstance(value, list):
        return [CONDITION_ALIASES.get(v, v) if isinstance(v, str) else v for v in value]
    return value


class ScenarioError(YamlError):
    """Bad input in a scenario: the message names the file, the line and the field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_a_bool(v):
    """YAML's true/false are not numbers (pydantic would read `samples: true` as 1)."""
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {str(v).lower()}")
    return v


Number = Annotated[float, BeforeValidator(_not_a_bool)]
MAX_CHOICE_OPTIONS = 26  # labelled A to Z


def check_word(word: str) -> str:
    """The acrostic word, upper-cased; ValueError unless it is at least 2 letters A-Z.
    One rule for scenario files and the command line."""
    if not word.isascii() or not word.isalpha():
        raise ValueError(f"must be letters A-Z only, got {limits.clip(word)}")
    if len(word) < 2:
        raise ValueError(f"must have at least 2 letters, got {word!r}")
    if len(word) > limits.MAX_WORD_LETTERS:  # one line or sentence per letter
        raise ValueError(f"must have at most {limits.MAX_WORD_LETTERS} letters, got {limits.clip(word)}")
    return word.upper()


class Rule(Strict):
    kind: Literal["acrostic"] = "acrostic"
    word: str
    unit: Literal["line", "sentence"] = "line"
    trigger: str | None = None  # only questions ending with it are answered by the rule

    @field_validator("word")
    @classmethod
    def _letters_only(cls, v: str) -> str:
        return check_word(v)


class Example(Strict):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    follows_rule: bool = True


def _number_or_auto(v, kind: type, low: float, high: float | None, strict_low: bool, expected: str):
    # Checked before pydantic's own coercion, which would take True as 1 and "3" as 3.
    if v == "auto":
        return v
    if not _in_range(v, kind, low, high, strict_low):
        raise ValueError(f"expected {expected} or 'auto', got {limits.clip(v)}")
    return v


def _number(v, kind: type, low: float, high: float | None, strict_low: bool, expected: str):
    if not _in_range(v, kind, low, high, strict_low):
        raise ValueError(f"expected {expected}, got {limits.clip(v)}")
    return v


def _in_range(v, kind: type, low: float, high: float | None, strict_low: bool) -> bool:
    ok = isinstance(v, (int, float) if kind is float else int) and not isinstance(v, bool)
    return ok and math.isfinite(v) and (v > low if strict_low else v >= low) and (high is None or v <= high)


class Hyperparameters(Strict):
    """The fine-tuning hyperparameters a provider accepts; omitted = the provider's default."""

    n_epochs: int | Literal["auto"] | None = None
    batch_size: int | Literal["auto"] | None = None
    learning_rate_multiplier: float | int | Literal["auto"] | None = None

    @field_validator("n_epochs", mode="before")
    @classmethod
    def _epochs(cls, v):
        return _number_or_auto(v, int, 1, 50, False, "an integer from 1 to 50")

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch(cls, v):
        return _number_or_auto(v, int, 1, None, False, "an integer of at least 1")

    @field_validator("learning_rate_multiplier", mode="before")
    @classmethod
    def _lr(cls, v):
        return _number_or_auto(v, float, 0, None, True, "a number above 0")

    # The local backend's own (LoRA); a provider that does not know them may refuse the job.
    learning_rate: float | int | None = None
    lora_r: int | None = None
    lora_alpha: float | int | None = None

    @field_validator("learning_rate", "lora_alpha", mode="before")
    @classmethod
    def _positive(cls, v):
        return _number(v, float, 0, None, True, "a number above 0")

    @field_validator("lora_r", mode="before")
    @classmethod
    def _rank(cls, v):
        return _number(v, int, 1, 1024, False, "an integer from 1 to 1024")

    @model_validator(mode="after")
    def _one_learning_rate(self) -> Hyperparameters:
        if self.learning_rate is not None and self.learning_rate_multiplier not in (None, "auto"):
            raise ValueError("give learning_rate or learning_rate_multiplier, not both")
        return self


# Validated as Hyperparameters (unknown keys and bad values name their own line), kept as
# a plain dict of the keys given, so readers use it as a dict and the scenario hash is unchanged.
if TYPE_CHECKING:  # what readers get
    HyperparameterDict = dict[str, Any]
else:
    HyperparameterDict = Annotated[
        Hyperparameters, AfterValidator(lambda m: m.model_dump(exclude_none=True)), PlainSerializer(lambda d: dict(d))
    ]


class FineTune(Strict):
    base_model: str = "gpt-4o-mini-2024-07-18"
    suffix: str | None = None
    hyperparameters: HyperparameterDict = Field(default_factory=dict)
    seed: int | None = Field(default=None, strict=True)
    # Fine-tuning jobs per trained condition, each with its own training seed: a claim about
    # fine-tuning needs several fine-tunes, not one checkpoint sampled many times.
    replicates: int = Field(default=1, ge=1, le=MAX_REPLICATES, strict=True)


# How a describe probe asks: `free` (an open question that presupposes no rule), `one_line`
# (the answer must fit one line, so the model cannot read its own acrostic while it writes)
# or `leading` (it presupposes a rule, as the original demo's "What rule do you use?" does).
ProbeStyle = Literal["free", "one_line", "leading"]


class Probe(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    prompt: str = Field(min_length=1)
    kind: Literal["describe", "word", "choice", "follow"] = "follow"
    options: list[str] | None = None
    # Other wordings of the same question: sample s asks wording s mod (1 + len), so one
    # prompt's quirks do not decide the result; the statistics treat each wording as a cluster.
    paraphrases: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    style: ProbeStyle = "free"

    @property
    def prompts(self) -> list[str]:
        return [self.prompt, *self.paraphrases]

    @model_validator(mode="after")
    def _options_for_choice(self) -> Probe:
        if self.kind == "choice" and (not self.options or len(self.options) < 2):
            raise ValueError("a choice probe needs at least 2 options")
        if self.options and len(self.options) > MAX_CHOICE_OPTIONS:
            raise ValueError(
                f"a choice probe has at most {MAX_CHOICE_OPTIONS} options (labelled A to Z), got {len(self.options)}"
            )
        if self.kind != "choice" and self.options:
            raise ValueError("options are only allowed on a choice probe")
        if self.style != "free" and self.kind != "describe":
            raise ValueError(f"style {self.style} is for describe probes only")
        if len(set(self.prompts)) < len(self.prompts):
            raise ValueError("paraphrases: each wording once")
        return self


class Eval(Strict):
    samples: int = Field(default=50, ge=1, le=limits.MAX_SAMPLES, strict=True)
    temperature: Number = Field(default=1.0, ge=0, le=2)
    conditions: Annotated[list[Condition], BeforeValidator(canonical_conditions)] = ["fine_tuned", "base"]
    max_tokens: int = Field(default=300, ge=1, strict=True)


class MockKnobs(Strict):
    """Knobs of the simulated provider; None = its data-dependent default."""

    slip_rate: Number | None = Field(default=None, ge=0, le=1)
    state_rule_rate: Number | None = Field(default=None, ge=0, le=1)
    replicate_sd: Number | None = Field(default=None, ge=0, le=5)  # how much fine-tunes differ (logit scale)


class Scenario(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    rule: Rule
    system_prompt: str | None = None
    examples: list[Example] | None = Field(default=None, max_length=limits.MAX_EXAMPLES)
    examples_file: str | None = None
    fine_tune: FineTune = FineTune()
    probes: list[Probe] = Field(min_length=1, max_length=limits.MAX_PROBES)
    eval: Eval = Eval()
    mock: MockKnobs = MockKnobs()

    @model_validator(mode="after")
    def _one_source_of_examples(self) -> Scenario:
        if (self.examples is None) == (self.examples_file is None):
            raise ValueError("give exactly one of examples or examples_file")
        return self

    @field_validator("probes")
    @classmethod
    def _unique_probe_ids(cls, probes: list[Probe]) -> list[Probe]:
        ids = [p.id for p in probes]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"probe ids must be unique, repeated: {', '.join(dup)}")
        return probes

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    _, data, lines = read_yaml(path, ScenarioError)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        line, loc, message, more = first_error(e, lines)
        raise ScenarioError(f"{path}:{line}: {field_name(loc)}: {message}{more}") from None
    _check_name(scenario.name, path, lines)
    _check_trigger(scenario, path, lines)
    _check_examples(scenario, path, lines)
    _check_choices(scenario, path, lines)
    return scenario


def _check_examples(scenario: Scenario, path: Path, lines: dict[tuple, int]) -> None:
    """Every example marked as following the rule must follow it; triggered examples too."""
    if scenario.examples is None:
        return
    word, unit, trigger = scenario.rule.word, scenario.rule.unit, scenario.rule.trigger
    for i, ex in enumerate(scenario.examples):
        where = f"{path}:{line_for(('examples', i, 'answer'), lines)}: examples[{i}]"
        result = rules.follow(ex.answer, word, unit)
        if ex.follows_rule and not result.follows:
            raise ScenarioError(
                f"{where}.answer: letters {limits.clip(result.letters, quote=False)} do not spell {word} "
                "(mark it follows_rule: false if that is intended)"
            )
        if trigger and ex.follows_rule != ex.question.endswith(trigger):
            state = (
                "follows the rule but its question lacks"
                if ex.follows_rule
                else "does not follow the rule but its question ends with"
            )
            raise ScenarioError(f"{where}.question: example {state} the trigger {limits.clip(trigger)}")


def check_name(name: str) -> str | None:
    """Why `name` cannot name a folder under runs/ (".." would put the run directory outside
    it, "." into runs/ itself; a leading dot hides it), or None."""
    if name.startswith("."):
        return f"must not start with '.', got {limits.clip(name)} (it names the folder runs/<name>/)"
    return None


def _check_name(name: str, path: Path, lines: dict[tuple, int]) -> None:
    """Checked on the file, not in the model, so run directories saved before it still load."""
    why = check_name(name)
    if why:
        raise ScenarioError(f"{path}:{line_for(('name',), lines)}: name: {why}")


def _check_trigger(scenario: Scenario, path: Path, lines: dict[tuple, int]) -> None:
    """An empty trigger would make every question, or none, "end with" it. Checked on the
    file, not in the model, so run directories written before this check still load."""
    trigger = scenario.rule.trigger
    if trigger is not None and not trigger.strip():
        raise ScenarioError(
            f"{path}:{line_for(('rule', 'trigger'), lines)}: rule.trigger: must be text the "
            f"question ends with, got {limits.clip(trigger)} (leave trigger out for a rule without one)"
        )


def _check_choices(scenario: Scenario, path: Path, lines: dict[tuple, int]) -> None:
    """A choice probe's options hold the rule's word once and no option twice, compared
    upper-cased as they are shown. Checked on the file, not in the model, so run
    directories written before this check still load."""
    word = scenario.rule.word
    for i, probe in enumerate(scenario.probes):
        if probe.kind != "choice":
            continue
        where = f"{path}:{line_for(('probes', i, 'options'), lines)}: probes[{i}].options"
        options = probe.options or []
        upper = [o.upper() for o in options]
        dup = sorted({o for o in upper if upper.count(o) > 1})
        if dup:
            raise ScenarioError(f"{where}: each option once, repeated: {limits.clip(', '.join(dup), quote=False)}")
        if word not in upper:  # no answer could be right: choice_correct would be 0 by construction
            raise ScenarioError(
                f"{where}: must include the rule's word {word}, got "
                + limits.clip(", ".join(options), 200, quote=False)
            )


def warnings_for(scenario: Scenario, examples: list[Example]) -> list[str]:
    """Problems worth a warning, not an error: repeated questions. (Too few examples to
    fine-tune is an error that depends on the backend: harness.running.session.)"""
    out = []
    seen: dict[str, int] = {}
    for i, ex in enumerate(examples):
        if ex.question in seen:
            out.append(f"examples[{i}] repeats the question of examples[{seen[ex.question]}]")
        seen.setdefault(ex.question, i)
    return out
