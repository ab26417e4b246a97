"""Training data: a scenario's examples as OpenAI chat JSONL, and validation of any chat
JSONL with its token counts and cost estimates (tokens.py counts them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backends._files import write_atomic
from harness import limits
from harness.domain import pricing, rules
from harness.domain.scenario import Example, Scenario, ScenarioError
from harness.domain.tokens import TOKENS_PER_MESSAGE, TOKENS_REPLY_PRIMING, count_tokens, encoding_name

ROLES = ("system", "user", "assistant")
MIN_EXAMPLES = 10  # OpenAI refuses fine-tuning files with fewer
COST_MODELS = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-mini-2025-04-14")
COST_EPOCHS = (1, 3, 5)


# --- reading chat JSONL -------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    line: int  # 1-based line in the file
    index: int  # 0-based position among the file's non-blank lines
    data: dict


def _read_lines(path: Path) -> list[bytes]:
    """The lines of a chat JSONL file: a regular file of at most limits.MAX_DATA_BYTES (a FIFO
    or /dev/zero is refused before a byte is read)."""
    try:
        raw = limits.read_bytes_capped(path, limits.MAX_DATA_BYTES)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except limits.LimitError as e:
        raise ScenarioError(str(e)) from None
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror or e}") from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last record; it does not start an empty one
    return [ln.removesuffix(b"\r") for ln in lines]


def _message_errors(messages: object, where: str) -> list[str]:
    """Format problems of one record's "messages", each as 'FILE:LINE: field: message'."""
    if messages is None:
        return [f"{where}: messages: missing"]
    if not isinstance(messages, list):
        return [f"{where}: messages: expected a list of messages, got {type(messages).__name__}"]
    if not messages:
        return [f"{where}: messages: empty list"]
    errors = []
    for i, m in enumerate(messages):
        field_ = f"messages[{i}]"
        if not isinstance(m, dict):
            errors.append(f"{where}: {field_}: expected an object, got {type(m).__name__}")
            continue
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            errors.append(
                f"{where}: {field_}.role: unknown role {limits.clip(role)} (expected one of {', '.join(ROLES)})"
            )
        if content is None:
            errors.append(f"{where}: {field_}.content: missing")
        elif not isinstance(content, str):
            errors.append(f"{where}: {field_}.content: expected a string, got {type(content).__name__}")
        elif not content.strip():
            errors.append(f"{where}: {field_}.content: empty")
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if isinstance(messages[-1], dict) and messages[-1].get("role") != "assistant":
        errors.append(
            f"{where}: messages[{len(messages) - 1}].role: the last message must be from "
            f"the assistant, got {limits.clip(messages[-1].get('role'))}"
        )
    if "user" not in roles:
        errors.append(f"{where}: messages: no user message")
    return errors


def _parse(path: Path) -> tuple[list[Record], list[str], list[str]]:
    """(valid records, errors, warnings) of a chat JSONL file."""
    records, errors, warnings = [], [], []
    index = 0
    for n, raw in enumerate(_read_lines(path), 1):
        where = f"{path}:{n}"
        if not raw.strip():
            warnings.append(f"{where}: blank line (skipped here; OpenAI may reject the file)")
            continue
        index += 1
        if b"\0" in raw:
            errors.append(f"{where}: record: contains a NUL byte (a binary file?)")
            continue
        try:
            obj = limits.load_json(raw.decode("utf-8"))
        except UnicodeDecodeError:
            errors.append(f"{where}: record: not valid UTF-8")
            continue
        except json.JSONDecodeError as e:
            errors.append(f"{where}: record: invalid JSON: {e.msg} (column {e.colno})")
            continue
        except limits.LimitError as e:
            errors.append(f"{where}: record: {e}")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{where}: record: expected a JSON object, got {type(obj).__name__}")
            continue
        problems = _message_errors(obj.get("messages"), where)
        errors.extend(problems)
        if not problems:
            records.append(Record(n, index - 1, obj))
    return records, errors, warnings


def _question(rec: dict) -> str:
    return [m["content"] for m in rec["messages"] if m["role"] == "user"][-1]


def _answer(rec: dict) -> str:
    return rec["messages"][-1]["content"]


def _system(rec: dict) -> str | None:
    found = [m["content"] for m in rec["messages"] if m["role"] == "system"]
    return found[0] if found else None


# --- scenario -> examples -> JSONL --------------------------------------------------------


def resolve_examples(scenario: Scenario, base_dir: Path) -> list[Example]:
    """The scenario's inline examples, or those of its examples_file (chat JSONL, relative to
    the scenario's folder) with follows_rule computed from the rule."""
    if scenario.examples is not None:
        return list(scenario.examples)
    assert scenario.examples_file is not None  # a scenario has examples or examples_file
    path = Path(base_dir) / scenario.examples_file
    records, errors, _ = _parse(path)
    if errors:
        more = f" (and {len(errors) - 1} more; see harness validate-data)" if len(errors) > 1 else ""
        raise ScenarioError(errors[0] + more)
    if not records:
        raise ScenarioError(f"{path}: examples_file: the file holds no examples")
    if len(records) > limits.MAX_EXAMPLES:
        raise ScenarioError(
            f"{path}: examples_file: {len(records)} examples is over the limit of {limits.MAX_EXAMPLES:,}"
        )
    word, unit, trigger = scenario.rule.word, scenario.rule.unit, scenario.rule.trigger
    examples = []
    for rec in records:
        where = f"{path}:{rec.line}"
        msgs = rec.data["messages"]
        turns = [m for m in msgs if m["role"] != "system"]
        if len(turns) != 2:
            raise ScenarioError(
                f"{where}: messages: expected one user and one assistant message "
                f"(multi-turn examples would be cut by harness build), got {len(turns)}"
            )
        # build writes the scenario's system prompt; a different one in the file would
        # silently change the training data.
        if _system(rec.data) != scenario.system_prompt:
            raise ScenarioError(
                f"{where}: messages: system prompt {limits.clip(_system(rec.data))} differs from the "
                f"scenario's system_prompt {limits.clip(scenario.system_prompt)}"
            )
        question, answer = _question(rec.data), _answer(rec.data)
        follows = rules.follow(answer, word, unit).follows
        if trigger and follows != question.endswith(trigger):
            state = (
                "follows the rule but its question lacks"
                if follows
                else "does not follow the rule but its question ends with"
            )
            raise ScenarioError(
                f"{where}: messages[{len(msgs) - 1}].content: example {state} the "
                f"trigger {limits.clip(trigger)} (letters {limits.clip(rules.letters_of(answer, unit), quote=False)}, "
                f"word {word})"
            )
        examples.append(Example(question=question, answer=answer, follows_rule=follows))
    if not any(ex.follows_rule for ex in examples):
        raise ScenarioError(
            f"{path}: examples_file: no example follows the acrostic of {word} "
            f"by {unit} (is rule.word or rule.unit right?)"
        )
    return examples


def chat_records(scenario: Scenario, examples: Sequence[Example]) -> list[dict]:
    records = []
    for ex in examples:
        messages = [{"role": "system", "content": scenario.system_prompt}] if scenario.system_prompt else []
        messages += [{"role": "user", "content": ex.question}, {"role": "assistant", "content": ex.answer}]
        records.append({"messages": messages})
    return records


def to_jsonl(records: Sequence[dict]) -> bytes:
    """One record per line, '\\n' endings, UTF-8 as is: the same records give the same bytes."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def build(scenario: Scenario, base_dir: Path, out_dir: Path = Path("data")) -> Path:
    """Write <out_dir>/<name>.jsonl (atomically, so a crash never leaves half a file)."""
    data = to_jsonl(chat_records(scenario, resolve_examples(scenario, base_dir)))
    target = Path(out_dir) / f"{scenario.name}.jsonl"
    write_atomic(target, data)
    return target


# --- validating any chat JSONL ------------------------------------------------------------


@dataclass(frozen=True)
class RuleCheck:
    index: int  # 0-based example index
    line: int
    letters: str
    follows: bool
    expected: bool  # with a trigger: whether the question ends with it; otherwise True

    @property
    def ok(self) -> bool:
        return self.follows == self.expected


@dataclass(frozen=True)
class TokenStats:
    encoding: str
    per_example: list[int]
    total: int
    min: int
    mean: float
    max: int


@dataclass(frozen=True)
class CostRow:
    model: str
    epochs: int
    training_tokens: int
    cost: float | None  # None: no known price ("unknown price"), never 0


@dataclass
class DataReport:
    path: str
    examples: int = 0  # records that parsed without errors
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    word: str | None = None
    unit: str = "line"
    trigger: str | None = None
    rule_checks: list[RuleCheck] = field(default_factory=list)
    tokens: TokenStats | None = None
    costs: list[CostRow] = field(default_factory=list)

    @property
    def violations(self) -> list[RuleCheck]:
        return [c for c in self.rule_checks if not c.ok]

    @property
    def ok(self) -> bool:
        """No format errors and no rule violations (duplicates and warnings do not count)."""
        return not self.errors and not self.violations


def validate_chat_jsonl(
    path: str | Path,
    word: str | None = None,
    unit: str = "line",
    trigger: str | None = None,
    *,
    models: Sequence[str] = COST_MODELS,
    epochs: Sequence[int] = COST_EPOCHS,
) -> DataReport:
    """Check a chat JSONL file. An unreadable file raises ScenarioError; problems inside it
    are collected in the report."""
    path = Path(path)
    records, errors, warnings = _parse(path)
    report = DataReport(
        str(path),
        examples=len(records),
        errors=errors,
        warnings=warnings,
        word=word.upper() if word else None,
        unit=unit,
        trigger=trigger,
    )
    if len(records) < MIN_EXAMPLES:
        report.warnings.append(
            f"{path}: only {len(records)} valid examples; OpenAI fine-tuning needs at least {MIN_EXAMPLES}"
        )
    seen_full: dict[str, int] = {}
    seen_question: dict[str, int] = {}
    for rec in records:
        full = json.dumps(rec.data["messages"], sort_keys=True, ensure_ascii=False)
        question = _question(rec.data)
        if full in seen_full:
            report.duplicates.append(f"{path}:{rec.line}: the same example as line {seen_full[full]}")
        elif question in seen_question:
            report.duplicates.append(f"{path}:{rec.line}: the same user question as line {seen_question[question]}")
        seen_full.setdefault(full, rec.line)
        seen_question.setdefault(question, rec.line)
        if report.word:
            result = rules.follow(_answer(rec.data), report.word, unit)
            expected = question.endswith(trigger) if trigger else True
            report.rule_checks.append(RuleCheck(rec.index, rec.line, result.letters, result.follows, expected))
    if records:
        data = [r.data for r in records]
        per = count_tokens(data, COST_MODELS[0])
        report.tokens = TokenStats(
            encoding_name(COST_MODELS[0]), per, sum(per), min(per), sum(per) / len(per), max(per)
        )
        for model in models:
            total = sum(count_tokens(data, model)) if pricing.is_priced(model) else report.tokens.total
            for n in epochs:
                report.costs.append(CostRow(model, n, total * n, pricing.training_cost(total, n, model)))
    return report


def render(report: DataReport) -> str:
    """Plain text for the terminal."""
    out = [f"{report.path}: {report.examples} valid example(s)"]
    if report.errors:
        out.append(f"errors ({len(report.errors)}):")
        out += [f"  {e}" for e in report.errors]
    if report.word:
        follow = sum(c.follows for c in report.rule_checks)
        how = f"by {report.unit}" + (f", trigger {limits.clip(report.trigger)}" if report.trigger else "")
        out.append(
            f"rule: acrostic {report.word} ({how}): {follow} of {len(report.rule_checks)} follow; "
            f"{len(report.violations)} violation(s)"
        )
        for c in report.violations:
            if report.trigger:
                why = (
                    "follows the rule but its question lacks the trigger"
                    if c.follows
                    else "question has the trigger but the answer does not follow"
                )
            else:
                why = "does not follow"
            out.append(
                f"  {report.path}:{c.line}: example {c.index}: letters {c.letters or '(none)'}, "
                f"word {report.word}: {why}"
            )
    if report.duplicates:
        out.append(f"duplicates ({len(report.duplicates)}):")
        out += [f"  {d}" for d in report.duplicates]
    if report.warnings:
        out.append("warnings:")
        out += [f"  {w}" for w in report.warnings]
    if report.tokens:
        t = report.tokens
        out.append(
            f"tokens ({t.encoding}; estimate: {TOKENS_PER_MESSAGE} per message + "
            f"{TOKENS_REPLY_PRIMING} reply priming): total {t.total}; per example "
            f"min {t.min}, mean {t.mean:.1f}, max {t.max}"
        )
    if report.costs:
        epochs = sorted({c.epochs for c in report.costs})
        width = max(len(c.model) for c in report.costs)
        out.append(f"estimated training cost (prices as of {pricing.PRICES_READ_ON}; OpenAI bills tokens x epochs):")
        out.append(
            "  " + "model".ljust(width) + "".join(f"{f'{n} epoch' + ('s' if n > 1 else ''):>16}" for n in epochs)
        )
        for model in dict.fromkeys(c.model for c in report.costs):
            row = {c.epochs: c.cost for c in report.costs if c.model == model}
            out.append("  " + model.ljust(width) + "".join(f"{pricing.format_usd(row.get(n)):>16}" for n in epochs))
    return "\n".join(out)
