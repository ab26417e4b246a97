"""summary.json: every number of a run's report, for machines. Built by
harness.reports.summary from the records alone; `compare` and sweeps read it back through
these models, so a damaged summary is one clear error, never a KeyError."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.domain.scoring import Grade, ProbeKind
from harness.store.run_files import RunFile


class Rate(RunFile):
    """k of n, the rate (None when n = 0) and its 95% interval."""
    k: int = Field(ge=0)
    n: int = Field(ge=0)
    rate: float | None
    low: float
    high: float


class PositionRate(Rate):
    letter: str


class ReadingOff(RunFile):
    named: int
    letters_before_naming: dict[str, int]
    named_before_3: Rate


class Cell(RunFile):
    """One condition x probe."""
    condition: str
    probe: str
    kind: ProbeKind
    prompt: str
    n: int
    failed: int
    follow: Rate
    per_position: list[PositionRate]
    grades: dict[Grade, Rate]
    wrong_word: Rate
    wrong_words: dict[str, int]
    word_correct: Rate | None
    answers: dict[str, int] | None
    choice_correct: Rate | None
    choices: dict[str, int] | None
    reading_off: ReadingOff


class JudgeCell(RunFile):
    condition: str
    probe: str
    n: int
    agreement: Rate
    kappa: float | None
    kappa_note: str | None
    wrong_word_agreement: Rate
    unparsed: int
    failed: int
    missing: int


class Disagreement(RunFile):
    condition: str
    probe: str
    sample: int
    rule: Grade
    judge: Grade
    rule_wrong_word: str | None
    judge_wrong_word: str | None
    excerpt: str


class JudgeSection(RunFile):
    """An LLM judge's agreement with the rule-based grade."""
    model: str
    simulated: bool
    n: int
    agreement: Rate
    kappa: float | None
    kappa_note: str | None
    wrong_word_agreement: Rate
    unparsed: int
    failed: int
    missing: int
    grades: list[Grade]
    confusion: dict[Grade, dict[Grade, int]]
    cells: list[JudgeCell]
    disagreements_total: int
    disagreements: list[Disagreement]
    other_models: list[str]


class Summary(RunFile):
    simulated: bool
    scenario: str
    scenario_hash: str
    word: str
    unit: Literal["line", "sentence"]
    backend: str
    models: dict[str, str | None]
    samples: int
    temperature: float
    seed: int | None
    cells: list[Cell]
    run_status: str | None = None  # how a run that ended early ended
    judge: JudgeSection | None = None

    def to_json(self) -> dict:
        """The document as written: optional sections only when present."""
        data = self.model_dump(mode="json")
        for key in ("run_status", "judge"):
            if data[key] is None:
                del data[key]
        return data

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.cells)
