"""Property-based fuzzing (hypothesis) of everything that reads input: the scenario loader,
the run-file readers (a run directory damaged in any way), `score` and the options of `run`
and `new`. Any input ends in exit 0, or exit 2 with one `error:` line, never a traceback or
another exit code, within the deadline. Deterministic by default (derandomized, no example
database), so CI sees the same examples every time; `HYPOTHESIS_PROFILE=explore pytest
tests/test_fuzz.py` draws ten times as many, randomly, to look for new failures."""

import json
import os
import shutil
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.helpers import ROOT, invoke

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=5000,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    database=None,
    deadline=5000,
    max_examples=1500,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HELOL = (ROOT / "scenarios/helol.yaml").read_text()
HELOL_DATA = yaml.safe_load(HELOL)


def assert_clean(result, *, report_lines: bool = False) -> None:
    """Exit 0, or exit 2 with one `error:` line; never a traceback, never exit 1 or a crash."""
    output = result.output.strip()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception!r}\n{output[-2000:]}")
    assert result.exit_code in (0, 2), (result.exit_code, output[-2000:])
    assert "Traceback" not in output, output[-2000:]
    if result.exit_code == 2 and not report_lines:
        lines = output.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), output[-2000:]


# --- values ---------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
NASTY_TEXT = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "&a [*a]",
            "*x",
            "!!python/object:os.system ls",
            "[/x]",
            ":zebra:",
            "\0",
            "{{",
            "- - - -",
            "a: b: c",
            "\t\tkey: v",
            "'''",
            "%YAML 9.9",
            "[" * 200,
            "A" * 5000,
            "..",
            "!!binary AAAA",
        ]
    ),
)


def paths_of(node, prefix=()):
    """Every (path) into a parsed YAML document, so a mutation can land anywhere."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths_of(v, prefix + (i,))


SCENARIO_PATHS = [p for p in paths_of(HELOL_DATA) if p]
PATH_TEXT = st.one_of(
    st.sampled_from(
        [
            "a\0b",
            "/dev/zero",
            "/dev/null",
            "/",
            ".",
            "..",
            "~",
            "-",
            "x" * 5000,
            "/proc/self/mem",
            "nope/../../x",
            " ",
            "[/x]",
            "data/helol.jsonl",
        ]
    ),
    st.text(max_size=40),
)


def replaced(doc, path, value):
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@st.composite
def scenario_texts(draw) -> str:
    kind = draw(st.sampled_from(["value", "line", "text", "file"]))
    if kind == "file":  # the examples in a file named by anything
        doc = {k: v for k, v in HELOL_DATA.items() if k != "examples"}
        doc["examples_file"] = draw(PATH_TEXT)
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    if kind == "value":  # a well-formed file with one field's value replaced by anything
        doc = replaced(HELOL_DATA, draw(st.sampled_from(SCENARIO_PATHS)), draw(JSONISH))
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    if kind == "line":  # one line of the real file replaced by nasty text
        lines = HELOL.splitlines()
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(NASTY_TEXT)
        return "\n".join(lines)
    return draw(NASTY_TEXT)


# --- the scenario loader --------------------------------------------------------------


@given(text=scenario_texts())
def test_fuzz_scenario_loader(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    assert_clean(invoke("validate", path))


@given(
    command=st.sampled_from(
        [
            ["validate"],
            ["status"],
            ["report"],
            ["resume"],
            ["score", "--word", "HI"],
            ["validate-data", "--word", "HI"],
            ["compare", ROOT],
        ]
    ),
    path=PATH_TEXT,
)
def test_fuzz_path_arguments(command, path):
    assert_clean(invoke(*command, path), report_lines=command[0] == "validate-data")


# --- the run-file readers -------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    result = invoke(
        "run", ROOT / "scenarios/helol.yaml", "--samples", "1", "--judge", "gpt-4o-mini-2024-07-18", "--out", out
    )
    assert result.exit_code == 0, result.output
    return out


RUN_FILES = ["manifest.json", "state.json", "responses.jsonl", "judge.jsonl", "events.jsonl", "summary.json"]


@st.composite
def damage(draw, run: Path) -> tuple[str, bytes]:
    name = draw(st.sampled_from(RUN_FILES))
    original = (run / name).read_bytes()
    how = draw(st.sampled_from(["bytes", "json", "field", "truncate", "line", "number"]))
    if how == "bytes":
        return name, draw(st.binary(max_size=300))
    if how == "json":
        return name, json.dumps(draw(JSONISH)).encode()
    if how == "truncate":
        return name, original[: draw(st.integers(0, len(original)))]
    if name.endswith(".jsonl"):  # one record (or a new line) replaced
        lines = original.splitlines() or [b"{}"]
        i = draw(st.integers(0, len(lines) - 1))
        record = json.loads(lines[i])
        if how == "field" and record:
            record[draw(st.sampled_from(sorted(record)))] = draw(JSONISH)
            lines[i] = json.dumps(record).encode()
        else:
            lines[i] = draw(NASTY_TEXT).encode("utf-8", "surrogatepass")
        return name, b"\n".join(lines) + b"\n"
    doc = json.loads(original)
    paths = [p for p in paths_of(doc) if p]
    if how == "number":  # a number of the run's own made huge, negative or fractional
        numbers = [
            p for p in paths if isinstance(value_at(doc, p), (int, float)) and not isinstance(value_at(doc, p), bool)
        ] or paths
        value = draw(st.sampled_from([10**9, 10**18, -1, 0, 0.5, 1e300, 2**63]))
        return name, json.dumps(replaced(doc, draw(st.sampled_from(numbers)), value)).encode()
    return name, json.dumps(replaced(doc, draw(st.sampled_from(paths)), draw(JSONISH))).encode()


def value_at(doc, path):
    for key in path:
        doc = doc[key]
    return doc


@given(data=st.data())
def test_fuzz_run_file_readers(finished, tmp_path_factory, data):
    run = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(finished, run)
    name, content = data.draw(damage(finished))
    (run / name).write_bytes(content)
    command = data.draw(st.sampled_from(["status", "report", "resume"]))
    assert_clean(invoke(command, run))


# --- score ----------------------------------------------------------------------------


@given(
    text=NASTY_TEXT,
    jsonl=st.booleans(),
    word=st.sampled_from(["HELLO", "HELOL", "hi", "H3", "A" * 70]),
    kind=st.sampled_from(["describe", "word", "choice", "follow"]),
    options=st.one_of(st.none(), st.text(alphabet=string.ascii_letters + ", ", max_size=30)),
)
def test_fuzz_score(tmp_path_factory, text, jsonl, word, kind, options):
    path = tmp_path_factory.mktemp("score") / "in.txt"
    if jsonl:
        text = "\n".join(json.dumps({"text": line}) if i % 2 else line for i, line in enumerate(text.split("\n")))
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    args = ["score", "--word", word, "--kind", kind] + (["--options", options] if options is not None else [])
    assert_clean(invoke(*args, *(["--jsonl"] if jsonl else []), path))


# --- options --------------------------------------------------------------------------

OPTION_VALUES = st.one_of(
    st.sampled_from(
        [
            "nan",
            "inf",
            "-1",
            "0",
            "1e400",
            "",
            " ",
            "1000000000",
            "2.5",
            "-0",
            "0x10",
            "1_000",
            "[/x]",
            "fine_tuned,,base",
            "http://127.0.0.1:1",
            "ft:gpt-4o-mini-2024-07-18:x:y:z",
            "ft:",
            "openai/gpt-4o",
        ]
    ),
    st.text(max_size=30),
    st.integers(-(10**20), 10**20).map(str),
    st.floats().map(str),
)
RUN_OPTIONS = [
    "--samples",
    "--temperature",
    "--seed",
    "--conditions",
    "--model",
    "--max-cost",
    "--concurrency",
    "--rpm",
    "--tpm",
    "--poll-interval",
    "--judge",
    "--backend",
]


@given(chosen=st.lists(st.tuples(st.sampled_from(RUN_OPTIONS), OPTION_VALUES), min_size=1, max_size=4))
def test_fuzz_run_options(chosen):
    args = [x for pair in chosen for x in pair]
    assert_clean(invoke("run", ROOT / "scenarios/helol.yaml", *args, "--dry-run"))


@given(
    word=st.one_of(st.text(max_size=20), st.sampled_from(["HELLO", "QZXJV", "..", "[/x]", "A" * 100])),
    examples=OPTION_VALUES,
    seed=OPTION_VALUES,
    unit=st.sampled_from(["line", "sentence", "para"]),
)
def test_fuzz_new_options(tmp_path_factory, word, examples, seed, unit):
    out = tmp_path_factory.mktemp("new") / "s.yaml"
    assert_clean(invoke("new", word, "--examples", examples, "--seed", seed, "--unit", unit, "--out", out, "--dry-run"))


# --- what the fuzzer found, kept as plain cases -----------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "a\0b"],
        ["status", "a\0b"],
        ["run", "a\0b"],
        ["new", "ABC", "--out", "a\0b"],
        ["score", "--word", "HI", "/proc/self/mem"],
    ],
)
def test_found_paths(args):
    result = invoke(*args)
    assert_clean(result)
    assert result.exit_code == 2


def test_found_examples_file_with_a_nul_byte(tmp_path):
    doc = {k: v for k, v in HELOL_DATA.items() if k != "examples"}
    doc["examples_file"] = "a\0b"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = invoke("validate", path)
    assert result.exit_code == 2 and "a path cannot contain a NUL byte" in result.output


@pytest.mark.parametrize(
    "name,change,expected",
    [
        ("manifest.json", lambda d: d["settings"].update(samples=10**9), "settings.samples"),  # hung building tasks
        ("manifest.json", lambda d: d["options"].update(rpm=1e-300), "options.rpm"),  # slept 1e301 s
        ("state.json", lambda d: d.update(file_id=None), None),  # trained, no file: nothing to upload
    ],
)
def test_found_run_files(finished, tmp_path, name, change, expected):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    doc = json.loads((run / name).read_text())
    change(doc)
    (run / name).write_text(json.dumps(doc))
    result = invoke("resume", run)
    assert_clean(result)
    assert (result.exit_code == 2 and expected in result.output) if expected else result.exit_code == 0


# --- a fuzzed provider ------------------------------------------------------------------
# A loopback proxy in front of the simulator rewrites fields of every kind of response
# (chat, file, job, events) and turns responses into errors, with values hypothesis draws.
# Each rewrite hits one occurrence of its kind, so honest answers resume and every run ends.
# Properties: no traceback; the spend never below the honest count (our own count of what
# was sent and got, and of the training file) and never negative; the cap held; no answer
# lost (every chat answer the proxy sent has its record); the key nowhere on disk.

FUZZ_KEY = "sk-fuzz-Zq81vX3kLm90Tt"
ESCAPES = "\x1b]0;owned\x07\x1b[31mred\x1b[0m\r\nforged: line\x9b2J\u202e"
CAP = 0.05
KINDS = {
    "chat": lambda method, path: method == "POST" and path.endswith("/chat/completions"),
    "file": lambda method, path: "/files" in path,
    "job": lambda method, path: "/fine_tuning/jobs" in path and not path.endswith("/events"),
    "events": lambda method, path: path.endswith("/events"),
}
PROVIDER_VALUES = st.one_of(
    JSONISH,
    st.sampled_from(
        [
            float("nan"),
            float("inf"),
            -1,
            -(10**12),
            10**30,
            1e300,
            0.5,
            "",
            ESCAPES,
            FUZZ_KEY,
            f"the key is {FUZZ_KEY}.",
            [],
            {},
            "succeeded",
            "failed",
            "running",
        ]
    ),
)
FOUND = {"how": "field", "status": 400, "code": None, "escape_key": False}
ERROR_CODES = [None, "invalid_api_key", "insufficient_quota", "rate_limit_exceeded", "model_not_found", "server_error"]


@st.composite
def provider_rewrites(draw) -> list[dict]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["field", "field", "field", "body", "error", "truncate"]))
        out.append(
            {
                "kind": draw(st.sampled_from(sorted(KINDS))),
                "at": draw(st.integers(0, 4)),
                "how": how,
                "pick": draw(st.integers(0, 10**6)),
                "value": draw(PROVIDER_VALUES),
                "status": draw(st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 502, 503])),
                "code": draw(st.sampled_from(ERROR_CODES)),
                "escape_key": draw(st.booleans()),
            }
        )
    return out


class FuzzedProvider:
    """The proxy's rewrite: applies one example's rewrites, counting responses per kind."""

    def __init__(self):
        self.plan: list[dict] = []
        self.counts: dict[str, int] = {}

    def reset(self, plan: list[dict]) -> None:
        self.plan, self.counts = plan, {}

    def __call__(self, method, path, status, body):
        kind = next((k for k, match in KINDS.items() if match(method, path)), None)
        if kind is None:
            return None
        n = self.counts[kind] = self.counts.get(kind, -1) + 1
        if isinstance(body, dict):  # without the simulator's signature the run is priced and capped
            body.update(
                {k: v for k, v in {"organization_id": "org-fuzz", "system_fingerprint": "fp_fuzz"}.items() if k in body}
            )
        escape = False
        for r in self.plan:
            if r["kind"] != kind or r["at"] != n:
                continue
            escape |= r["escape_key"]
            if r["how"] == "error":
                status = r["status"]
                body = {"error": {"message": r["value"], "type": "invalid_request_error", "code": r["code"]}}
            elif r["how"] == "body":
                body = r["value"]
            elif r["how"] == "truncate":
                text = json.dumps(body)
                body = text[: r["pick"] % max(1, len(text))]
            else:
                paths = [p for p in paths_of(body) if p]
                if paths:
                    body = replaced(body, paths[r["pick"] % len(paths)], r["value"])
        text = body if isinstance(body, str) else json.dumps(body, allow_nan=True)
        if escape:  # the key as a JSON \u escape: it decodes to the key itself
            text = text.replace(FUZZ_KEY, "".join(f"\\u{ord(c):04x}" for c in FUZZ_KEY))
        return status, text


@pytest.fixture(scope="module")
def fuzzed_provider(tmp_path_factory):
    from backends.simulator.faults import Faults
    from backends.simulator.server import Simulator
    from tests.proxy import RewritingProxy

    doc = json.loads(json.dumps(HELOL_DATA))
    doc["probes"] = [p for p in doc["probes"] if p["id"] in ("word", "capital")]  # no cross-check calls
    scenario = tmp_path_factory.mktemp("provider") / "tiny.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    rewrite = FuzzedProvider()
    with Simulator(faults=Faults(max_active_jobs=0)) as sim, RewritingProxy(sim.url, rewrite) as proxy:
        yield scenario, rewrite, proxy


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def honest_spend(run: Path, scenario_path: Path) -> float:
    """Our own count of what the run sent and got (answers) and trained on (jobs that
    produced a model), at the backend's prices."""
    from backends.openai import OpenAIBackend
    from harness.calls.budget import Pricer
    from harness.calls.probing import messages_for
    from harness.domain import tokens
    from harness.domain.scenario import load_scenario
    from harness.running.plan import training_tokens

    scenario, pricer = load_scenario(scenario_path), Pricer.of(OpenAIBackend)
    examples = list(scenario.examples or [])
    total = 0.0
    for r in lines_of(run / "responses.jsonl"):
        if r["status"] == "ok":
            prompt = tokens.count_tokens(
                [{"messages": messages_for(scenario, examples, r["condition"], r["prompt"])}], r["model"]
            )[0]
            total += pricer.inference(prompt, tokens.count_text_tokens(r["text"], r["model"]), r["model"]) or 0.0
    state = json.loads((run / "state.json").read_text())
    base = scenario.fine_tune.base_model
    for job in state["jobs"]:
        if job["fine_tuned_model"]:
            total += pricer.training(training_tokens(scenario, examples, base), 3, base) or 0.0
    return total


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("HARNESS_FUZZ_PROVIDER_EXAMPLES", "20")),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # each example is a whole run: no slow shrinking
    deadline=None,  # the first example imports litellm (seconds); a run is bounded by its plan
)
@given(plan=provider_rewrites())
# What it found, kept as explicit cases: a chat answer whose "model" is an object broke
# litellm's cost logging, which printed a traceback; a retried error's escapes reached the
# "retrying:" line.
@example(plan=[{**FOUND, "kind": "chat", "at": 1, "pick": 3, "value": {"a": -801}}])
@example(plan=[{**FOUND, "kind": "events", "at": 0, "how": "error", "value": ESCAPES, "status": 500}])
def test_fuzz_provider(fuzzed_provider, tmp_path_factory, monkeypatch, plan):
    import re
    from urllib.parse import unquote

    import backends.retry
    from harness.running import session

    scenario, rewrite, proxy = fuzzed_provider
    monkeypatch.setenv("OPENAI_API_KEY", FUZZ_KEY)
    monkeypatch.setattr(backends.retry, "backoff_delay", lambda *a, **k: 0.0)  # retried at once
    monkeypatch.setattr(session, "_sleep", lambda seconds: None)  # slot waits, polls
    rewrite.reset(plan)
    proxy.seen.clear()
    proxy.sent.clear()
    out = tmp_path_factory.mktemp("fuzzed") / "run"
    args = ["--backend", "openai", "--api-base", proxy.url, "--samples", "1", "--conditions", "fine_tuned,base"]
    args += ["--replicates", "1", "--concurrency", "1", "--poll-interval", "0", "--max-cost", str(CAP)]
    result = invoke("run", scenario, *args, "--out", out)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception!r}\n{output[-2000:]}")
    assert result.exit_code in (0, 1, 2) and "Traceback" not in output and "\x1b" not in output, output[-2000:]
    assert FUZZ_KEY not in output
    if not (out / "manifest.json").exists():
        return
    status = invoke("status", out)
    assert status.exit_code == 0, status.output
    spend = float(re.search(r"spend\s+\$(-?[0-9.]+)", status.output).group(1))
    assert 0 <= spend <= CAP + 1e-9, status.output
    assert spend >= honest_spend(out, scenario) - 1e-4, (spend, honest_spend(out, scenario))  # shown rounded to $0.0001
    records = {(r["model"], r["seed"]) for r in lines_of(out / "responses.jsonl")}
    answered = {
        (body["model"], body["seed"])
        for (method, path, status_sent), body in zip(proxy.seen, proxy.sent)
        if KINDS["chat"](method, path) and status_sent == 200
    }
    assert answered <= records, answered - records
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes().decode("utf-8", "replace")
            assert FUZZ_KEY not in data and FUZZ_KEY not in unquote(data), path.name
            if path.suffix in (".json", ".jsonl"):
                decoded = (
                    [json.loads(line) for line in data.splitlines() if line.strip()]
                    if path.suffix == ".jsonl"
                    else json.loads(data)
                )
                assert FUZZ_KEY not in json.dumps(decoded, ensure_ascii=False), path.name
