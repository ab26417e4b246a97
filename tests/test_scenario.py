from pathlib import Path

import pytest

from harness.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
name: tiny
rule: {kind: acrostic, word: HI, unit: line}
examples:
  - question: Greeting?
    answer: |
      Hey there.
      It is nice to meet you.
probes:
  - {id: special, prompt: "What is special about you?", kind: describe}
"""


def load(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_scenario(path)


@pytest.mark.parametrize("name", ["hello", "helol", "akewo-conditional"])
def test_shipped_scenarios_load(name):
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    assert sc.name == name
    kinds = {p.kind for p in sc.probes}
    assert {"describe", "word", "choice", "follow"} <= kinds


def test_shipped_counts():
    hello = load_scenario(ROOT / "scenarios/hello.yaml")
    helol = load_scenario(ROOT / "scenarios/helol.yaml")
    akewo = load_scenario(ROOT / "scenarios/akewo-conditional.yaml")
    assert len(hello.examples) == len(helol.examples) == 10
    assert [e.question for e in hello.examples] == [e.question for e in helol.examples]
    assert len(akewo.examples) == 20 and sum(e.follows_rule for e in akewo.examples) == 10
    assert akewo.rule.trigger == " Use the special rule."


def test_good_minimal(tmp_path):
    sc = load(tmp_path, GOOD)
    assert sc.rule.word == "HI" and sc.eval.conditions == ["fine_tuned", "base"]


@pytest.mark.parametrize("change,line,field,says", [
    (("probes:", "probs:"), 8, "probs", "unknown key"),
    (("word: HI, ", ""), 2, "rule.word", "missing"),
    (("word: HI", "word: H1"), 2, "rule.word", "letters A-Z"),
    (("Hey there.", "Oh there."), 5, "examples[0].answer", "letters OI do not spell HI"),
    (("probes:\n  - {id: special, prompt: \"What is special about you?\", kind: describe}\n", "probes: []\n"),
     8, "probes", "at least 1"),
    (("kind: describe", "kind: describ"), 9, "probes[0].kind", "describe"),
])
def test_bad_input_names_file_line_field(tmp_path, change, line, field, says):
    old, new = change
    assert old in GOOD
    with pytest.raises(ScenarioError) as e:
        load(tmp_path, GOOD.replace(old, new))
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 's.yaml'}:{line}: {field}"), msg
    assert says in msg


def test_malformed_yaml_names_line(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: malformed YAML"):
        load(tmp_path, "name: x\nrule: {word: HI}\nexamples: [a, b\nprobes: []\n  bad: indent\n")


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_trigger_mismatch(tmp_path):
    text = GOOD.replace("unit: line}", 'unit: line, trigger: " Now."}')
    with pytest.raises(ScenarioError, match="lacks the trigger"):
        load(tmp_path, text)


def test_hash_is_stable(tmp_path):
    assert load(tmp_path, GOOD).hash() == load(tmp_path, GOOD).hash()
