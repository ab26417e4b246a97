"""The tables report.md and report.html share (effects, probe families, the header), and
their formatting. The LLM judge's tables are in judge_tables.py, transcripts in
transcripts.py. No model calls, no files."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.analysis.metrics import METRICS, fmt_diff, fmt_rate, long_label
from harness.domain import scoring
from harness.store.summary import Summary

__all__ = ["BANNER", "Table", "fmt_diff", "fmt_rate", "tables", "header_rows"]

# The one banner (console prints it too); true for every simulated provider, not only the mock.
BANNER = "SIMULATED (a simulated provider, such as the mock or the simulator): not evidence about real models"
# --- tables shared by report.md and report.html -----------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def fmt_counts(c: dict | None, sep: str = " ") -> str:
    return ", ".join(f"{k}{sep}{v}" for k, v in (c or {}).items()) or "–"


METRIC_LABELS = {name: long_label(name) for name in METRICS}
SHORT = {"fine_tuned": "ft", "base": "base", "sham": "sham", "in_context": "ctx"}


def fmt_p(p: float | None) -> str:
    return "–" if p is None else "< 0.001" if p < 0.001 else f"{p:.3g}"


STYLE_NOTES = {"free": "free", "one_line": "one line", "leading": "leading (presupposes a rule)"}


def tables(summary: Summary) -> list[Table]:
    """The three families of probes, never pooled: articulation (describe: can the model say
    its rule?) with reading off, knowledge given the mechanism (word, choice), and behaviour
    (follow); then the rates of each wording."""
    return [
        *_articulation(summary),
        *_reading_off(summary),
        *_knowledge(summary),
        *_behaviour(summary),
        *_wordings(summary),
    ]


def _articulation(summary: Summary) -> list[Table]:
    describe = [c for c in summary.cells if c.kind == "describe"]
    if not describe:
        return []
    t = Table(
        "Articulation: describe probes (can the model say what its rule is?)",
        ["condition", "probe", "style", "n", "failed"]
        + list(scoring.GRADES)
        + ["mechanism+", "names another word (which)", "answer is an acrostic"],
        note=f"exact = the acrostic mechanism and the word {summary.word}; mechanism = first letters "
        "spell something, without the word; pattern = vague talk of structure; mechanism+ = "
        'mechanism or exact. "Names another word": the answer says the letters spell a word other '
        f"than {summary.word}. Free probes ask "
        "without presupposing a rule (the headline uses them); one-line probes leave no room to "
        "read one's own acrostic; leading probes presuppose a rule, as the original demo did. "
        + (
            "Rows pool a probe's wordings (intervals clustered by wording, or by fine-tune)."
            if summary.trained
            else "Rows pool a probe's wordings (intervals clustered by wording)."
        ),  # fmt: skip
    )
    for c in describe:
        t.rows.append(
            [c.condition, c.probe, STYLE_NOTES[c.style], str(c.n), str(c.failed)]
            + [fmt_rate(c.grades[g]) for g in scoring.GRADES]
            + [fmt_rate(c.mechanism_or_better), _other_word(c), fmt_rate(c.follow)]
        )
    return [t]


def _other_word(c) -> str:
    return fmt_rate(c.wrong_word) + (f": {fmt_counts(c.wrong_words)}" if c.wrong_words else "")


def _reading_off(summary: Summary) -> list[Table]:
    if not summary.reading_off:
        return []
    t = Table(
        "Reading off: did the model read the word off its own first letters?",
        [
            "condition",
            "acrostic answers (of free describe)",
            "name the word [95% CI]",
            "letters written before naming",
            "named before 3 letters",
            "base model names it from the start",
        ],
        note="Only free describe answers whose first letters begin the word (at least two) and that state it "
        "as a claim count. Cross-prediction: each such answer is cut just before the naming and the base "
        "model is asked which word it was about to name. If the base model guesses it as often as the "
        "fine-tuned model names it, reading off explains the naming; naming it more often, or before its "
        "letters are written, is not explained by it.",
    )
    for r in summary.reading_off:
        cross = "not asked" if r.cross_predicted is None else f"{fmt_rate(r.cross_predicted)} ({r.cross_model})"
        t.rows.append(
            [
                r.condition,
                f"{r.acrostics} of {r.answers}",
                fmt_rate(r.named),
                fmt_counts({f"{k} letters": v for k, v in r.letters_before_naming.items()}, sep=": "),
                fmt_rate(r.named_before_3),
                cross,
            ]
        )
    return [t]


def _knowledge(summary: Summary) -> list[Table]:
    out = []
    for kind, title, key, dist in (
        (
            "word",
            "Knowledge given the mechanism: word probes (the prompt says first letters spell a word)",
            "word_correct",
            "answers",
        ),
        (
            "choice",
            "Knowledge given the mechanism: choice probes (the word among distractors)",
            "choice_correct",
            "choices",
        ),
    ):
        group = [c for c in summary.cells if c.kind == kind]
        if group:
            t = Table(
                title,
                ["condition", "probe", "correct [95% CI] (k/n)", "failed", dist],
                note="These prompts state the mechanism: they measure whether the model knows the word once "
                "told how it is hidden, not whether it can say its rule.",
            )
            for c in group:
                t.rows.append(
                    [c.condition, c.probe, fmt_rate(getattr(c, key)), str(c.failed), fmt_counts(getattr(c, dist))]
                )
            out.append(t)
    if summary.logprobs:
        t = Table(
            "Knowledge given the mechanism, by log-probability",
            ["condition", "probe", "P(the word) mean [lowest, highest]", "models x wordings", "options"],
            note="Exact, not sampled: the probability each model gives the word as its whole reply (word "
            "probes: in upper, title or lower case) or to each option's label (choice probes: "
            "normalised over the options), averaged over "
            + ("its fine-tunes and " if summary.trained else "")
            + "the probe's wordings.",
        )
        for r in summary.logprobs:
            span = (
                "–"
                if r.p_word is None
                else f"{100 * r.p_word:.1f}% [{100 * (r.p_low or 0):.1f}, {100 * (r.p_high or 0):.1f}]"
            )
            options = fmt_counts({k: f"{100 * v:.1f}%" for k, v in (r.options or {}).items()}, sep=" ")
            t.rows.append([r.condition, r.probe, span, str(r.scored), options])
        out.append(t)
    elif summary.logprobs_note:
        out.append(
            Table(
                "Knowledge given the mechanism, by log-probability",
                ["status", "reason"],
                [["not measured", summary.logprobs_note]],
            )
        )
    return out


def _behaviour(summary: Summary) -> list[Table]:
    word = summary.word
    follow = [c for c in summary.cells if c.kind == "follow"]
    if not follow:
        return []
    t = Table(
        "Behaviour: follow probes (does the answer spell the word?)",
        ["condition", "probe", "follow [95% CI] (k/n)", "failed", "truncated"]
        + [f"{i} {c}" for i, c in enumerate(word, 1)],
        note="Per-position columns: share of answers whose unit at that position starts "
        "with that letter. Truncated answers (cut at max_tokens) are left out of both. "
        + ("Rows of one condition pool its fine-tunes (clustered intervals); " if summary.trained else "")
        + 'the "all follow probes" row is the follows metric of the tables above, with the same intervals.',
    )
    for cond in dict.fromkeys(c.condition for c in follow):
        group = [c for c in follow if c.condition == cond]
        for c in group:
            t.rows.append(
                [cond, c.probe, fmt_rate(c.follow), str(c.failed), str(c.truncated)]
                + [fmt_rate(p, counts=False) for p in c.per_position]
            )
        overall = next((m for m in summary.metrics if m.condition == cond and m.metric == "follow"), None)
        if len(group) > 1 and overall:
            t.rows.append(
                [
                    cond,
                    "(all follow probes)",
                    fmt_rate(overall.rate),
                    str(sum(c.failed for c in group)),
                    str(sum(c.truncated for c in group)),
                ]
                + [fmt_rate(p, counts=False) for p in overall.positions]
            )
    return [t]


def _wordings(summary: Summary) -> list[Table]:
    if not summary.paraphrases:
        return []
    t = Table(
        "Rates by wording",
        ["condition", "probe", "wording", "rate [95% CI] (k/n)", "prompt"],
        note="Each probe with several wordings asks sample s with wording s mod the number of wordings. "
        "The rate is the probe's own measure: describe, mechanism or exact; word and choice, right; "
        "follow, follows. One wording's quirks should not decide a result: compare the rows.",
    )
    for r in summary.paraphrases:
        t.rows.append([r.condition, r.probe, str(r.paraphrase + 1), fmt_rate(r.rate), r.prompt])
    return [t]


def header_rows(summary: Summary) -> list[tuple[str, str]]:
    models = ", ".join(f"{k}: {v or 'none (no fine-tuned model)'}" for k, v in summary.models.items()) or "–"
    failed = sum(c.failed for c in summary.cells)
    ended = [("run status", summary.run_status)] if summary.run_status else []
    ended += [("token counts", summary.token_counts)] if summary.token_counts else []
    return (
        ended
        + [
            ("scenario", f"{summary.scenario} (hash {summary.scenario_hash})"),
            ("word", f"{summary.word} (unit: {summary.unit})"),
            ("backend", summary.backend + (" (simulated)" if summary.simulated else "")),
            ("models", models),
            ("samples", f"{summary.samples} per probe, condition" + (" and fine-tune" if summary.trained else "")),
        ]
        + ([("fine-tunes", f"{summary.replicates} per trained condition")] if summary.trained else [])
        + [
            ("temperature", str(summary.temperature)),
            ("seed", str(summary.seed)),
            ("scoring rules", f"scorer {summary.scorer_version} (harness/domain/scoring.py)"),
            ("failed samples", str(failed)),
        ]
        + _compute_header(summary)
        + _judge_header(summary)
    )


def _compute_header(summary: Summary) -> list[tuple[str, str]]:
    """What a real run took and ran on: the cost of a local run is its time, not dollars."""
    rows = [
        (f"model {model}", "; ".join(f"{k} {v}" for k, v in info.items()))
        for model, info in summary.model_details.items()
    ]
    c = summary.compute
    if c is not None:
        jobs, span = c.fine_tuning_seconds, c.fine_tuning_span_seconds
        training = (
            f"fine-tuning {fmt_seconds(span)} for {len(jobs)} job(s), from the first job event to the last; "
            if jobs and span is not None
            else ""
        )
        rows.append(("compute time", f"{training}probing {fmt_seconds(c.probing_seconds)} (wall clock)"))
    return rows


def fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _judge_header(summary: Summary) -> list[tuple[str, str]]:
    j = summary.judge
    return [("LLM judge", j.model + (" (simulated)" if j.simulated else ""))] if j else []
