import pytest
import yaml

from harness.domain.scenario import Scenario, ScenarioError, check_word, load_scenario
from tests.helpers import ROOT

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


@pytest.mark.parametrize(
    "change,line,field,says",
    [
        (("probes:", "probs:"), 8, "probs", "unknown key"),
        (("word: HI, ", ""), 2, "rule.word", "missing"),
        (("word: HI", "word: H1"), 2, "rule.word", "letters A-Z"),
        (("Hey there.", "Oh there."), 5, "examples[0].answer", "letters OI do not spell HI"),
        (
            ('probes:\n  - {id: special, prompt: "What is special about you?", kind: describe}\n', "probes: []\n"),
            8,
            "probes",
            "at least 1",
        ),
        (("kind: describe", "kind: describ"), 9, "probes[0].kind", "describe"),
    ],
)
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


def test_hyperparameters_stay_a_plain_dict_of_the_keys_given(tmp_path):
    text = GOOD + "fine_tune: {hyperparameters: {n_epochs: auto, batch_size: 4, learning_rate_multiplier: 0.5}}\n"
    hp = load(tmp_path, text).fine_tune.hyperparameters
    assert type(hp) is dict and hp == {"n_epochs": "auto", "batch_size": 4, "learning_rate_multiplier": 0.5}
    assert load(tmp_path, GOOD).fine_tune.hyperparameters == {}
    # the dump, and so the scenario hash, holds only the keys given, never the unset ones as None
    with_epochs = load(tmp_path, GOOD + "fine_tune: {hyperparameters: {n_epochs: 3}}\n")
    assert with_epochs.model_dump(mode="json")["fine_tune"]["hyperparameters"] == {"n_epochs": 3}


@pytest.mark.parametrize(
    "hp,field,says",
    [
        ("{n_epoch: 3}", "n_epoch", "unknown key"),
        ("{n_epochs: 0}", "n_epochs", "from 1 to 50"),
        ("{n_epochs: 51}", "n_epochs", "from 1 to 50"),
        ("{n_epochs: true}", "n_epochs", "got True"),
        ("{n_epochs: '3'}", "n_epochs", "got '3'"),
        ("{n_epochs: 2.5}", "n_epochs", "got 2.5"),
        ("{batch_size: 0}", "batch_size", "at least 1"),
        ("{learning_rate_multiplier: 0}", "learning_rate_multiplier", "above 0"),
        ("{learning_rate_multiplier: fast}", "learning_rate_multiplier", "'auto'"),
        ("{learning_rate_multiplier: .inf}", "learning_rate_multiplier", "got inf"),
    ],
)
def test_bad_hyperparameters_name_line_and_key(tmp_path, hp, field, says):
    text = GOOD + f"fine_tune:\n  suffix: x\n  hyperparameters: {hp}\n"
    with pytest.raises(ScenarioError) as e:
        load(tmp_path, text)
    assert str(e.value).startswith(f"{tmp_path / 's.yaml'}:12: fine_tune.hyperparameters.{field}: "), str(e.value)
    assert says in str(e.value)


def test_unknown_hyperparameter_in_block_style_points_at_its_own_line(tmp_path):
    text = GOOD + "fine_tune:\n  hyperparameters:\n    n_epochs: 3\n    batchsize: 8\n"
    with pytest.raises(ScenarioError, match=r"s\.yaml:13: fine_tune\.hyperparameters\.batchsize: unknown key"):
        load(tmp_path, text)


def test_hyperparameters_must_be_a_mapping(tmp_path):
    with pytest.raises(ScenarioError, match=r":10: fine_tune\.hyperparameters: expected a mapping"):
        load(tmp_path, GOOD + "fine_tune: {hyperparameters: 3}\n")


@pytest.mark.parametrize(
    "word,says",
    [("H", "at least 2 letters"), ("H1", "letters A-Z only"), ("HÉLLO", "letters A-Z only"), ("", "letters A-Z only")],
)
def test_check_word_refuses(word, says):
    with pytest.raises(ValueError, match=says):
        check_word(word)


def test_check_word_upper_cases_and_is_the_scenario_rule(tmp_path):
    assert check_word("helol") == "HELOL"
    with pytest.raises(ScenarioError, match=r":2: rule\.word: must have at least 2 letters, got 'H'"):
        load(tmp_path, GOOD.replace("word: HI", "word: H"))


CHOICE = (
    GOOD
    + """\
  - id: pick
    kind: choice
    prompt: Which word?
    options: [HI, HO, HA]
"""
)


def test_choice_options_match_the_word_in_any_case(tmp_path):
    assert load(tmp_path, CHOICE.replace("[HI, HO, HA]", "[hi, HO]")).probes[1].options == ["hi", "HO"]


@pytest.mark.parametrize(
    "options,says",
    [
        ("[HO, HA]", "probes[1].options: must include the rule's word HI, got HO, HA"),
        ("[HI, HO, hi]", "probes[1].options: each option once, repeated: HI"),
    ],
)
def test_bad_choice_options_point_at_the_options_line(tmp_path, options, says):
    with pytest.raises(ScenarioError) as e:
        load(tmp_path, CHOICE.replace("[HI, HO, HA]", options))
    assert str(e.value) == f"{tmp_path / 's.yaml'}:13: {says}"


@pytest.mark.parametrize("trigger", ["''", "'   '"])
def test_empty_trigger_is_refused(tmp_path, trigger):
    with pytest.raises(ScenarioError, match=r":2: rule\.trigger: must be text the question ends with"):
        load(tmp_path, GOOD.replace("unit: line}", f"unit: line, trigger: {trigger}}}"))


@pytest.mark.parametrize(
    "text,line,field",
    [
        (GOOD + "name: other\n", 10, "name"),  # top level
        (GOOD.replace("kind: describe}", "kind: describe, id: again}"), 9, "probes[0].id"),  # in a list item
        (GOOD + "eval:\n  samples: 20\n  temperature: 1\n  samples: 3\n", 13, "eval.samples"),
    ],
)
def test_a_key_given_twice_is_refused_at_its_second_line(tmp_path, text, line, field):
    with pytest.raises(ScenarioError) as e:
        load(tmp_path, text)
    assert str(e.value).startswith(f"{tmp_path / 's.yaml'}:{line}: {field}: key given twice (first on line "), str(
        e.value
    )


def test_merge_keys_may_be_overridden(tmp_path):
    assert load(tmp_path, GOOD + "eval: {<<: {samples: 5}, samples: 7}\n").eval.samples == 7


def test_sweep_files_refuse_a_key_given_twice(tmp_path):
    from harness.sweeps.spec import SweepError, load_sweep

    path = tmp_path / "sw.yaml"
    path.write_text("name: s\nwords: [HI]\nexamples: [10]\nwords: [HO]\n")
    with pytest.raises(SweepError, match=r"sw\.yaml:4: words: key given twice \(first on line 2\)"):
        load_sweep(path)


def test_checks_on_the_file_do_not_stop_old_run_manifests_from_loading(tmp_path):
    """A run directory saved before a check existed keeps its scenario in manifest.json;
    `report`/`status` validate it with the model alone, which must still accept it."""
    data = yaml.safe_load(GOOD.replace("unit: line}", "unit: line, trigger: ''}"))
    assert Scenario.model_validate(data).rule.trigger == ""
