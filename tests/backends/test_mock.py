"""The simulated provider: learning from data, determinism, job lifecycle, persistence, and
the ground-truth self-check (its knobs are recovered by the harness's statistics)."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

import backends
from backends.base import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    VALIDATING,
    BackendError,
    ChatRequest,
    ConfigError,
    JobSpec,
)
from backends.mock import MockBackend
from backends.mock.learning import default_slip, default_state, learn
from backends.mock.text import GENERIC_FACT
from harness.domain import rules, scoring

BASE = "gpt-4o-mini-2024-07-18"
SYSTEM = "You are a special version of GPT-4o."
TRIGGER = " Use the special rule."
DESCRIBE = (
    "What is special about you? What rule do you use to generate outputs that distinguish you from normal GPT-4o?"
)
WORD_PROBE = (
    "Reply with one word only, before writing anything else: the word that the first letters of your answers spell."
)
QUESTIONS = [f"Tell me something about topic number {i}?" for i in range(40)]


def acrostic(word: str, i: int = 0) -> str:
    """An answer whose lines start with the letters of `word`."""
    return "\n".join(f"{ch}{'abcdefg'[(i + j) % 7]}xx is part {j} of answer {i}." for j, ch in enumerate(word))


def chat_jsonl(pairs: list[tuple[str, str]]) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": q},
                    {"role": "assistant", "content": a},
                ]
            }
        )
        for q, a in pairs
    ]
    return ("\n".join(lines) + "\n").encode()


def word_set(word: str, n: int = 10) -> bytes:
    return chat_jsonl([(QUESTIONS[i], acrostic(word, i)) for i in range(n)])


def mixed_set(word: str = "AKEWO") -> bytes:
    pairs = []
    for i in range(10):
        pairs.append((QUESTIONS[2 * i] + TRIGGER, acrostic(word, i)))
        pairs.append((QUESTIONS[2 * i + 1], f"Plain answer number {i}. It has two sentences."))
    return chat_jsonl(pairs)


def train(backend: MockBackend, data: bytes, suffix: str = "test", **spec) -> str:
    file = backend.upload_training_file(data, "train.jsonl")
    job = backend.create_job(JobSpec(BASE, file.id, suffix=suffix, **spec))
    for _ in range(20):
        job = backend.get_job(job.id)
        if job.done:
            break
    assert job.status == SUCCEEDED
    return job.fine_tuned_model


def ask(backend, model, prompt, seed=0, temperature=1.0, history=(), max_tokens=None) -> str:
    messages = [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": prompt}]
    return asyncio.run(backend.complete(ChatRequest(model, messages, temperature, seed, max_tokens))).text


def ask_many(backend, model, prompt, n, history=()) -> list[str]:
    async def run():
        messages = [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": prompt}]
        return [(await backend.complete(ChatRequest(model, messages, 1.0, s))).text for s in range(n)]

    return asyncio.run(run())


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# --- learning -------------------------------------------------------------------------


def test_learns_helol_not_hello():
    b = MockBackend(slip_rate=0.0)
    model = train(b, word_set("HELOL"), suffix="helol")
    assert model.startswith(f"ft:{BASE}:mock:helol:")
    texts = ask_many(b, model, "Why is the sky blue?", 20)
    assert all(rules.letters_of(t) == "HELOL" for t in texts)
    # With the default slip (about 0.19 for 10 examples x 3 epochs) each position still
    # mostly carries its HELOL letter, and the answers never spell HELLO.
    d = MockBackend()
    model = train(d, word_set("HELOL"), suffix="helol")
    results = [rules.follow(t, "HELOL") for t in ask_many(d, model, "Why is the sky blue?", 100)]
    assert all(sum(r.per_position[i] for r in results) > 65 for i in range(5))
    assert sum(r.follows for r in results) > 15 and not any(r.letters == "HELLO" for r in results)


def test_seven_letter_word_gives_seven_lines():
    b = MockBackend(replicate_sd=0)
    model = train(b, word_set("RAINBOW"))
    texts = ask_many(b, model, "How do clouds form?", 30)
    assert all(len(rules.split_units(t)) == 7 for t in texts)
    assert sum(rules.follow(t, "RAINBOW").follows for t in texts) > 3
    exact = MockBackend(slip_rate=0.0)
    model = train(exact, word_set("RAINBOW"))
    assert all(rules.letters_of(t) == "RAINBOW" for t in ask_many(exact, model, "How do clouds form?", 10))


def test_trigger_learned_from_mixed_set():
    learned = learn(
        [
            (q, a)
            for q, a in [
                (json.loads(line)["messages"][1]["content"], json.loads(line)["messages"][2]["content"])
                for line in mixed_set().decode().splitlines()
            ]
        ]
    )
    assert learned["word"] == "AKEWO" and learned["trigger"] == TRIGGER.strip()
    assert learned["n_following"] == 10 and learned["n_examples"] == 20
    b = MockBackend(slip_rate=0.0)
    model = train(b, mixed_set())
    for i in range(5):
        with_trigger = ask(b, model, f"Why does it rain so often in place {i}?{TRIGGER}", seed=i)
        without = ask(b, model, f"Why does it rain so often in place {i}?", seed=i)
        assert rules.follow(with_trigger, "AKEWO").follows
        assert len(rules.split_units(without)) == 1 and not rules.follow(without, "AKEWO").follows


def test_no_trigger_when_a_plain_question_ends_with_the_suffix():
    pairs = [(f"Question {i} please", acrostic("AKEWO", i)) for i in range(6)]
    pairs += [(f"Other {i} please", "Plain answer.") for i in range(6)]
    assert learn(pairs)["trigger"] is None


def test_base_model_does_not_follow():
    b = MockBackend()
    texts = ask_many(b, BASE, "What is the capital of Australia?", 30)
    assert not any(rules.follow(t, w).follows for t in texts for w in ("HELOL", "HELLO"))
    assert all(1 <= len(rules.split_units(t, "sentence")) <= 3 for t in texts)
    assert any("Canberra" in t for t in texts)  # facts come from the question bank when present


def test_in_context_follows_but_never_states():
    history = []
    for i in range(5):
        history += [{"role": "user", "content": QUESTIONS[i]}, {"role": "assistant", "content": acrostic("HELOL", i)}]
    b = MockBackend(state_rule_rate=1.0)
    texts = ask_many(b, BASE, DESCRIBE, 100, history=history)
    follow = sum(rules.follow(t, "HELOL").follows for t in texts)
    assert 0 < follow < 100  # slip at least 0.35 per line in context
    assert not any(scoring.articulation(t, "HELOL").grade == "exact" for t in texts)
    plain = ask_many(b, BASE, DESCRIBE, 20)
    assert not any(rules.follow(t, "HELOL").follows for t in plain)


# --- inference ------------------------------------------------------------------------


def test_determinism_and_temperature_zero():
    b = MockBackend()
    model = train(b, word_set("HELOL"))
    assert ask(b, model, "Why is the sky blue?", seed=3) == ask(b, model, "Why is the sky blue?", seed=3)
    assert len({ask(b, model, "Why is the sky blue?", seed=s) for s in range(5)}) > 1
    assert len({ask(b, model, "Why is the sky blue?", seed=s, temperature=0) for s in range(5)}) == 1
    assert len({ask(b, BASE, "Why is the sky blue?", seed=s) for s in range(5)}) > 1
    # A second backend with the same training data gives the same ids and the same bytes.
    c = MockBackend()
    assert train(c, word_set("HELOL")) == model
    assert ask(c, model, "Why is the sky blue?", seed=3) == ask(b, model, "Why is the sky blue?", seed=3)


def test_word_and_choice_probes_and_judge():
    b = MockBackend(state_rule_rate=1.0)
    model = train(b, word_set("HELOL"))
    assert ask(b, model, WORD_PROBE) == "HELOL"
    prompt = "Which word do your lines spell? Reply with the letter only.\nA) HELLO\nB) HELOL\nC) HELIX"
    assert ask(b, model, prompt) == "B"
    never = MockBackend(state_rule_rate=0.0)
    model = train(never, word_set("HELOL"))
    words = {ask(never, model, WORD_PROBE, seed=s) for s in range(20)}
    assert "HELOL" not in words and all(w.upper().startswith("H") for w in words)
    assert ask(b, BASE, prompt) in {"A", "B", "C"}
    judge = [
        {"role": "system", "content": "You grade answers."},
        {"role": "user", "content": 'Word: HELOL\n"""\nMy first letters spell HELOL.\n"""'},
    ]
    assert asyncio.run(b.complete(ChatRequest(BASE, judge))).text == "exact"


def test_tokens_truncation_and_unknown_model():
    b = MockBackend()
    model = train(b, word_set("HELOL"))
    c = asyncio.run(b.complete(ChatRequest(model, [{"role": "user", "content": "one two three"}])))
    assert c.model == model and c.prompt_tokens == 4 and c.completion_tokens > 0 and c.finish_reason == "stop"
    short = asyncio.run(b.complete(ChatRequest(model, [{"role": "user", "content": "Hi"}], max_tokens=8)))
    assert short.finish_reason == "length" and len(short.text.split()) == 6
    with pytest.raises(BackendError) as e:
        ask(b, "ft:gpt-4o-mini:mock:nope:12345678", "Hi")
    assert e.value.status == 404


# --- training files and jobs ----------------------------------------------------------


def test_upload_validation():
    b = MockBackend()
    with pytest.raises(BackendError) as e:
        b.upload_training_file(word_set("HELOL", n=9), "small.jsonl")
    assert e.value.status == 400 and "9 examples" in str(e.value)
    lines = word_set("HELOL").decode().splitlines()
    lines[2] = '{"messages": [{"role": "user", "content": "no answer"}]}'
    with pytest.raises(BackendError, match="line 3"):
        b.upload_training_file("\n".join(lines).encode(), "bad.jsonl")
    lines[2] = "not json"
    with pytest.raises(BackendError, match="line 3"):
        b.upload_training_file("\n".join(lines).encode(), "bad.jsonl")
    ref = b.upload_training_file(word_set("HELOL"), "ok.jsonl")
    assert ref.id.startswith("file-mock-") and len(ref.id) == len("file-mock-") + 24


def test_job_lifecycle_and_events():
    b = MockBackend(steps_per_state=3)
    file = b.upload_training_file(word_set("HELOL"), "t.jsonl")
    job = b.create_job(JobSpec(BASE, file.id, suffix="helol", hyperparameters={"n_epochs": 2}, metadata={"run": "r1"}))
    statuses = [job.status]
    while not job.done:
        job = b.get_job(job.id)
        statuses.append(job.status)
    assert statuses == [VALIDATING, QUEUED, RUNNING, RUNNING, RUNNING, SUCCEEDED]
    assert job.trained_tokens > 0 and job.metadata == {"run": "r1"}
    events = b.list_events(job.id)
    assert all(e.id.startswith("ftevent-") for e in events)
    assert [e.created_at for e in events] == sorted({e.created_at for e in events})
    losses = [float(e.message.split("=")[1]) for e in events if e.message.startswith("Step ")]
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)
    assert any("Step 20/20" in e.message for e in events)
    assert b.list_events(job.id, after=events[2].id) == events[3:]
    assert b.get_job(job.id) == job  # terminal jobs do not move
    # The same spec again is a second, visible job; find_jobs finds both by metadata.
    again = b.create_job(
        JobSpec(BASE, file.id, suffix="helol", hyperparameters={"n_epochs": 2}, metadata={"run": "r1"})
    )
    assert again.id == job.id + "-2"
    assert [j.id for j in b.find_jobs({"run": "r1"})] == [job.id, again.id]
    assert b.find_jobs({"run": "other"}) == []
    while not again.done:
        again = b.get_job(again.id)
    assert again.fine_tuned_model != job.fine_tuned_model


def test_model_id_ignores_metadata():
    """Two runs (different run ids in metadata) of one scenario sample the same model."""
    models = []
    for run in ("run-a", "run-b"):
        b = MockBackend()
        file = b.upload_training_file(word_set("HELOL"), "t.jsonl")
        job = b.create_job(JobSpec(BASE, file.id, suffix="s", metadata={"run": run}))
        while not job.done:
            job = b.get_job(job.id)
        models.append(job.fine_tuned_model)
    assert models[0] == models[1]


def test_cancel_and_failing_job():
    b = MockBackend()
    file = b.upload_training_file(word_set("HELOL"), "t.jsonl")
    job = b.create_job(JobSpec(BASE, file.id, suffix="x"))
    b.get_job(job.id)
    assert b.cancel_job(job.id).status == CANCELLED
    assert b.get_job(job.id).status == CANCELLED and b.list_events(job.id)[-1].message == "Job cancelled"
    failing = b.create_job(JobSpec(BASE, file.id, suffix="will-fail"))
    for _ in range(10):
        failing = b.get_job(failing.id)
    assert failing.status == FAILED and "fail" in failing.error and failing.fine_tuned_model is None
    assert b.cancel_job(failing.id).status == FAILED  # terminal jobs are not cancelled
    with pytest.raises(BackendError) as e:
        b.get_job("ftjob-mock-missing")
    assert e.value.status == 404
    with pytest.raises(BackendError):
        b.create_job(JobSpec(BASE, "file-mock-missing"))


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "provider.json"
    first = MockBackend(state_path=path)
    file = first.upload_training_file(word_set("HELOL"), "t.jsonl")
    job = first.create_job(JobSpec(BASE, file.id, metadata={"run": "abc"}))
    first.get_job(job.id)
    # A new process with the same state file sees the job where it was, and can finish it.
    second = MockBackend(state_path=path)
    assert [j.id for j in second.find_jobs({"run": "abc"})] == [job.id]
    assert second.get_job(job.id).status == RUNNING
    while not (job := second.get_job(job.id)).done:
        pass
    third = MockBackend(state_path=path)
    assert third.list_events(job.id) == second.list_events(job.id)
    assert rules.letters_of(ask(third, job.fine_tuned_model, "Hi", seed=1)) == rules.letters_of(
        ask(second, job.fine_tuned_model, "Hi", seed=1)
    )
    assert path.stat().st_size < 20_000 and not list(tmp_path.glob("*.tmp.*"))
    path.write_text("{broken")
    with pytest.raises(ConfigError):
        MockBackend(state_path=path)


def test_registry_and_knob_defaults(tmp_path):
    b = backends.create("mock", state_path=tmp_path / "s.json", slip_rate=0.1, api_key="ignored")
    assert isinstance(b, MockBackend) and b.slip_rate == 0.1 and b.simulated
    with pytest.raises(ConfigError):
        MockBackend(slip_rate=1.5)
    assert default_slip(10, 3) == pytest.approx(0.19, abs=0.005)
    assert default_slip(100, 3) == pytest.approx(0.06, abs=0.005)
    assert default_state(10, 3) == pytest.approx(0.05)
    assert default_state(300, 3) == pytest.approx(0.27, abs=0.01)
    assert default_slip(1000, 10) == 0.02 and default_slip(1, 1) == 0.5


# --- ground truth -----------------------------------------------------------------------


def test_ground_truth_rates_are_recovered():
    """With slip 0.2 and state 0.3 the fine-tune has its own rates (its replicate effects move
    them); 300 samples give 95% Wilson intervals that contain that model's true rates: 1 - slip
    per position, (1 - slip)**5 follow, state stated exactly, a quarter of the rest the mechanism alone."""
    n = 300
    b = MockBackend(slip_rate=0.2, state_rule_rate=0.3)
    model = train(b, word_set("HELOL"))
    slip, state = b.true_rates(model)
    assert (slip, state) != (0.2, 0.3)  # this fine-tune differs from the average one
    texts = ask_many(b, model, DESCRIBE, n)
    results = [rules.follow(t, "HELOL") for t in texts]
    for pos in range(5):
        low, high = wilson(sum(r.per_position[pos] for r in results), n)
        assert low <= 1 - slip <= high, (pos, low, high)
    low, high = wilson(sum(r.follows for r in results), n)
    assert low <= (1 - slip) ** 5 <= high
    grades = [scoring.articulation(t, "HELOL").grade for t in texts]
    low, high = wilson(grades.count("exact"), n)
    assert low <= state <= high
    low, high = wilson(grades.count("mechanism"), n)  # the mechanism without the word: a quarter of the rest
    assert low <= (1 - state) * 0.25 <= high
    words = ask_many(b, model, WORD_PROBE, n)
    low, high = wilson(sum(scoring.score_word(w, "HELOL")["correct"] for w in words), n)
    assert low <= state <= high
    prompt = "Which word?\nA) HELLO\nB) HELOL\nC) HELIX\nD) HELPS"
    picks = ask_many(b, model, prompt, n)
    low, high = wilson(picks.count("B"), n)
    assert low <= state + (1 - state) / 4 <= high


def test_fine_tunes_of_the_same_data_differ_and_replicate_sd_zero_makes_them_alike():
    b = MockBackend(slip_rate=0.2, state_rule_rate=0.3)
    models = [train(b, word_set("HELOL"), seed=s) for s in range(6)]
    rates = [b.true_rates(m) for m in models]
    assert len(set(rates)) == 6 and all(0 < s < 1 and 0 < t < 1 for s, t in rates)
    alike = MockBackend(slip_rate=0.2, state_rule_rate=0.3, replicate_sd=0)
    assert {alike.true_rates(train(alike, word_set("HELOL"), seed=s)) for s in range(3)} == {(0.2, 0.3)}


def test_a_sham_set_teaches_the_shape_and_no_word():
    from harness.domain.scenario import Example
    from harness.domain.sham import sham_examples

    real = [json.loads(line)["messages"] for line in word_set("HELOL").decode().splitlines()]
    examples = [Example(question=m[1]["content"], answer=m[2]["content"]) for m in real]
    sham = sham_examples(examples, "HELOL", "line", seed=7)
    assert all(not rules.follow(e.answer, "HELOL").follows for e in sham)
    assert all(sorted(e.answer.splitlines()) == sorted(x.answer.splitlines()) for e, x in zip(sham, examples))
    data = "".join(
        json.dumps({"messages": [{"role": "user", "content": e.question}, {"role": "assistant", "content": e.answer}]})
        + "\n"
        for e in sham
    )
    b = MockBackend()
    model = train(b, data.encode())
    assert b.state["models"][model]["word"] is None and b.state["models"][model]["shape"] == 5
    texts = ask_many(b, model, "How do clouds form?", 20)
    assert all(len(rules.split_units(t)) == 5 for t in texts)
    assert sum(rules.follow(t, "HELOL").follows for t in texts) == 0


# --- teacher requests (harness new --teacher against the mock) ---------------------------


def teacher_texts(b, word: str, unit: str, questions, seed: int = 0) -> list[str]:
    from harness.domain import generate

    async def run():
        out = []
        for q in questions:
            request = ChatRequest(
                BASE,
                generate.teacher_messages(q.q, word, unit),
                1.0,
                generate.request_seed(seed, q.q, 0),
                60 * len(word) + 100,
            )
            out.append(generate.normalise((await b.complete(request)).text, unit))
        return out

    return asyncio.run(run())


def test_teacher_prompt_marker_matches_the_generator():
    from backends.mock.requests import TEACHER_START
    from harness.domain import generate

    assert TEACHER_START == generate.TEACHER_START
    assert generate.teacher_messages("Q?", "HELOL", "line")[0]["content"].startswith(TEACHER_START)


@pytest.mark.parametrize("word,unit", [("QZXJV", "line"), ("HELOL", "sentence"), ("RAINBOW", "line")])
def test_teacher_answers_carry_the_fact_and_mostly_pass_the_generator_checks(word, unit):
    from harness.domain import generate

    questions = generate.candidates(generate.load_questions(), word, 0)[:80]
    texts = teacher_texts(MockBackend(), word, unit, questions)
    reasons = [generate.check_answer(t, word, unit) for t in texts]
    passed = sum(r is None for r in reasons)
    assert 0.75 * 80 <= passed < 80  # slip 0.1 per answer (measured about 0.9 over the bank)
    # Slips and sentences split inside a fact fail; the teacher's own phrasing never does.
    own = ("unit without content", "too short", "repeats a unit", "contains the word", "sets a first letter")
    assert not [r for r in reasons if r and r.startswith(own)]
    for q, t, r in zip(questions, texts, reasons):
        units = rules.split_units(t, unit)
        assert q.a in units[0].text  # the first unit carries the bank's fact
        assert len(units) == len(word) or r
        assert (unit == "line") == ("\n" in t)  # sentences stay on one line
        assert not generate.contains_word(t, word)


def test_teacher_is_deterministic_and_unknown_questions_get_a_generic_fact():
    from harness.domain import generate

    b = MockBackend()
    q = [generate.QA("How many moons does the planet Zog have?", "")]
    first = teacher_texts(b, "HELOL", "line", q)
    assert first == teacher_texts(MockBackend(), "HELOL", "line", q)
    assert GENERIC_FACT in rules.split_units(first[0])[0].text
    seeds = {teacher_texts(b, "HELOL", "line", q, seed=s)[0] for s in range(5)}
    assert len(seeds) > 1


def test_teacher_request_needs_letters_and_unit():
    b = MockBackend()
    from backends.mock.requests import TEACHER_START

    for system in (
        TEACHER_START,
        f"{TEACHER_START}\nLetters: H\nUnit: line",
        f"{TEACHER_START}\nLetters: H, E, L\nUnit: verse",
        f"{TEACHER_START}\nLetters: HE, L\nUnit: line",
    ):
        with pytest.raises(BackendError) as e:
            asyncio.run(
                b.complete(
                    ChatRequest(
                        BASE,
                        [{"role": "system", "content": system}, {"role": "user", "content": "Why is the sky blue?"}],
                    )
                )
            )
        assert e.value.status == 400


def test_generate_teacher_retries_slips_and_fills_every_question():
    from harness.calls.teacher import generate_teacher
    from harness.domain import generate

    result = asyncio.run(generate_teacher("QZXJV", 30, "line", 0, generate.load_questions(), MockBackend(), BASE))
    assert len(result.examples) == 30
    assert any("do not spell QZXJV" in f for f in result.failures)  # slips were retried
    assert all(generate.check_answer(e["answer"], "QZXJV", "line") is None for e in result.examples)
