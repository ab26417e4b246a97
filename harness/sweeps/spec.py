"""A sweep: one YAML file whose lists (words x example counts x seeds x base models x
hyperparameters) expand into cells; each cell is a generated scenario and one run.

The sweep directory holds sweep.yaml (a copy of the file), sweep.json (cells and their
status, written atomically) and cells/<cell-id>/{scenario.yaml,run/}. A run directory is
the truth about its cell: re-running the same command skips finished cells and resumes
unfinished ones (no second upload, no second job, no sample asked twice)."""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from harness.domain import generate
from harness.domain.scenario import (HyperparameterDict, Scenario, ScenarioError, Strict, _field_name, _line_for,
                              first_error, read_yaml)
from harness.store.run_dir import RunStore, StoreError, dump_json, write_atomic

SWEEP_STATE = "sweep.json"
SWEEP_COPY = "sweep.yaml"
CELLS = "cells"
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
    examples: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    seeds: list[Annotated[int, Field(ge=0)]] = Field(default=[0], min_length=1)
    base_models: list[Model] = Field(default=["gpt-4o-mini-2024-07-18"], min_length=1)
    hyperparameters: list[HyperparameterDict] = Field(default=[{}], min_length=1)
    unit: Literal["line", "sentence"] = "line"
    samples: int = Field(default=20, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    conditions: list[Literal["fine_tuned", "base", "in_context"]] = Field(default=["fine_tuned", "base"],
                                                                        min_length=1)
    backend: str = Field(default="mock", min_length=1)  # checked in sweep_run.prepare, unless --backend overrides it
    parallel_jobs: int = Field(default=4, ge=1, le=64)   # cells (so fine-tuning jobs) in flight at once
    concurrency: int = Field(default=8, ge=1)            # probe requests in flight, whole sweep
    rpm: float | None = Field(default=None, gt=0)        # requests per minute, whole sweep

    @model_validator(mode="after")
    def _distinct(self) -> "SweepSpec":
        for name in ("words", "examples", "seeds", "base_models", "hyperparameters", "conditions"):
            values = [json.dumps(v, sort_keys=True) for v in getattr(self, name)]
            if len(set(values)) < len(values):
                dup = next(v for v in values if values.count(v) > 1)
                raise ValueError(f"{name}: each value once, repeated: {dup}")
        if "fine_tuned" in self.conditions and min(self.examples) < MIN_FINE_TUNE_EXAMPLES:
            raise ValueError(f"examples: fine-tuning needs at least {MIN_FINE_TUNE_EXAMPLES} examples, "
                             f"got {min(self.examples)}")
        return self


@dataclass
class SweepFile:
    path: Path
    text: str
    spec: SweepSpec
    lines: dict[tuple, int]

    def where(self, *loc) -> str:
        """'file:line: field' for a place in the document, for error messages."""
        return f"{self.path}:{_line_for(loc, self.lines)}: {_field_name(loc)}"


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
            line = _line_for(loc, lines)
        raise SweepError(f"{path}:{line}: {_field_name(loc)}: {message}{more}") from None
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
                        cells.append(Cell("-".join(parts), word, n, seed, model, dict(hp),
                                          {"words": wi, "examples": ei, "seeds": si,
                                           "base_models": mi, "hyperparameters": hi}))
    ids = [c.id for c in cells]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SweepError(f"cell ids collide after cleaning names ({', '.join(dup[:3])}); "
                         "make base_models or hyperparameters differ in letters or digits")
    return cells


@dataclass
class GeneratedCell:
    cell: Cell
    text: str           # the scenario file, as it will be written
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
        result = generate.generate_offline(cell.word, cell.examples, spec.unit, cell.seed,
                                           banks.questions, banks.phrases)
    except generate.GenerateError as e:
        raise SweepError(f"{sf.where('examples', cell.at['examples'])}: cell {cell.id}: {e}") from None
    description = (f"Sweep {spec.name}, cell {cell.id}: {cell.examples} offline-generated {cell.word} "
                   f"examples (seed {cell.seed}), base model {cell.base_model}.")
    data = generate.build_scenario(cell.word, spec.unit, result.examples, description)
    data["name"] = cell.id
    data["fine_tune"] = {"base_model": cell.base_model,
                         "suffix": f"{cell.word.lower()}-n{cell.examples}-s{cell.seed}"[:64],
                         "hyperparameters": dict(cell.hyperparameters), "seed": cell.seed}
    data["eval"] = {"samples": spec.samples, "temperature": spec.temperature,
                    "conditions": list(spec.conditions)}
    text = generate.dump_yaml(data)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 20x faster on 100 examples
    try:
        scenario = Scenario.model_validate(yaml.load(text, Loader=loader))
    except ValidationError as e:  # the axes are checked above, so this is a generator bug
        raise SweepError(f"{sf.path}: cell {cell.id}: the generated scenario is invalid: "
                         f"{e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None
    return GeneratedCell(cell, text, scenario)


# --- the sweep directory ----------------------------------------------------------------

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SweepState:
    """sweep.json: the sweep's spec, backend and one entry per cell. Worker threads update
    cells; a lock keeps each write whole, and every write is atomic (rename)."""

    def __init__(self, directory: Path, data: dict):
        self.dir = directory
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def read(cls, directory: Path) -> "SweepState | None":
        path = directory / SWEEP_STATE
        if not path.exists():
            return None
        try:
            return cls(directory, json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise StoreError(f"{path}: unreadable: {e}") from None

    def cell(self, cell_id: str) -> dict | None:
        return next((c for c in self.data["cells"] if c["id"] == cell_id), None)

    def update(self, cell_id: str, **changes) -> None:
        with self._lock:
            entry = self.cell(cell_id)
            entry.update(changes, updated_at=now())
            self._write()

    def save(self, **changes) -> None:
        with self._lock:
            self.data.update(changes, updated_at=now())
            self._write()

    def _write(self) -> None:
        write_atomic(self.dir / SWEEP_STATE, dump_json(self.data))


def write_text(path: Path, text: str) -> None:
    write_atomic(path, text)


def cell_dir(sweep_dir: Path, cell_id: str) -> Path:
    return sweep_dir / CELLS / cell_id



def run_status(run_dir: Path) -> tuple[str, str | None]:
    """A cell's status read from its run directory (the truth after a kill): pending (no
    run yet), succeeded (report written), failed, or running (started, unfinished)."""
    store = RunStore(run_dir)
    if not store.exists():
        return PENDING, None
    try:
        state = store.read_json("state.json")
    except StoreError as e:
        return RUNNING, str(e)
    status = state.get("status")
    if status == "succeeded":
        return (SUCCEEDED, None) if store.path("summary.json").exists() else (RUNNING, "report missing")
    if status in ("failed", "cancelled"):
        return FAILED, state.get("error") or status
    return RUNNING, state.get("error")


def check_directory(sweep_dir: Path, spec: SweepSpec, backend: str, state: SweepState | None) -> None:
    """Refuse to mix sweeps or backends in one directory."""
    if state is None:
        if sweep_dir.exists() and any(p.name != ".lock" for p in sweep_dir.iterdir()):
            raise StoreError(f"{sweep_dir}: exists, is not empty and holds no {SWEEP_STATE}; "
                             "choose another --out")
        return
    if state.data.get("sweep") != spec.name:
        raise StoreError(f"{sweep_dir}: holds sweep {state.data.get('sweep')!r}, not {spec.name!r}; "
                         "choose another --out")
    if state.data.get("backend") != backend:
        raise StoreError(f"{sweep_dir}: this sweep runs on backend {state.data.get('backend')!r}; "
                         f"pass --backend {state.data.get('backend')} or choose another --out")


def check_unchanged(sweep_dir: Path, gen: list[GeneratedCell]) -> None:
    """A cell that already started must still describe the same scenario: a changed
    samples, unit, temperature or conditions under a started run would mix two
    experiments in one report."""
    for g in gen:
        store = RunStore(cell_dir(sweep_dir, g.cell.id) / "run")
        if not store.exists():
            continue
        ran = store.read_json("manifest.json").get("scenario_hash")
        if ran != g.scenario.hash():
            raise SweepError(f"cell {g.cell.id} already ran a different scenario (were samples, unit, "
                             "temperature or conditions changed?); use a new --out for the new sweep")


def build_state(sweep_dir: Path, sf: SweepFile, backend: str, gen: list[GeneratedCell],
                estimates: list[float | None], old: SweepState | None) -> SweepState:
    """The state of this invocation: the current matrix, each cell's status read from its
    run directory. Cells dropped from the file stay on disk but leave the report."""
    data = dict(old.data) if old else {"sweep": sf.spec.name, "created_at": now()}
    data.update(backend=backend, sweep_file=str(sf.path), spec=sf.spec.model_dump(mode="json"),
                status=RUNNING, cells=[])
    for g, estimate in zip(gen, estimates):
        c = g.cell
        status, error = run_status(cell_dir(sweep_dir, c.id) / "run")
        data["cells"].append({
            "id": c.id, "word": c.word, "examples": c.examples, "seed": c.seed,
            "base_model": c.base_model, "hyperparameters": c.hyperparameters,
            "scenario": f"{CELLS}/{c.id}/scenario.yaml", "run": f"{CELLS}/{c.id}/run",
            "scenario_hash": g.scenario.hash(), "estimate": estimate,
            "status": status, "error": error, "updated_at": now()})
    return SweepState(sweep_dir, data)

