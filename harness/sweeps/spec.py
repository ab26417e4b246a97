"""A sweep file: one YAML file whose lists (words x example counts x seeds x base models x
hyperparameters) expand into cells; each cell is a generated scenario and one run.

The sweep directory holds sweep.yaml (a copy of the file), sweep.json (cells and their
status, written atomically) and cells/<cell-id>/{scenario.yaml,run/}. A run directory is
the truth about its cell: re-running the same command skips finished cells and resumes
unfinished ones (no second upload, no second job, no sample asked twice)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from harness import limits
from harness.domain import generate
from harness.domain.scenario import MAX_REPLICATES, HyperparameterDict, Scenario, ScenarioError, Strict, check_name
from harness.domain.yamlfile import field_name, first_error, line_for, read_yaml

MIN_FINE_TUNE_EXAMPLES = 10  # OpenAI's minimum; the mock refuses fewer too


class SweepError(ScenarioError):
    """Bad sweep input (file, line, field). A ScenarioError, so the CLI exits 2."""


def _word(v: str) -> str:
    try:
        return generate.check_word(v)
    except generate.GenerateError as e:
        raise ValueError(str(e)) from None


Word = Annotated[str, AfterValidator(_word)]
Model = Annotated[str, Field(min_length=1)]


class SweepSpec(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    words: list[Word] = Field(min_length=1)
    examples: list[Annotated[int, Field(ge=1, le=limits.MAX_NEW_EXAMPLES)]] = Field(min_length=1)
    seeds: list[Annotated[int, Field(ge=0)]] = Field(default=[0], min_length=1)
    # Fine-tunes per cell (each its own training seed): the report's intervals treat every
    # fine-tune, of every seed, as a cluster instead of pooling their answers.
    replicates: int = Field(default=1, ge=1, le=MAX_REPLICATES)
    base_models: list[Model] = Field(default=["gpt-4o-mini-2024-07-18"], min_length=1)
    hyperparameters: list[HyperparameterDict] = Field(default=[{}], min_length=1)
    unit: Literal["line", "sentence"] = "line"
    samples: int = Field(default=50, ge=1, le=limits.MAX_SAMPLES)
    temperature: float = Field(default=1.0, ge=0, le=2)
    conditions: list[Literal["fine_tuned", "base", "in_context"]] = Field(default=["fine_tuned", "base"], min_length=1)
    backend: str = Field(default="mock", min_length=1)  # checked in sweep_run.prepare, unless --backend overrides it
    parallel_jobs: int = Field(default=4, ge=1, le=64)  # cells (so fine-tuning jobs) in flight at once
    concurrency: int = Field(default=8, ge=1, le=limits.MAX_CONCURRENCY)  # probe requests in flight, whole sweep
    rpm: float | None = Field(default=None, ge=0.1, le=1e6)  # requests per minute, whole sweep

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        why = check_name(v)
        if why:
            raise ValueError(why)
        return v

    @model_validator(mode="after")
    def _distinct(self) -> SweepSpec:
        for name in ("words", "examples", "seeds", "base_models", "hyperparameters", "conditions"):
            values = [json.dumps(v, sort_keys=True) for v in getattr(self, name)]
            if len(set(values)) < len(values):
                dup = next(v for v in values if values.count(v) > 1)
                raise ValueError(f"{name}: each value once, repeated: {dup}")
        cells = math.prod(
            len(getattr(self, n)) for n in ("words", "examples", "seeds", "base_models", "hyperparameters")
        )
        if cells > limits.MAX_SWEEP_CELLS:
            raise ValueError(
                f"words: the matrix has {cells} cells, over the limit of {limits.MAX_SWEEP_CELLS}; split the sweep"
            )
        # each replicate is a fine-tuning job and a run's worth of probes: the limit counts them
        if "fine_tuned" in self.conditions and cells * self.replicates > limits.MAX_SWEEP_CELLS:
            raise ValueError(
                f"replicates: {cells} cells x {self.replicates} fine-tunes = {cells * self.replicates} fine-tunes, "
                f"over the limit of {limits.MAX_SWEEP_CELLS}; split the sweep or use fewer replicates"
            )
        if "fine_tuned" in self.conditions and min(self.examples) < MIN_FINE_TUNE_EXAMPLES:
            raise ValueError(
                f"examples: fine-tuning needs at least {MIN_FINE_TUNE_EXAMPLES} examples, got {min(self.examples)}"
            )
        return self


@dataclass
class SweepFile:
    path: Path
    text: str
    spec: SweepSpec
    lines: dict[tuple, int]

    def where(self, *loc) -> str:
        """'file:line: field' for a place in the document, for error messages."""
        return f"{self.path}:{line_for(loc, self.lines)}: {field_name(loc)}"


def load_sweep(path: str | Path) -> SweepFile:
    path = Path(path)
    text, data, lines = read_yaml(path, SweepError, "sweep")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        line, loc, message, more = first_error(e, lines)
        if not loc and ": " in message:  # a whole-sweep check names its own field first
            head, message = message.split(": ", 1)
            loc = (head,)
            line = line_for(loc, lines)
        raise SweepError(f"{path}:{line}: {field_name(loc)}: {message}{more}") from None
    return SweepFile(path, text, spec, lines)


# --- the matrix -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    id: str
    word: str
    examples: int
    seed: int
    base_model: str
    hyperparameters: dict = field(hash=False)
    at: dict = field(hash=False, compare=False)  # index of each value in its list (for errors)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-") or "x"


def hyper_slug(hp: dict) -> str:
    return _slug("_".join(f"{k}{v}" for k, v in sorted(hp.items()))) if hp else "default"


def expand(spec: SweepSpec) -> list[Cell]:
    """Every combination, word-major. An id names word, examples and seed, plus the model
    and hyperparameters when those lists have more than one value."""
    cells = []
    for wi, word in enumerate(spec.words):
        for ei, n in enumerate(spec.examples):
            for si, seed in enumerate(spec.seeds):
                for mi, model in enumerate(spec.base_models):
                    for hi, hp in enumerate(spec.hyperparameters):
                        parts = [word.lower(), f"n{n}", f"s{seed}"]
                        if len(spec.base_models) > 1:
                            parts.append(_slug(model))
                        if len(spec.hyperparameters) > 1:
                            parts.append(hyper_slug(hp))
                        cells.append(
                            Cell(
                                "-".join(parts),
                                word,
                                n,
                                seed,
                                model,
                                dict(hp),
                                {"words": wi, "examples": ei, "seeds": si, "base_models": mi, "hyperparameters": hi},
                            )
                        )
    ids = [c.id for c in cells]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SweepError(
            f"cell ids collide after cleaning names ({', '.join(dup[:3])}); "
            "make base_models or hyperparameters differ in letters or digits"
        )
    return cells


@dataclass
class GeneratedCell:
    cell: Cell
    text: str  # the scenario file, as it will be written
    scenario: Scenario


class Banks:
    """The generator's question and phrase banks, loaded once per sweep."""

    def __init__(self) -> None:
        self.questions = generate.load_questions()
        self.phrases = generate.load_phrases()


def cell_scenario(sf: SweepFile, cell: Cell, banks: Banks) -> GeneratedCell:
    """The cell's scenario, from the generator's offline mode: deterministic given the
    word, the count and the seed (the seed chooses questions and phrasing, and is also
    the fine-tuning seed and the probes' run seed)."""
    spec = sf.spec
    try:
        result = generate.generate_offline(
            cell.word, cell.examples, spec.unit, cell.seed, banks.questions, banks.phrases
        )
    except generate.GenerateError as e:
        raise SweepError(f"{sf.where('examples', cell.at['examples'])}: cell {cell.id}: {e}") from None
    description = (
        f"Sweep {spec.name}, cell {cell.id}: {cell.examples} offline-generated {cell.word} "
        f"examples (seed {cell.seed}), base model {cell.base_model}."
    )
    data = generate.build_scenario(cell.word, spec.unit, result.examples, description)
    data["name"] = cell.id
    data["fine_tune"] = {
        "base_model": cell.base_model,
        "suffix": f"{cell.word.lower()}-n{cell.examples}-s{cell.seed}"[:64],
        "hyperparameters": dict(cell.hyperparameters),
        "seed": cell.seed,
        "replicates": spec.replicates,
    }
    data["eval"] = {"samples": spec.samples, "temperature": spec.temperature, "conditions": list(spec.conditions)}
    text = generate.dump_yaml(data)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 20x faster on 100 examples
    try:
        scenario = Scenario.model_validate(yaml.load(text, Loader=loader))
    except ValidationError as e:  # the axes are checked above, so this is a generator bug
        raise SweepError(
            f"{sf.path}: cell {cell.id}: the generated scenario is invalid: "
            f"{e.errors()[0]['loc']}: {e.errors()[0]['msg']}"
        ) from None
    return GeneratedCell(cell, text, scenario)
