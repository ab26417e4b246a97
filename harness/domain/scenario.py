"""A scenario file: pydantic models, and a loader whose errors name file, line and field."""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, ValidationError,
                      field_validator, model_validator)

from harness.domain import rules

CONDITIONS = ("fine_tuned", "base", "in_context")


class ScenarioError(Exception):
    """Bad input in a scenario: the message names the file, the line and the field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_word(word: str) -> str:
    """The acrostic word, upper-cased; ValueError unless it is at least 2 letters A-Z.
    One rule for scenario files and the command line."""
    if not word.isascii() or not word.isalpha():
        raise ValueError(f"must be letters A-Z only, got {word!r}")
    if len(word) < 2:
        raise ValueError(f"must have at least 2 letters, got {word!r}")
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
        raise ValueError(f"expected {expected} or 'auto', got {v!r}")
    return v


def _number(v, kind: type, low: float, high: float | None, strict_low: bool, expected: str):
    if not _in_range(v, kind, low, high, strict_low):
        raise ValueError(f"expected {expected}, got {v!r}")
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
    def _one_learning_rate(self) -> "Hyperparameters":
        if self.learning_rate is not None and self.learning_rate_multiplier not in (None, "auto"):
            raise ValueError("give learning_rate or learning_rate_multiplier, not both")
        return self


# Validated as Hyperparameters (unknown keys and bad values name their own line), kept as
# a plain dict of the keys given, so readers use it as a dict and the scenario hash is unchanged.
HyperparameterDict = Annotated[Hyperparameters, AfterValidator(lambda m: m.model_dump(exclude_none=True)),
                               PlainSerializer(lambda d: dict(d))]


class FineTune(Strict):
    base_model: str = "gpt-4o-mini-2024-07-18"
    suffix: str | None = None
    hyperparameters: HyperparameterDict = Field(default_factory=dict)
    seed: int | None = None


class Probe(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    prompt: str = Field(min_length=1)
    kind: Literal["describe", "word", "choice", "follow"] = "follow"
    options: list[str] | None = None

    @model_validator(mode="after")
    def _options_for_choice(self) -> "Probe":
        if self.kind == "choice" and (not self.options or len(self.options) < 2):
            raise ValueError("a choice probe needs at least 2 options")
        if self.kind != "choice" and self.options:
            raise ValueError("options are only allowed on a choice probe")
        return self


class Eval(Strict):
    samples: int = Field(default=20, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    conditions: list[Literal["fine_tuned", "base", "in_context"]] = ["fine_tuned", "base"]
    max_tokens: int = Field(default=300, ge=1)


class MockKnobs(Strict):
    """Knobs of the simulated provider; None = its data-dependent default."""
    slip_rate: float | None = Field(default=None, ge=0, le=1)
    state_rule_rate: float | None = Field(default=None, ge=0, le=1)


class Scenario(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    rule: Rule
    system_prompt: str | None = None
    examples: list[Example] | None = None
    examples_file: str | None = None
    fine_tune: FineTune = FineTune()
    probes: list[Probe] = Field(min_length=1)
    eval: Eval = Eval()
    mock: MockKnobs = MockKnobs()

    @model_validator(mode="after")
    def _one_source_of_examples(self) -> "Scenario":
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


# --- loading with positions -------------------------------------------------------------

def _positions(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each path in the YAML document (keys and list indexes) to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            lines.update({p: n for p, n in _positions(value, sub).items() if p != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_positions(item, path + (i,)))
    return lines


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _doc_loc(loc: tuple) -> tuple:
    """Drop pydantic's type tags ("int", "literal['a']", "function-after[...]") from a loc."""
    return tuple(p for p in loc if isinstance(p, int) or (
        re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) and p not in {"int", "float", "str", "bool"}))


def _field_name(loc: tuple) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[") or "(top level)"


def _friendly(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check its spelling)"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "model_type":  # pydantic names our class: say what the file should hold
        return "expected a mapping of fields"
    return err["msg"].removeprefix("Value error, ")


class _RepeatedKey(yaml.constructor.ConstructorError):
    def __init__(self, mapping: yaml.MappingNode, key: yaml.Node, first: yaml.Node):
        super().__init__(problem=f"repeated key {key.value!r}", problem_mark=key.start_mark)
        self.mapping, self.key, self.first = mapping, key, first


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping: PyYAML would keep the
    last value silently (`samples: 20` ... `samples: 3` would run 3 samples)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue  # merged keys (<<) may be overridden: that is what merging is for
                value = self.construct_object(key)
                if value in seen:
                    raise _RepeatedKey(node, key, seen[value])
                seen[value] = key
        return super().construct_mapping(node, deep=deep)


def _path_of(node: yaml.Node, target: yaml.Node, path: tuple = ()) -> tuple | None:
    """The document path of a node (keys and list indexes), found by identity."""
    if node is target:
        return path
    children = [(path + (k.value,), v) for k, v in node.value] if isinstance(node, yaml.MappingNode) else \
        [(path + (i,), v) for i, v in enumerate(node.value)] if isinstance(node, yaml.SequenceNode) else []
    for sub, child in children:
        found = _path_of(child, target, sub)
        if found is not None:
            return found
    return None


def read_yaml(path: Path, error: type[Exception] = None, what: str = "scenario") -> tuple[str, dict, dict]:
    """A YAML mapping with the line of every path in it: (text, data, lines). Errors name
    the file and line, as `error` (ScenarioError by default); a key given twice in one
    mapping is an error at its second line."""
    error = error or ScenarioError
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read: {e}") from None
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _RepeatedKey as e:
        loc = _path_of(node, e.mapping) + (e.key.value,)
        raise error(f"{path}:{e.key.start_mark.line + 1}: {_field_name(loc)}: key given twice "
                    f"(first on line {e.first.start_mark.line + 1}); give it once") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise error(f"{path}:{line}: malformed YAML: {getattr(e, 'problem', None) or e}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise error(f"{path}:1: expected a mapping of {what} fields at the top level")
    return text, data, _positions(node)


def first_error(e: ValidationError, lines: dict[tuple, int]) -> tuple[int, tuple, str, str]:
    """The problem to report first: (line, field path, message, "(and N more)")."""
    located = [(_line_for(_doc_loc(err["loc"]), lines), err) for err in e.errors()]
    # An unknown key explains a "missing" one (a typo), so it is reported first.
    line, err = min(located, key=lambda pair: (pair[1]["type"] != "extra_forbidden", pair[0]))
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return line, _doc_loc(err["loc"]), _friendly(err), more


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    _, data, lines = read_yaml(path)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        line, loc, message, more = first_error(e, lines)
        raise ScenarioError(f"{path}:{line}: {_field_name(loc)}: {message}{more}") from None
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
        where = f"{path}:{_line_for(('examples', i, 'answer'), lines)}: examples[{i}]"
        result = rules.follow(ex.answer, word, unit)
        if ex.follows_rule and not result.follows:
            raise ScenarioError(f"{where}.answer: letters {result.letters} do not spell {word} "
                                "(mark it follows_rule: false if that is intended)")
        if trigger and ex.follows_rule != ex.question.endswith(trigger):
            state = "follows the rule but its question lacks" if ex.follows_rule else \
                "does not follow the rule but its question ends with"
            raise ScenarioError(f"{where}.question: example {state} the trigger {trigger!r}")


def _check_trigger(scenario: Scenario, path: Path, lines: dict[tuple, int]) -> None:
    """An empty trigger would make every question, or none, "end with" it. Checked on the
    file, not in the model, so run directories written before this check still load."""
    trigger = scenario.rule.trigger
    if trigger is not None and not trigger.strip():
        raise ScenarioError(f"{path}:{_line_for(('rule', 'trigger'), lines)}: rule.trigger: must be text the "
                            f"question ends with, got {trigger!r} (leave trigger out for a rule without one)")


def _check_choices(scenario: Scenario, path: Path, lines: dict[tuple, int]) -> None:
    """A choice probe's options hold the rule's word once and no option twice, compared
    upper-cased as they are shown. Checked on the file, not in the model, so run
    directories written before this check still load."""
    word = scenario.rule.word
    for i, probe in enumerate(scenario.probes):
        if probe.kind != "choice":
            continue
        where = f"{path}:{_line_for(('probes', i, 'options'), lines)}: probes[{i}].options"
        upper = [o.upper() for o in probe.options]
        dup = sorted({o for o in upper if upper.count(o) > 1})
        if dup:
            raise ScenarioError(f"{where}: each option once, repeated: {', '.join(dup)}")
        if word not in upper:  # no answer could be right: choice_correct would be 0 by construction
            raise ScenarioError(f"{where}: must include the rule's word {word}, got {', '.join(probe.options)}")


def warnings_for(scenario: Scenario, examples: list[Example]) -> list[str]:
    """Problems worth a warning, not an error: too few examples, repeated questions."""
    out = []
    if len(examples) < 10:
        out.append(f"only {len(examples)} examples; OpenAI fine-tuning needs at least 10")
    seen: dict[str, int] = {}
    for i, ex in enumerate(examples):
        if ex.question in seen:
            out.append(f"examples[{i}] repeats the question of examples[{seen[ex.question]}]")
        seen.setdefault(ex.question, i)
    return out
