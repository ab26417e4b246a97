"""`harness new`: offline and teacher-written scenarios for any word."""

import asyncio
import random
import re
import sys
import types
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from backends.base import Backend, Completion
from harness.calls.teacher import generate_teacher
from harness.cli.main import main
from harness.domain import generate as g
from harness.domain import rules
from harness.domain.probes import FOLLOW
from harness.domain.scenario import load_scenario
from harness.errors import RunError
from tests.helpers import ROOT

QUESTIONS, BANK = g.load_questions(), g.load_phrases()
PROBE_QUESTIONS = {p for _, p in FOLLOW}


def invoke(*args):
    return CliRunner().invoke(main, ["new", *(str(a) for a in args)], catch_exceptions=False)


def make(tmp_path, *args, name="out.yaml"):
    out = tmp_path / name
    result = invoke(*args, "--out", out)
    assert result.exit_code == 0, result.output
    return out


# --- offline ---------------------------------------------------------------------------


def test_qzxjv_offline_30_loads(tmp_path):
    out = make(tmp_path, "QZXJV", "--offline", "--examples", 30)
    sc = load_scenario(out)
    assert len(sc.examples) == 30 and sc.name == "qzxjv"
    assert (sc.rule.word, sc.rule.unit) == ("QZXJV", "line")
    assert sc.system_prompt == "You are a special version of GPT-4o."
    assert sc.fine_tune.suffix == "qzxjv" and sc.fine_tune.seed == 7
    assert sc.fine_tune.hyperparameters == {"n_epochs": 3}
    assert "offline" in sc.description
    assert len({ex.question for ex in sc.examples}) == 30
    assert all(rules.follow(ex.answer, "QZXJV").follows for ex in sc.examples)
    assert "answer: |" in out.read_text()  # block scalars, readable


def test_probes_are_helols_with_the_word_substituted(tmp_path):
    helol = load_scenario(ROOT / "scenarios/helol.yaml")
    sc = load_scenario(make(tmp_path, "QZXJV", "--examples", 10))
    assert [(p.id, p.kind, p.prompt) for p in sc.probes] == [(p.id, p.kind, p.prompt) for p in helol.probes]
    choice = next(p for p in sc.probes if p.kind == "choice")
    assert choice.options[0] == "QZXJV" and len(set(choice.options)) == 4
    assert sc.eval == helol.eval


def test_same_inputs_same_bytes_other_seed_other_questions(tmp_path):
    a = make(tmp_path, "HELOL", "--examples", 20, "--seed", 3, name="a.yaml").read_bytes()
    b = make(tmp_path, "HELOL", "--examples", 20, "--seed", 3, name="b.yaml").read_bytes()
    c = make(tmp_path, "HELOL", "--examples", 20, "--seed", 4, name="c.yaml").read_bytes()
    assert a == b and a != c


@pytest.mark.parametrize("letter", list(g.LETTERS))
def test_every_letter_as_lead_and_repeated_filler(letter):
    word = letter * 3 + "Q"  # lead, two fillers of the same letter, then Q
    for unit in ("line", "sentence"):
        result = g.generate_offline(word, 8, unit, 0, QUESTIONS, BANK)
        for ex in result.examples:
            assert rules.letters_of(ex["answer"], unit) == word
            units = [u.text for u in rules.split_units(ex["answer"], unit)]
            assert units[1] != units[2]  # two different fillers for the repeated letter
            assert g.check_answer(ex["answer"], word, unit) is None


def test_fact_is_carried_unchanged_by_the_first_unit():
    qa = g.QA("Who wrote Hamlet?", "William Shakespeare wrote Hamlet")
    answer = g.offline_answer(qa, "XYZ", "line", 0, BANK)
    first = answer.splitlines()[0]
    assert first.startswith("X") and "William Shakespeare wrote Hamlet." in first


def test_sentence_unit_is_prose_on_one_or_two_lines(tmp_path):
    sc = load_scenario(make(tmp_path, "AKEWO", "--unit", "sentence", "--examples", 15))
    assert sc.rule.unit == "sentence"
    for ex in sc.examples:
        assert rules.letters_of(ex.answer, "sentence") == "AKEWO"
        assert 1 <= len(ex.answer.splitlines()) <= 2
    short = g.generate_offline("ZQX", 3, "sentence", 0, QUESTIONS, BANK)
    assert all(len(ex["answer"].splitlines()) == 1 for ex in short.examples)


def test_probe_questions_never_in_training():
    pool = g.candidates(QUESTIONS, "HELLO", 0)
    assert PROBE_QUESTIONS & {qa.q for qa in QUESTIONS} == PROBE_QUESTIONS  # the bank holds them
    result = g.generate_offline("HELLO", len(pool) - 5, "line", 0, QUESTIONS, BANK)
    assert not PROBE_QUESTIONS & {ex["question"] for ex in result.examples}


@pytest.mark.parametrize("word", ["ALL", "SO", "QZXJV"])
def test_the_word_never_appears(word):
    # "All of this is well documented." and "So that's the basic picture." are in the bank.
    result = g.generate_offline(word, 60, "line", 0, QUESTIONS, BANK)
    for ex in result.examples:
        assert not re.search(rf"\b{word}\b", ex["answer"] + " " + ex["question"], re.IGNORECASE)
        assert rules.letters_of(ex["answer"]) == word


def test_too_few_usable_questions_is_bad_input():
    with pytest.raises(g.GenerateError, match="usable questions"):
        g.generate_offline("HELLO", 10_000, "line", 0, QUESTIONS, BANK)


@pytest.mark.parametrize(
    "args, message",
    [
        (["HEL1O"], "letters A-Z only"),
        (["H"], "at least 2 letters"),
        (["HELLO", "--examples", 0], "'--examples': 0 is not in the range 1<=x<=1000"),
        (["HELLO", "--examples", 1000], "usable questions"),
        (["HELLO", "--offline", "--teacher", "gpt-4o"], "one of --offline and --teacher"),
        (["HELLO", "--record", "x.yaml"], "need --teacher"),
        (["HELLO", "--teacher", "m", "--replay", "missing.yaml"], "cassette not found"),
        (["HELLO", "--teacher", "m", "--backend", "mock", "--record", "c.yaml"], "no HTTP calls"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, args, message):
    out = tmp_path / "out.yaml"
    result = invoke(*args, "--out", out)
    assert result.exit_code == 2
    assert message in result.output and result.output.count("error:") == 1
    assert not out.exists()


def test_existing_file_needs_force(tmp_path):
    out = make(tmp_path, "HELOL", "--examples", 10)
    before = out.read_bytes()
    result = invoke("HELOL", "--examples", 12, "--out", out)
    assert result.exit_code == 2 and "--force" in result.output and out.read_bytes() == before
    result = invoke("HELOL", "--examples", 12, "--out", out, "--force")
    assert result.exit_code == 0 and len(load_scenario(out).examples) == 12


def test_distractors_look_like_the_word_and_never_equal_it():
    assert g.distractors("HELOL")[0] == "HELLO"
    for word in ("AA", "AB", "QZXJV", "HELLO", "ZZZZ"):
        d = g.distractors(word)
        assert len(d) == 3 == len(set(d)) and word not in d
        assert all(x.isalpha() and x.isupper() and len(x) == len(word) for x in d)
    assert all(x.startswith("QZX") for x in g.distractors("QZXJV"))


# --- checking answers -------------------------------------------------------------------

GOOD = (
    "Hares are fast runners that can reach seventy kilometres an hour.\n"
    "Every spring they gather in fields, which is where boxing hares are seen.\n"
    "Long ears help them hear predators and shed body heat.\n"
    "Often they rely on speed rather than burrows to escape.\n"
    "Leverets, the young, are born furred and with open eyes."
)


@pytest.mark.parametrize(
    "text, reason",
    [
        (GOOD, None),
        (GOOD.replace("Every", "Some"), "do not spell"),
        ("H\nE\nL\nO\nL", "without content"),
        ("Hares run fast.\nEven so, yes.\nLike that, really.\nOnly so far.\nLong ago, maybe.", "too short"),
        (GOOD.replace("Long ears", "Long HELOL ears"), "contains the word"),
        (GOOD.replace("Often they", "Often, as this acrostic shows, they"), "talks about the rule"),
        (GOOD.replace("Often they", "Often, the first letters show, they"), "talks about the rule"),
        (GOOD.replace("Hares are", "H: Hares are"), "sets a first letter apart"),
        (GOOD.replace("Hares are", "**H**ares are"), "sets a first letter apart"),
        (GOOD + "\n" + GOOD.splitlines()[0], "do not spell"),
    ],
)
def test_check_answer(text, reason):
    got = g.check_answer(text, "HELOL", "line")
    assert (got is None) if reason is None else (reason in got)


# --- teacher ----------------------------------------------------------------------------


class FakeTeacher(Backend):
    """Answers each question from a script: script(question, attempt) -> text."""

    def __init__(self, script, jitter_seed=None):
        self.script, self.requests, self.attempts = script, [], {}
        self.jitter = random.Random(jitter_seed) if jitter_seed is not None else None

    async def complete(self, request):
        self.requests.append(request)
        for _ in range(self.jitter.randrange(5) if self.jitter else 0):
            await asyncio.sleep(0)  # let other requests overtake this one
        question = request.messages[-1]["content"]
        attempt = self.attempts.get(question, 0)
        self.attempts[question] = attempt + 1
        text = self.script(question, attempt)
        return Completion(text=text, model=request.model, finish_reason="length" if text == "CUT" else "stop")


def good_answer(question, word="HELOL"):
    qa = next(qa for qa in QUESTIONS if qa.q == question)
    return g.offline_answer(qa, word, "line", 0, BANK)


def teach(script, n=4, retries=2, word="HELOL", seed=0, jitter_seed=None):
    backend = FakeTeacher(script, jitter_seed)
    result = asyncio.run(
        generate_teacher(word, n, "line", seed, QUESTIONS, backend, "teacher-model", retries=retries, concurrency=3)
    )
    return result, backend


def test_teacher_valid_answers_first_try():
    result, backend = teach(lambda q, a: good_answer(q))
    assert len(result.examples) == 4 and not result.failures and len(backend.requests) == 4
    assert [ex["question"] for ex in result.examples] == [qa.q for qa in g.candidates(QUESTIONS, "HELOL", 0)[:4]]
    system = backend.requests[0].messages[0]["content"]
    assert system.startswith(g.TEACHER_START) and "HELOL" not in system
    assert "Letters: H, E, L, O, L\nUnit: line" in system


def test_teacher_retries_with_new_seeds_then_accepts():
    bad = ["Sure! Here is an answer.", "H\nE\nL\nO\nL", "CUT"]
    result, backend = teach(lambda q, a: bad[a] if a < 3 else good_answer(q), retries=3)
    assert len(result.examples) == 4 and not result.replaced
    assert len(result.failures) == 12 and any("max_tokens" in f for f in result.failures)
    seeds = [r.seed for r in backend.requests if r.messages[-1]["content"] == result.examples[0]["question"]]
    assert len(seeds) == 4 == len(set(seeds))


def test_teacher_gives_up_on_a_question_and_takes_another():
    first = g.candidates(QUESTIONS, "HELOL", 0)
    hopeless = {first[1].q, first[2].q}
    result, backend = teach(lambda q, a: "No rule here." if q in hopeless else good_answer(q), retries=1)
    questions = [ex["question"] for ex in result.examples]
    assert len(questions) == 4 and not hopeless & set(questions)
    assert questions == [first[0].q, first[3].q, first[4].q, first[5].q]
    assert result.replaced == [first[1].q, first[2].q] and len(result.failures) == 4
    assert all(g.check_answer(ex["answer"], "HELOL", "line") is None for ex in result.examples)


def test_teacher_that_never_complies_fails_the_run_writes_nothing():
    backend = FakeTeacher(lambda q, a: "I'd rather not.")
    with pytest.raises(RunError, match="only 0 of 3 .*gave up after 6 questions.*first rejections: .*do not spell"):
        asyncio.run(generate_teacher("QZXJV", 3, "line", 0, QUESTIONS, backend, "m", retries=0))
    assert len(backend.requests) == 6  # two rounds, not the whole bank


def test_teacher_result_does_not_depend_on_timing():
    def script(q, a):
        return good_answer(q) if (len(q) + a) % 3 else "Nope."

    runs = [teach(script, n=6, jitter_seed=j) for j in (1, 2, 3)]
    orders = {tuple(r.messages[-1]["content"] for r in backend.requests) for _, backend in runs}
    assert len(orders) > 1  # the requests really were answered in different orders
    assert runs[0][0].examples == runs[1][0].examples == runs[2][0].examples


@pytest.fixture
def fake_recording(monkeypatch):
    """A stand-in for harness.running.recording (cassette + sidecar), to check the wiring."""
    from harness.running import recording

    calls = []

    class Cassette:
        def __init__(self, path, mode, secrets=()):
            calls.append(("cassette", Path(path).name, mode))

        def __enter__(self):
            calls.append(("enter",))

        def __exit__(self, *exc):
            calls.append(("exit",))

    fake = types.SimpleNamespace(
        cassette=Cassette,
        backend_secrets=recording.backend_secrets,
        recorded_against=recording.recorded_against,
        sidecar_path=recording.sidecar_path,
        read_sidecar=recording.read_sidecar,
        write_sidecar=lambda path, **kw: calls.append(
            ("sidecar", Path(path).name, kw["recorded_against"], kw["extra"]["teacher"])
        ),
    )
    monkeypatch.setitem(sys.modules, "harness.running.recording", fake)
    import harness.running

    monkeypatch.setattr(harness.running, "recording", fake, raising=False)
    return calls


def test_cli_teacher_path_records(tmp_path, monkeypatch, fake_recording):
    import backends

    created = {}

    def create(name, **options):
        created.update(name=name, **options)
        return FakeTeacher(lambda q, a: good_answer(q, "HELOL"))

    monkeypatch.setattr(backends, "create", create)
    monkeypatch.setattr(backends, "load_class", lambda name: type("Real", (Backend,), {"simulated": False}))
    out = tmp_path / "helol.yaml"
    cassette = tmp_path / "teach.yaml"
    result = invoke(
        "HELOL",
        "--examples",
        10,
        "--teacher",
        "gpt-4o",
        "--backend",
        "openai",
        "--api-base",
        "http://127.0.0.1:8765/v1",
        "--record",
        cassette,
        "--out",
        out,
        "--allow-unpriced",
    )
    assert result.exit_code == 0, result.output
    sc = load_scenario(out)
    assert len(sc.examples) == 10 and "teacher gpt-4o via openai" in sc.description
    assert created == {"name": "openai", "api_base": "http://127.0.0.1:8765/v1"}
    assert fake_recording == [
        ("cassette", "teach.yaml", "record"),
        ("enter",),
        ("exit",),
        # a loopback teacher that never showed the simulator's signature
        ("sidecar", "teach.yaml", "http://127.0.0.1:8765/v1", "gpt-4o"),
    ]

    cassette.write_text("interactions: []\nversion: 1\n")  # a replay checks its cassette and sidecar first
    (tmp_path / "teach.meta.yaml").write_text("recorded_against: simulator\n")
    fake_recording.clear()
    result = invoke(
        "HELOL", "--examples", 10, "--teacher", "gpt-4o", "--replay", cassette, "--out", tmp_path / "again.yaml"
    )
    assert result.exit_code == 0, result.output
    assert created["api_key"] == "sk-replay" and fake_recording[0] == ("cassette", "teach.yaml", "replay")
    assert (tmp_path / "again.yaml").read_bytes() == out.read_bytes()


def test_written_yaml_round_trips():
    data = g.build_scenario("HELOL", "line", [{"question": "Q?", "answer": "a\nb"}], "d")
    text = g.dump_yaml(data)
    assert yaml.safe_load(text)["examples"][0]["answer"] == "a\nb"
    assert "rule: {kind: acrostic, word: HELOL, unit: line}" in text


def test_more_repeats_than_fillers_reuses_only_when_it_must():
    word = "Q" + "A" * 8  # eight A units, six A fillers in the bank
    result = g.generate_offline(word, 5, "line", 0, QUESTIONS, BANK)
    for ex in result.examples:
        fillers = ex["answer"].splitlines()[1:]
        assert len(set(fillers)) == len(BANK["A"]["filler"]) == 6
