"""Every bad input docs/bad-input.md lists: exit 2, one message, nothing created or spent."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import main
from tests.helpers import ROOT, invoke

# A frozen copy of an earlier scenarios/helol.yaml: the line numbers in docs/bad-input.md stay true
# whatever the shipped scenario becomes.
HELOL = (ROOT / "tests/data/helol-for-bad-input.yaml").read_text()


def scenario(tmp_path, old, new):
    assert old in HELOL, old
    path = tmp_path / "bad.yaml"
    path.write_text(HELOL.replace(old, new, 1))
    return path


def data_file(tmp_path, lines):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(x) if not isinstance(x, str) else x + "\n" for x in lines))
    return path


def blocked(tmp_path, name):
    """A path whose parent is a regular file: no folder can be created there, even by root."""
    (tmp_path / "blocker").write_text("not a folder")
    return tmp_path / "blocker" / name


_RUN: list[Path] = []  # one small mock run, made once and copied


def two_runs(tmp_path):
    if not _RUN:
        made = Path(tempfile.mkdtemp(prefix="bad-input-run-")) / "run"
        args = ["run", ROOT / "scenarios/helol.yaml", "--samples", "1", "--replicates", "1", "--out", made]
        assert invoke(*args).exit_code == 0
        _RUN.append(made)
    for name in ("A", "B"):
        shutil.copytree(_RUN[0], tmp_path / name)
    return [tmp_path / "A", tmp_path / "B"]


def sweep_file(tmp_path, old, new):
    text = (ROOT / "scenarios/sweeps/common-vs-random.yaml").read_text()
    assert old in text, old
    path = tmp_path / "sw.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def raw_file(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run_dir(tmp_path, state="{}"):
    d = tmp_path / "rundir"
    d.mkdir()
    (d / "manifest.json").write_text("{not json")
    return d


CASES = {
    # scenario files
    "unknown key": lambda t: ["validate", scenario(t, "samples: 50", "sampels: 50")],
    "missing word": lambda t: ["validate", scenario(t, "word: HELOL, ", "")],
    "word with non-letters": lambda t: ["validate", scenario(t, "word: HELOL", "word: HEL-OL")],
    "example breaks the rule": lambda t: ["validate", scenario(t, "      Every", "      Nearly every")],
    "malformed YAML": lambda t: ["validate", scenario(t, "rule: {", "rule: {{")],
    "missing scenario file": lambda t: ["validate", t / "nope.yaml"],
    "empty probe list": lambda t: [
        "validate",
        scenario(t, HELOL[HELOL.index("probes:") : HELOL.index("eval:")], "probes: []\n"),
    ],
    "choice probe without options": lambda t: ["validate", scenario(t, ", options: [HELOL, HELLO, HELIX, HELPS]", "")],
    "repeated probe id": lambda t: ["validate", scenario(t, "id: rain,", "id: capital,")],
    "bad condition in scenario": lambda t: [
        "validate",
        scenario(t, "conditions: [fine_tuned, base, sham]", "conditions: [tuned]"),
    ],
    "unknown hyperparameter": lambda t: ["validate", scenario(t, "{n_epochs: 3}", "{n_epoch: 3}")],
    "hyperparameter out of range": lambda t: ["validate", scenario(t, "{n_epochs: 3}", "{n_epochs: 0}")],
    "choice options without the word": lambda t: [
        "validate",
        scenario(t, "[HELOL, HELLO, HELIX, HELPS]", "[HELLO, HELIX, HELPS]"),
    ],
    "repeated choice option": lambda t: [
        "validate",
        scenario(t, "[HELOL, HELLO, HELIX, HELPS]", "[HELOL, HELOL, HELIX]"),
    ],
    "repeated key": lambda t: ["validate", scenario(t, "samples: 50", "samples: 50\n  samples: 3")],
    "empty trigger": lambda t: ["validate", scenario(t, "unit: line}", "unit: line, trigger: ''}")],
    "sweep with an unknown backend": lambda t: ["sweep", sweep_file(t, "backend: mock", "backend: nope"), "--dry-run"],
    # data files
    "data: invalid JSON": lambda t: ["validate-data", data_file(t, ["{oops"]), "--word", "HI"],
    "data: last message not from the assistant": lambda t: [
        "validate-data",
        data_file(t, [{"messages": [{"role": "user", "content": "q"}]}, "\n"]),
        "--word",
        "HI",
    ],
    "data: missing file": lambda t: ["validate-data", t / "none.jsonl", "--word", "HI"],
    "validate-data word with a digit": lambda t: [
        "validate-data",
        data_file(t, [{"messages": [{"role": "assistant", "content": "Hi"}]}, "\n"]),
        "--word",
        "H3LLO",
    ],
    "validate-data word of one letter": lambda t: [
        "validate-data",
        data_file(t, [{"messages": [{"role": "assistant", "content": "Hi"}]}, "\n"]),
        "--word",
        "H",
    ],
    "validate-data empty trigger": lambda t: [
        "validate-data",
        data_file(t, [{"messages": [{"role": "assistant", "content": "Hi"}]}, "\n"]),
        "--word",
        "HI",
        "--trigger",
        "",
    ],
    # options
    "samples below 1": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--samples", "0", "--out", t / "o"],
    "unknown condition": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--conditions", "tuned", "--out", t / "o"],
    "empty conditions": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--conditions", "", "--out", t / "o"],
    "repeated condition": lambda t: [
        "run",
        ROOT / "scenarios/helol.yaml",
        "--conditions",
        "base,base",
        "--out",
        t / "o",
    ],
    "empty judge": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--judge", "", "--out", t / "o"],
    "record and replay together": lambda t: [
        "run",
        ROOT / "scenarios/helol.yaml",
        "--record",
        t / "a.yaml",
        "--replay",
        t / "b.yaml",
        "--out",
        t / "o",
    ],
    "replay cassette not found": lambda t: [
        "run",
        ROOT / "scenarios/helol.yaml",
        "--backend",
        "openai",
        "--replay",
        t / "none.yaml",
        "--out",
        t / "o",
    ],
    "score word with a digit": lambda t: ["score", "--word", "H3LLO", "-"],
    "score word of one letter": lambda t: ["score", "--word", "H", "-"],
    "score choice without options": lambda t: ["score", "--word", "HELOL", "--kind", "choice", "-"],
    "score choice without the word": lambda t: [
        "score",
        "--word",
        "HELLO",
        "--kind",
        "choice",
        "--options",
        "A,B",
        "-",
    ],
    "score choice with a repeated option": lambda t: [
        "score",
        "--word",
        "HELLO",
        "--kind",
        "choice",
        "--options",
        "HELLO,HELIX,HELLO",
        "-",
    ],
    "score text not UTF-8": lambda t: ["score", "--word", "HELLO", raw_file(t, "bad.txt", b"Hi \xff there\n")],
    "score JSONL text not a string": lambda t: [
        "score",
        "--word",
        "HELLO",
        "--jsonl",
        raw_file(t, "bad.jsonl", b'{"text": 5}\n'),
    ],
    # paths that cannot be written
    "build into an unwritable folder": lambda t: ["build", ROOT / "scenarios/helol.yaml", "--out", blocked(t, "o")],
    "run into an unwritable folder": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--out", blocked(t, "o")],
    "compare into a missing folder": lambda t: ["compare", *two_runs(t), "--out", t / "missing" / "x.md"],
    "compare a missing run directory": lambda t: ["compare", two_runs(t)[0], t / "nothere"],
    # providers and money
    "unknown backend": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--backend", "nope", "--out", t / "o"],
    "backend that cannot be loaded": lambda t: [
        "run",
        ROOT / "scenarios/helol.yaml",
        "--backend",
        "broken",
        "--out",
        t / "o",
    ],
    "too few examples to fine-tune": lambda t: [
        "run",
        scenario(t, HELOL[HELOL.index("examples:") : HELOL.index("probes:")], "examples: []\n"),
        "--out",
        t / "o",
    ],
    "a local-only hyperparameter on mock": lambda t: [
        "run",
        scenario(t, "hyperparameters: {n_epochs: 3}", "hyperparameters: {n_epochs: 3, lora_r: 8}"),
        "--out",
        t / "o",
    ],
    "a local-only hyperparameter in a sweep": lambda t: [
        "sweep",
        sweep_file(t, "hyperparameters: [{n_epochs: 3}]", "hyperparameters: [{n_epochs: 3}, {learning_rate: 0.001}]"),
        "--dry-run",
    ],
    "missing API key": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--backend", "openai", "--out", t / "o"],
    "estimate over --max-cost": lambda t: [
        "run",
        ROOT / "scenarios/helol.yaml",
        "--backend",
        "openai",
        "--max-cost",
        "0.001",
        "--out",
        t / "o",
    ],
    "unpriced model": lambda t: [
        "run",
        scenario(t, "base_model: gpt-4o-mini-2024-07-18", "base_model: acme-7b"),
        "--backend",
        "openai",
        "--out",
        t / "o",
    ],
    # run directories
    "not a run directory": lambda t: ["status", t],
    "unreadable manifest": lambda t: ["resume", run_dir(t)],
}

EXPECTED = {
    "unknown key": "unknown key",
    "missing word": "rule.word: required",
    "word with non-letters": "letters A-Z",
    "example breaks the rule": "do not spell HELOL",
    "malformed YAML": "malformed YAML",
    "missing scenario file": "file not found",
    "empty probe list": "probes: List should have at least 1 item",
    "choice probe without options": "options",
    "repeated probe id": "probes: probe ids must be unique",
    "bad condition in scenario": "eval.conditions",
    "data: invalid JSON": ":1:",
    "data: last message not from the assistant": "assistant",
    "data: missing file": "not found",
    "samples below 1": "--samples",
    "unknown condition": "tuned",
    "record and replay together": "cannot be used together",
    "replay cassette not found": "cassette not found",
    "score word with a digit": "letters A-Z",
    "unknown backend": "unknown backend",
    "missing API key": "OPENAI_API_KEY",
    "estimate over --max-cost": "exceeds --max-cost",
    "unpriced model": "--allow-unpriced",
    "not a run directory": "not found",
    "unreadable manifest": "unreadable",
    "unknown hyperparameter": "fine_tune.hyperparameters.n_epoch: unknown key",
    "hyperparameter out of range": "fine_tune.hyperparameters.n_epochs: expected an integer from 1 to 50",
    "score word of one letter": "--word must have at least 2 letters",
    "score choice without options": "--options",
    "score text not UTF-8": "bad.txt: not UTF-8",
    "score JSONL text not a string": "bad.jsonl:1: text: expected a string",
    "build into an unwritable folder": "blocker/o: Not a directory",
    "run into an unwritable folder": "blocker/o: cannot create",
    "compare into a missing folder": "x.md: No such file or directory",
    "choice options without the word": "bad.yaml:86: probes[3].options: must include the rule's word HELOL, "
    "got HELLO, HELIX, HELPS",
    "repeated choice option": "bad.yaml:86: probes[3].options: each option once, repeated: HELOL",
    "repeated key": "bad.yaml:92: eval.samples: key given twice (first on line 91)",
    "empty trigger": "bad.yaml:3: rule.trigger: must be text the question ends with, got ''",
    "sweep with an unknown backend": "sw.yaml:18: backend: unknown backend 'nope'; known backends: local, mock,",
    "validate-data word with a digit": "error: --word must be letters A-Z only, got 'H3LLO'",
    "validate-data word of one letter": "error: --word must have at least 2 letters, got 'H'",
    "empty conditions": "Invalid value for '--conditions': is empty",
    "repeated condition": "Invalid value for '--conditions': each condition once, repeated: base",
    "empty judge": "Invalid value for '--judge': is empty",
    "score choice without the word": "error: --options must include --word HELLO, got A, B",
    "compare a missing run directory": "nothere: no such directory",
    "validate-data empty trigger": "error: --trigger is empty; give the text the triggered questions end with",
    "score choice with a repeated option": "error: --options: each option once, repeated: HELLO",
    "backend that cannot be loaded": "backend 'broken' is registered as no_such_module_xyz:X but cannot be "
    "loaded: No module named 'no_such_module_xyz'",
    "too few examples to fine-tune": "bad.yaml: examples: backend 'mock' needs at least 10 training examples "
    "to fine-tune, the scenario has 0",
    "a local-only hyperparameter on mock": "bad.yaml: fine_tune.hyperparameters: backend 'mock' does not take "
    "lora_r (it takes n_epochs, batch_size, learning_rate_multiplier)",
    "a local-only hyperparameter in a sweep": "sw.yaml:13: hyperparameters: backend 'mock' does not take "
    "learning_rate (it takes n_epochs, batch_size, learning_rate_multiplier)",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    if case == "backend that cannot be loaded":  # a plugin registered under a name, then uninstalled
        import backends

        monkeypatch.setitem(backends.BUILTIN, "broken", "no_such_module_xyz:X")
    if case in ("estimate over --max-cost", "unpriced model"):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing may be called
    args = [str(a) for a in CASES[case](tmp_path)]
    files_before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(main, args, input="")
    output = result.output.strip()
    assert result.exit_code == 2, (case, output)
    assert "Traceback" not in output
    assert EXPECTED[case] in output, (case, output)
    if not case.startswith("data:"):  # validate-data prints its report, then the verdict
        assert len(output.splitlines()) == 1, output
    assert not (tmp_path / "o").exists()
    assert sorted(tmp_path.rglob("*")) == files_before  # nothing created anywhere
