"""The append-only records of a run: one per answer (responses.jsonl), per judge verdict
(judge.jsonl) and per fine-tuning job event (events.jsonl); and the rules that pick the
record that counts when a key was asked more than once."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from harness.domain.scoring import Grade, ProbeKind
from harness.limits import clip
from harness.store.run_files import Condition, Manifest, RunFile

Key = tuple[str, int, str, int]  # (condition, replicate, probe, sample)


class ResponseRecord(RunFile):
    """One answer to one probe sample (status ok), or the error that kept it from being
    answered (status failed: counted apart, never scored)."""

    condition: Condition
    replicate: int = Field(default=0, ge=0)  # which fine-tune of the condition (0 for base and in_context)
    probe: str
    kind: ProbeKind
    sample: int = Field(ge=0)
    paraphrase: int = Field(default=0, ge=0)  # which wording of the probe was asked
    seed: int
    model: str
    prompt: str = ""
    options: list[str] | None = None  # a choice probe's options, in the order shown
    status: Literal["ok", "failed"]
    error: str | None = None
    retryable: bool | None = None  # failed: whether asking again can help
    text: str | None = None
    finish_reason: str | None = None  # "length" when max_tokens cut the answer
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    tokens_note: str | None = None  # why the provider's token counts were not used as reported

    @property
    def key(self) -> Key:
        return (self.condition, self.replicate, self.probe, self.sample)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class JudgeVerdict(RunFile):
    """An LLM judge's grade of one describe answer; `text_sha256` ties it to the text graded."""

    condition: Condition
    replicate: int = Field(default=0, ge=0)
    probe: str
    sample: int = Field(ge=0)
    judge_model: str
    grade: Grade | None = None  # None: the reply could not be read as a grade
    wrong_word: str | None = None
    raw: str | None = None
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    simulated: bool = False
    text_sha256: str | None = None
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    tokens_note: str | None = None  # why the provider's token counts were not used as reported

    @property
    def key(self) -> Key:
        return (self.condition, self.replicate, self.probe, self.sample)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class CrossRecord(RunFile):
    """A cross-prediction: another model asked to name the word from the start of an answer
    that named it (cut just before the naming). `text_sha256` ties it to the answer's text."""

    condition: Condition
    replicate: int = Field(default=0, ge=0)
    probe: str
    sample: int = Field(ge=0)
    model: str
    letters: int = Field(ge=0)  # first letters written before the naming
    prefix_letters: str = ""
    reply: str | None = None
    predicted: str | None = None
    correct: bool = False
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    simulated: bool = False
    text_sha256: str | None = None
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    tokens_note: str | None = None  # why the provider's token counts were not used as reported

    @property
    def key(self) -> Key:
        return (self.condition, self.replicate, self.probe, self.sample)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class LogprobRecord(RunFile):
    """The log-probabilities a model gives to the replies of a word or choice probe (each
    option's label, or the word in its casings), asked once per model and wording."""

    condition: Condition
    replicate: int = Field(default=0, ge=0)
    probe: str
    kind: ProbeKind
    paraphrase: int = Field(default=0, ge=0)
    model: str
    options: list[str] | None = None  # a choice probe's options, in the order shown (A, B, ...)
    continuations: list[str]
    logprobs: list[float] = Field(default_factory=list)
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.condition, self.replicate, self.probe, self.paraphrase)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class EventRecord(RunFile):
    """A fine-tuning job's event, as the provider reported it."""

    job_id: str | None = None  # which of the run's jobs (None in runs made before replicates)
    id: str
    created_at: int
    level: str
    message: str


def off_plan(record: ResponseRecord | JudgeVerdict | CrossRecord, manifest: Manifest) -> str | None:
    """Why a record cannot belong to the run its manifest describes ("field: problem"), or
    None. A hand-edited record with an unknown probe or a sample beyond the plan was counted:
    "48 of 48 done" with a planned sample missing, and a phantom cell in the report."""
    s = manifest.settings
    kinds = {p.id: p.kind for p in manifest.scenario.probes}
    if record.condition not in s.conditions:
        return f"condition: {record.condition!r} is not one of this run's conditions ({', '.join(s.conditions)})"
    if record.probe not in kinds:
        return f"probe: {clip(record.probe)} is not a probe of this run's scenario"
    if isinstance(record, ResponseRecord) and record.kind != kinds[record.probe]:
        return f"kind: {record.kind!r} is not probe {record.probe}'s kind ({kinds[record.probe]!r})"
    if record.sample >= s.samples:
        return f"sample: {record.sample} is beyond this run's {s.samples} samples per probe (0 to {s.samples - 1})"
    models = s.replicates_of(record.condition)
    if record.replicate >= models:
        return f"replicate: {record.replicate} is beyond the {models} model(s) {record.condition} probes"
    return None


def content(record: RunFile) -> str:
    """A record's JSON with sorted keys: what breaks a tie between two records of one key."""
    return json.dumps(record.model_dump(mode="json"), sort_keys=True)


def canonical(records: list[ResponseRecord]) -> list[ResponseRecord]:
    """One record per (condition, probe, sample), sorted by that key. A sample that failed
    and was asked again has two records: the ok one wins, so the retry is not counted as a
    failure. Ties are broken by content, so input order never matters."""
    best: dict[Key, ResponseRecord] = {}
    for r in sorted(records, key=lambda r: (r.key, not r.ok, content(r))):
        best.setdefault(r.key, r)
    return [best[k] for k in sorted(best)]


def latest_verdicts(verdicts: list[JudgeVerdict], model: str | None = None) -> dict[Key, JudgeVerdict]:
    """The verdict per key of one judge model (all models when None): later records replace
    earlier ones, but a failed call never replaces an answered one."""
    out: dict[Key, JudgeVerdict] = {}
    for v in verdicts:
        if model is not None and v.judge_model != model:
            continue
        if v.key not in out or not out[v.key].ok or v.ok:
            out[v.key] = v
    return out
