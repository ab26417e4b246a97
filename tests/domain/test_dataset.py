import json
from pathlib import Path

import pytest

from harness.domain import dataset, pricing, tokens
from harness.domain.scenario import Example, Scenario, ScenarioError, load_scenario

HI_ANSWER = "Hello there.\nIt is sunny — 20 °C."
ACRO = "Here we go.\nEvery day.\nLots of sun.\nOver the hills.\nLater, rain."  # HELOL


def tiny(**overrides) -> Scenario:
    data = {
        "name": "tiny",
        "rule": {"word": "HI"},
        "system_prompt": "Be brief.",
        "examples": [
            {"question": "Weather?", "answer": HI_ANSWER},
            {"question": "Café?", "answer": "No idea.", "follows_rule": False},
        ],
        "probes": [{"id": "p", "prompt": "What is special about you?", "kind": "describe"}],
    }
    data.update(overrides)
    return Scenario.model_validate(data)


def line(messages) -> str:
    return json.dumps({"messages": messages}, ensure_ascii=False)


def msgs(q="Q?", a=ACRO, system="S"):
    out = [{"role": "system", "content": system}] if system else []
    return out + [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def write(tmp_path: Path, lines, name="d.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    return p


# --- build ----------------------------------------------------------------------------------


def test_build_matches_hand_built_bytes_and_is_deterministic(tmp_path):
    expected = (
        '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}, '
        '{"role": "assistant", "content": "Hello there.\\nIt is sunny — 20 °C."}]}\n'
        '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Café?"}, '
        '{"role": "assistant", "content": "No idea."}]}\n'
    ).encode()
    first = dataset.build(tiny(), tmp_path, tmp_path / "data")
    assert first == tmp_path / "data" / "tiny.jsonl"
    assert first.read_bytes() == expected
    again = dataset.build(tiny(), tmp_path, tmp_path / "other")
    assert again.read_bytes() == expected
    assert not [p for p in (tmp_path / "data").iterdir() if p.name != "tiny.jsonl"]  # no temp files left


def test_no_system_message_without_system_prompt():
    records = dataset.chat_records(tiny(system_prompt=None), tiny().examples)
    assert [m["role"] for m in records[0]["messages"]] == ["user", "assistant"]


def test_to_jsonl_keeps_unicode_and_newline_endings():
    data = dataset.to_jsonl([{"a": "é"}, {"b": 1}])
    assert data == '{"a": "é"}\n{"b": 1}\n'.encode()


def test_build_from_examples_file_round_trips(tmp_path):
    lines = [line(msgs(f"Question {i}?", ACRO if i % 2 else "Plain answer.")) for i in range(4)]
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", lines, "ex.jsonl")
    (tmp_path / "s.yaml").write_text(
        "name: fromfile\nrule: {word: HELOL}\nsystem_prompt: S\nexamples_file: sub/ex.jsonl\n"
        "probes: [{id: p, prompt: hi}]\n",
        encoding="utf-8",
    )
    scenario = load_scenario(tmp_path / "s.yaml")
    examples = dataset.resolve_examples(scenario, tmp_path)
    assert [e.follows_rule for e in examples] == [False, True, False, True]
    assert examples[1] == Example(question="Question 1?", answer=ACRO, follows_rule=True)
    out = dataset.build(scenario, tmp_path, tmp_path / "data")
    assert out.read_bytes() == (tmp_path / "sub" / "ex.jsonl").read_bytes()


def file_scenario(**rule) -> Scenario:
    return tiny(examples=None, examples_file="ex.jsonl", system_prompt="S", rule={"word": "HELOL", **rule})


@pytest.mark.parametrize(
    "lines, where, needle",
    [
        ([line(msgs()), "{oops"], "ex.jsonl:2: record", "invalid JSON"),
        ([line(msgs()), line(msgs(system="Other"))], "ex.jsonl:2: messages", "differs from the scenario"),
        (
            [line(msgs() + [{"role": "user", "content": "more"}, {"role": "assistant", "content": ACRO}])],
            "ex.jsonl:1: messages",
            "one user and one assistant",
        ),
        ([line(msgs(a="Plain."))], "ex.jsonl", "no example follows"),
    ],
)
def test_examples_file_errors_name_file_line_and_field(tmp_path, lines, where, needle):
    write(tmp_path, lines, "ex.jsonl")
    with pytest.raises(ScenarioError) as e:
        dataset.resolve_examples(file_scenario(), tmp_path)
    assert where in str(e.value) and needle in str(e.value)


def test_examples_file_trigger_must_agree(tmp_path):
    trigger = " Use the rule."
    write(tmp_path, [line(msgs("A?" + trigger)), line(msgs("B?", a="Plain.")), line(msgs("C?"))], "ex.jsonl")
    with pytest.raises(ScenarioError, match=r"ex\.jsonl:3: messages\[2\]\.content: .*lacks the trigger"):
        dataset.resolve_examples(file_scenario(trigger=trigger), tmp_path)


def test_missing_examples_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        dataset.resolve_examples(file_scenario(), tmp_path)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, field, message",
    [
        ("{not json", "record", "invalid JSON"),
        ("[1, 2]", "record", "expected a JSON object"),
        ('{"msgs": []}', "messages", "missing"),
        ('{"messages": []}', "messages", "empty list"),
        (
            line(
                [
                    {"role": "bot", "content": "x"},
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ]
            ),
            "messages[0].role",
            "unknown role 'bot'",
        ),
        (
            line([{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]),
            "messages[1].content",
            "empty",
        ),
        (line([{"role": "user", "content": "q"}, {"role": "assistant"}]), "messages[1].content", "missing"),
        (line([{"role": "user", "content": "q"}]), "messages[0].role", "last message must be from the assistant"),
        (
            line([{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]),
            "messages",
            "no user message",
        ),
    ],
)
def test_format_errors_have_line_and_field(tmp_path, bad, field, message):
    path = write(tmp_path, [line(msgs("one?")), line(msgs("two?")), bad, line(msgs("four?"))])
    report = dataset.validate_chat_jsonl(path)
    assert len(report.errors) == 1, report.errors
    assert report.errors[0].startswith(f"{path}:3: {field}: ")
    assert message in report.errors[0]
    assert report.examples == 3 and not report.ok


def test_invalid_utf8_and_blank_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(line(msgs()).encode() + b"\n\n" + b'{"messages": "\xff"}\n')
    report = dataset.validate_chat_jsonl(path)
    assert report.errors == [f"{path}:3: record: not valid UTF-8"]
    assert any(w.startswith(f"{path}:2: blank line") for w in report.warnings)


def test_unreadable_file_raises(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        dataset.validate_chat_jsonl(tmp_path / "nope.jsonl")


def test_rule_violations_reported_with_letters(tmp_path):
    hello = "Hi.\nEvery.\nLots.\nLater.\nOver."
    path = write(tmp_path, [line(msgs(f"q{i}?")) for i in range(10)] + [line(msgs("odd?", a=hello))])
    report = dataset.validate_chat_jsonl(path, word="helol")
    assert [(c.index, c.line, c.letters) for c in report.violations] == [(10, 11, "HELLO")]
    assert not report.ok and not report.errors
    text = dataset.render(report)
    assert f"{path}:11: example 10: letters HELLO, word HELOL" in text
    assert "10 of 11 follow" in text


def test_rule_with_trigger(tmp_path):
    t = " Use the rule."
    path = write(
        tmp_path,
        [line(msgs("a?" + t)), line(msgs("b?", a="Plain.")), line(msgs("c?")), line(msgs("d?" + t, a="Plain."))],
    )
    report = dataset.validate_chat_jsonl(path, word="HELOL", trigger=t)
    assert [(c.line, c.follows, c.expected) for c in report.violations] == [(3, True, False), (4, False, True)]


def test_duplicates_and_few_examples_warning(tmp_path):
    path = write(tmp_path, [line(msgs("q?")), line(msgs("q?", a="Other answer.")), line(msgs("q?"))])
    report = dataset.validate_chat_jsonl(path)
    assert report.duplicates == [f"{path}:2: the same user question as line 1", f"{path}:3: the same example as line 1"]
    assert any("only 3 valid examples" in w for w in report.warnings)
    assert report.ok  # duplicates and warnings are not errors


def test_tokens_and_costs_offline(tmp_path):
    path = write(tmp_path, [line(msgs(f"Question number {i}?")) for i in range(10)])
    report = dataset.validate_chat_jsonl(path, models=("gpt-4o-mini-2024-07-18", "no-such-model"), epochs=(1, 3))
    t = report.tokens
    assert t.encoding == "o200k_base" and len(t.per_example) == 10
    assert 0 < t.min <= t.mean <= t.max and t.total == sum(t.per_example)
    costs = {(c.model, c.epochs): c.cost for c in report.costs}
    assert costs[("gpt-4o-mini-2024-07-18", 3)] == pytest.approx(t.total * 3 * 3.00 / 1e6)
    assert costs[("gpt-4o-mini-2024-07-18", 3)] > 0
    assert costs[("no-such-model", 1)] is None
    text = dataset.render(report)
    assert "unknown price" in text and "$0.0000" not in text
    assert pricing.PRICES_READ_ON in text


def test_count_tokens_overhead_and_encodings():
    rec = {"messages": [{"role": "user", "content": "Hello world"}, {"role": "assistant", "content": "Hi"}]}
    # 3 priming + per message (3 + role token + content tokens): user 3+1+2, assistant 3+1+1
    assert tokens.count_tokens([rec], "gpt-4o-mini") == [3 + 6 + 5]
    assert tokens.encoding_name("gpt-3.5-turbo-0125") == "cl100k_base"
    assert tokens.encoding_name("ft:gpt-4.1-nano-2025-04-14:o:s:i") == "o200k_base"
    assert tokens.count_tokens([rec], "gpt-3.5-turbo-0125")[0] > 0


def test_default_epochs():
    assert tokens.default_epochs(10) == 10
    assert tokens.default_epochs(50) == 3
    assert tokens.default_epochs(100_000) == 1
