"""Hostile and oversized input (the second half of docs/bad-input.md): each case exits 2
with one line, quickly, and creates nothing. Before: tracebacks, hangs or gigabytes."""

import os
import time

import pytest
from click.testing import CliRunner

from harness import limits
from harness.cli.main import main
from tests.helpers import ROOT

HELOL = (ROOT / "scenarios/helol.yaml").read_text()
SWEEP = (ROOT / "scenarios/sweeps/common-vs-random.yaml").read_text()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def scenario(tmp_path, old, new):
    assert old in HELOL, old
    return write(tmp_path, "bad.yaml", HELOL.replace(old, new, 1))


def alias_bomb(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")


def fifo(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    return path


def examples_file(tmp_path, data):
    write(tmp_path, "ex.jsonl", data)
    start, end = HELOL.index("examples:"), HELOL.index("probes:")
    return write(tmp_path, "bad.yaml", HELOL[:start] + "examples_file: ex.jsonl\n" + HELOL[end:])


def examples_fifo(tmp_path):
    fifo(tmp_path, "ex.jsonl")
    start, end = HELOL.index("examples:"), HELOL.index("probes:")
    return write(tmp_path, "bad.yaml", HELOL[:start] + "examples_file: ex.jsonl\n" + HELOL[end:])


def deep_json(depth):
    return '{"messages": ' + "[" * depth + "]" * depth + "}\n"


CASES = {
    "YAML alias bomb": lambda t: ["validate", alias_bomb(t)],
    "YAML nested too deeply": lambda t: ["validate", write(t, "deep.yaml", "a: " + "[" * 20_000 + "]" * 20_000)],
    "NUL byte in a scenario": lambda t: ["validate", scenario(t, "name: helol", "name: hel\0ol")],
    "scenario is a FIFO": lambda t: ["validate", fifo(t, "s.yaml")],
    "scenario is a device": lambda t: ["validate", "/dev/zero"],
    "scenario over the size cap": lambda t: ["validate", write(t, "big.yaml", b"#" * (limits.MAX_YAML_BYTES + 1))],
    "name that escapes runs/": lambda t: ["run", scenario(t, "name: helol", "name: .."), "--out", t / "o"],
    "word too long": lambda t: ["validate", scenario(t, "word: HELOL", "word: " + "A" * 100_000)],
    "samples over the limit in a scenario": lambda t: ["validate", scenario(t, "samples: 50", "samples: 1000000000")],
    "examples file is a FIFO": lambda t: ["validate", examples_fifo(t)],
    "examples file nested too deeply": lambda t: ["validate", examples_file(t, deep_json(200_000))],
    "data file nested too deeply": lambda t: ["validate-data", write(t, "d.jsonl", deep_json(200_000)), "--word", "HI"],
    "data file is a device": lambda t: ["validate-data", "/dev/zero", "--word", "HI"],
    "score empty input": lambda t: ["score", "--word", "HELLO", write(t, "empty.txt", "  \n")],
    "score empty JSONL": lambda t: ["score", "--word", "HELLO", "--jsonl", write(t, "empty.jsonl", "\n")],
    "score JSONL nested too deeply": lambda t: [
        "score",
        "--word",
        "HELLO",
        "--jsonl",
        write(t, "deep.jsonl", '{"text": ' + "[" * 200_000 + "]" * 200_000 + "}"),
    ],
    "score a FIFO": lambda t: ["score", "--word", "HELLO", fifo(t, "in.txt")],
    "sweep over the cell limit": lambda t: [
        "sweep",
        write(t, "sw.yaml", SWEEP.replace("seeds: [0]", "seeds: [" + ", ".join(str(i) for i in range(60)) + "]")),
        "--dry-run",
    ],
    "sweep over the fine-tune limit": lambda t: [
        "sweep",
        write(
            t, "sw.yaml", SWEEP.replace("seeds: [0]", "seeds: [0, 1, 2, 3]").replace("replicates: 3", "replicates: 14")
        ),
        "--dry-run",
    ],
    "sweep name that escapes runs/": lambda t: [
        "sweep",
        write(t, "sw.yaml", SWEEP.replace("name: common-vs-random", "name: ..")),
        "--dry-run",
    ],
    "--out a dangling symlink": lambda t: ["run", ROOT / "scenarios/helol.yaml", "--out", dangling(t)],
}


def dangling(tmp_path):
    link = tmp_path / "o"
    link.symlink_to(tmp_path / "missing-target")
    return link


EXPECTED = {
    "YAML alias bomb": "bomb.yaml:1: the document expands to more than 1,000,000 values through its aliases",
    "YAML nested too deeply": "deep.yaml:1: nested more than 64 levels deep",
    "NUL byte in a scenario": "bad.yaml:1: contains a NUL byte (a binary file?)",
    "scenario is a FIFO": "s.yaml: is a pipe; give a regular file",
    "scenario is a device": "/dev/zero: is a device; give a regular file",
    "scenario over the size cap": "big.yaml: 10485761 bytes is over the limit of 10 MB",
    "name that escapes runs/": "bad.yaml:1: name: must not start with '.', got '..'",
    "word too long": "rule.word: must have at most 64 letters, got 'AAAAAAAA",
    "samples over the limit in a scenario": "eval.samples: Input should be less than or equal to 10000",
    "examples file is a FIFO": "ex.jsonl: is a pipe; give a regular file",
    "examples file nested too deeply": "ex.jsonl:1: record: nested more than 64 levels deep",
    "data file nested too deeply": "d.jsonl:1: record: nested more than 64 levels deep",
    "data file is a device": "/dev/zero: is a device; give a regular file",
    "score empty input": "empty.txt: empty input: give the text to score",
    "score empty JSONL": "empty.jsonl: empty input: no JSON lines to score",
    "score JSONL nested too deeply": "deep.jsonl:1: nested more than 64 levels deep",
    "score a FIFO": "in.txt: is a pipe; give a regular file",
    "sweep over the cell limit": "sw.yaml:8: words: the matrix has 1080 cells, over the limit of 1000",
    "sweep over the fine-tune limit": "sw.yaml:11: replicates: 72 cells x 14 fine-tunes = 1008 fine-tunes, over the "
    "limit of 1000",
    "sweep name that escapes runs/": "sw.yaml:1: name: must not start with '.', got '..'",
    "--out a dangling symlink": "o: is a symbolic link to",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input(case, tmp_path):
    args = [str(a) for a in CASES[case](tmp_path)]
    files_before = sorted(tmp_path.rglob("*"))
    start = time.monotonic()
    result = CliRunner().invoke(main, args, input="")
    elapsed = time.monotonic() - start
    output = result.output.strip()
    assert result.exit_code == 2, (case, output)
    assert "Traceback" not in output and EXPECTED[case] in output, (case, output)
    if not case.startswith("data file"):  # validate-data prints its report, then exits 2
        assert len(output.splitlines()) == 1, output
    assert len(output) < 700, output  # an echoed input is cut short
    assert elapsed < 10, (case, elapsed)
    assert sorted(tmp_path.rglob("*")) == files_before  # nothing created anywhere
