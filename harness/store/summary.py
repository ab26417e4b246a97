"""summary.json: every number of a run's report, for machines. Built by
harness.analysis.summary from the records alone; `compare` and sweeps read it back through
these models, so a damaged summary is one clear error, never a KeyError."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

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
    """One condition x probe, pooled over the condition's replicates (intervals account for
    the clustering by replicate)."""

    condition: str
    probe: str
    kind: ProbeKind
    style: Literal["free", "one_line", "leading"] = "free"  # describe probes: how they ask
    prompt: str
    n: int
    failed: int
    truncated: int = 0  # answers cut at max_tokens: left out of follow and per_position
    follow: Rate
    per_position: list[PositionRate]
    grades: dict[Grade, Rate]
    mechanism_or_better: Rate | None = None  # describe probes: mechanism or exact
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


Metric = Literal["follow", "mechanism_or_better", "exact", "one_line", "word_correct", "choice_correct"]


class ParaphraseRow(RunFile):
    """One wording of a probe: its rate on the probe's own metric (describe: mechanism or
    exact; word and choice: right; follow: follows)."""

    condition: str
    probe: str
    paraphrase: int
    prompt: str
    rate: Rate


class ReadingOffRow(RunFile):
    """Reading off, for one condition's free describe answers: how many are acrostics (at
    least two first letters of the word), how many of those name the word (as a claim), after
    how many letters, and how often the base model names it from the same start alone."""

    condition: str
    answers: int
    acrostics: int
    named: Rate  # of the acrostics
    letters_before_naming: dict[str, int]
    named_before_3: Rate
    cross_predicted: Rate | None = None  # of the named ones that were cross-checked
    cross_model: str | None = None


class ReplicateRow(RunFile):
    """One fine-tune of a trained condition: its rates pooled over the probes of a kind."""

    condition: str
    replicate: int
    model: str | None
    follow: Rate | None  # follow probes
    mechanism_or_better: Rate | None  # describe probes: mechanism or exact
    exact: Rate | None  # describe probes


class Effect(RunFile):
    """a minus b for one metric, with the Newcombe interval (clustered by replicate), the p
    that interval implies, and Holm's correction over every effect of the summary."""

    metric: Metric
    a: str
    b: str
    a_rate: Rate
    b_rate: Rate
    diff: float | None
    low: float
    high: float
    p: float | None
    p_holm: float | None = None
    mark: str = ""  # "*" p < 0.05, "**" also after Holm (harness.analysis.metrics.mark)


class MetricRate(RunFile):
    """A condition's rate of one metric (harness.analysis.metrics.METRICS), clustered by the
    one rule; with several fine-tunes, each fine-tune's own rate too."""

    condition: str
    metric: Metric
    rate: Rate
    fine_tunes: list[Rate] = Field(default_factory=list)
    positions: list[PositionRate] = Field(default_factory=list)  # follow: each letter, over the follow probes


class SpreadRow(RunFile):
    """How much a condition's fine-tunes differ on a metric: the intra-class correlation, and
    the standard deviation of their true rates (None with fewer than 3 fine-tunes)."""

    condition: str
    metric: Metric
    clusters: int
    icc: float | None
    sd: float | None
    low: float | None
    high: float | None


class PowerFigure(RunFile):
    """The smallest rise over base that a metric measured on one probe would show 80% of the
    time at the 5% level, from a 0% and from a 50% baseline, under an icc that is either
    assumed (the plan's) or observed (the fine-tunes' follow rates)."""

    basis: Literal["assumed", "observed"]
    icc: float | None  # None: one fine-tune (no clustering)
    deff: float
    df: int | None  # t's degrees of freedom (fine-tunes - 1); None: z
    from_zero: float | None
    from_half: float | None


class PowerNote(RunFile):
    """What this run's sizes could detect for condition a against base."""

    a: str = "fine_tuned"
    b: str = "base"
    samples: int  # per probe and fine-tune (and per probe of base)
    replicates: int  # fine-tunes of a
    figures: list[PowerFigure]

    @model_validator(mode="before")
    @classmethod
    def _one_figure_layout(cls, data: Any) -> Any:
        """A summary written before the plan's and the observed figures were told apart held
        one figure, with the observed design effect, at the top level."""
        if isinstance(data, dict) and "figures" not in data and "deff" in data:
            data = dict(data)
            figure = {k: data.pop(k, None) for k in ("deff", "from_zero", "from_half")}
            clustered = data.get("replicates", 1) > 1
            data["figures"] = [figure | {"basis": "observed" if clustered else "assumed", "icc": None, "df": None}]
        return data


class Compute(RunFile):
    """What a real run took, for a backend that bills no money (the local one) and for any
    other: each fine-tuning job's time from its first event to its last (queueing included),
    the fine-tuning phase from the first job event to the last, and the wall-clock time spent
    probing. Left out of simulated summaries, which must replay byte for byte."""

    fine_tuning_seconds: dict[str, float] = Field(default_factory=dict)  # job key -> seconds
    fine_tuning_span_seconds: float | None = None  # all jobs, first event to last
    probing_seconds: float


class LogprobRow(RunFile):
    """What a condition's models give the word, by log-probability, over its fine-tunes and
    the probe's wordings: the mean probability and the lowest and highest. For a choice probe,
    each option's probability normalised over the options (the label as the whole reply); for
    a word probe, the word as the whole reply in any of its usual casings."""

    condition: str
    probe: str
    kind: ProbeKind
    scored: int  # models x wordings scored
    p_word: float | None
    p_low: float | None
    p_high: float | None
    options: dict[str, float] | None = None


class Summary(RunFile):
    scorer_version: str = "1"  # the rules that scored it (harness.domain.scoring.SCORER_VERSION); "1": before versions
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
    replicates: int = 1  # fine-tunes per trained condition
    headline: list[str] = Field(default_factory=list)  # what was found, in plain words
    metrics: list[MetricRate] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    replicate_rows: list[ReplicateRow] = Field(default_factory=list)
    spread: list[SpreadRow] = Field(default_factory=list)
    power: PowerNote | None = None
    paraphrases: list[ParaphraseRow] = Field(default_factory=list)
    reading_off: list[ReadingOffRow] = Field(default_factory=list)
    logprobs: list[LogprobRow] = Field(default_factory=list)
    logprobs_note: str | None = None  # why there are none (the backend cannot score given replies)
    run_status: str | None = None  # how a run that ended early ended
    token_counts: str | None = None  # how many of the provider's token counts were not believed
    judge: JudgeSection | None = None
    model_details: dict[str, dict[str, str]] = Field(default_factory=dict)  # model -> backend's model_info
    compute: Compute | None = None

    def to_json(self) -> dict:
        """The document as written: optional sections only when present."""
        data = self.model_dump(mode="json")
        for key in ("run_status", "token_counts", "judge", "compute", "model_details"):
            if not data[key]:
                del data[key]
        return data

    @property
    def trained(self) -> bool:
        """Whether any fine-tuned model (or sham) was probed: without, there are no fine-tunes to speak of."""
        return any(c.condition in ("fine_tuned", "sham") for c in self.cells)

    @property
    def fine_tunes(self) -> int:
        """Fine-tunes per trained condition (0 without one)."""
        return self.replicates if self.trained else 0

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.cells)
