"""Every command that README.md and docs/*.md quote in a code block, and how the docs test
(tests/test_docs.py) runs it: as written, made cheaper (fewer samples, a dry run), with a
placeholder filled in, or not at all, with the reason (it needs a key, a GPU-sized download,
minutes of training, or it is CI itself).

    python scripts/docs_commands.py --list      # every quoted command and what the test does with it
    python scripts/docs_commands.py --run       # run them, in a scratch copy of the repository's inputs

Commands run in document order (README.md, then docs/ by name) in a scratch folder holding
copies of scenarios/ and data/ and links to cassettes/, benchmarks/ and scripts/, with no API
key in the environment, so nothing is spent and the repository is not written to.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(harness|python|scripts/|bash|HYPOTHESIS_PROFILE=\S+ pytest)\s")
MOCK_SAMPLES = "4"  # a mock run quoted in the docs runs with this many samples per probe

# Commands the test does not run, with why (a regex on the command as quoted).
SKIP = [
    (
        r"^harness (run|grader-check)\b.*--backend openai(?!.*--dry-run)(?!.*--replay)",
        "needs an OpenAI key (and spends money)",
    ),
    (r"--teacher ", "asks a teacher model on OpenAI (needs a key)"),
    (r"--replay cassettes/openai/my-helol\.yaml", "replays the cassette the --record line above would make"),
    (r"--backend local", "fine-tunes real models on the CPU for minutes (tests/backends/test_local_*.py run it)"),
    (r"--backend myprov", "a provider you write (tests/backends/test_plugin_backend.py runs the example one)"),
    (r"^harness simulate", "a server that runs until stopped (tests/backends/test_simulator*.py start it)"),
    (r"^bash \.ci/run", "CI itself"),
    (r"pytest", "the test suite itself"),
    (r"scripts/rerecord\.py", "rewrites the committed cassettes"),
    (r"benchmarks/local_throughput\.py", "loads SmolLM2 and samples on the CPU for minutes"),
    (r"benchmarks/local_fidelity\.py", "trains a LoRA on SmolLM2 and samples it in two dtypes: over an hour on a CPU"),
    (r"^harness --help: ", "output quoted in benchmarks.md, not a command"),
    (r"^harness run scenarios/hello-local\.yaml", "fine-tunes SmolLM2 for about 15 minutes"),
    (
        r"--backend tinker(?!.*--dry-run)",
        "needs a Tinker key or a Tinker-API server (tests/backends/test_tinker_server.py runs it against SkyRL's)",
    ),
    (r"scripts/tinker_server/build\.sh", "builds the 2.4 GB venv of SkyRL's server from PyPI (.ci/run does)"),
    (r"scripts/tinker_server/models\.py", "writes a model folder (the tinker tests build their own)"),
    (r"benchmarks/tinker_steps\.py", "starts SkyRL's Tinker-API server from its venv and trains for minutes"),
]
# Commands run in another form: (regex, replacement); placeholders filled, synopses instantiated.
REWRITE = [
    (r"<run-id>", "{newest_helol}"),
    (r"\bRUN_DIR\b", "runs/helol/{newest_helol}"),
    (r"^harness validate my\.yaml", "harness validate scenarios/helol.yaml"),
    (r"^harness score --word W .*", "printf 'Here\\nEvery\\nLine\\n' | harness score --word HEL -"),
    (r"\[--dry-run\] \[--max-cost USD\]", "--dry-run"),  # the sweep's 18 cells: its plan, not the run
    (r"probe_throughput\.py( \[.*\])?$", "probe_throughput.py --samples 40 --cpu-samples 40 --rounds 1"),
    (r"kill_resume\.py( \[.*\])?$", "kill_resume.py --kills 1 --wait-kills 1 --samples 2"),
    (r" \[--[^\]]*\]", ""),  # any other optional part of a synopsis: left out
]


# Commands whose quoted use needs a state the scratch folder cannot have: (regex, exit code,
# what the output must say). A finished run cannot be cancelled, and cancel says so.
EXPECT = [(r"^harness cancel ", 2, "there is nothing to cancel")]


@dataclass
class Quoted:
    file: str
    line: int
    text: str  # as quoted (continuations joined, trailing comment removed)
    skip: str | None
    run: str | None  # what the test runs


def quoted() -> list[Quoted]:
    out = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        in_block = False
        i = 0
        while i < len(lines):
            raw = lines[i]
            if raw.strip().startswith("```"):
                in_block = not in_block
                i += 1
                continue
            start = i
            text = raw.strip()
            while in_block and text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1].rstrip() + " " + lines[i].strip()
            i += 1
            if not in_block or not COMMAND.match(text):
                continue
            text = re.sub(r"\s+#\s.*$", "", text).strip()
            out.append(_classify(str(path.relative_to(ROOT)), start + 1, text))
    return out


def _classify(file: str, line: int, text: str) -> Quoted:
    for pattern, reason in SKIP:
        if re.search(pattern, text):
            return Quoted(file, line, text, reason, None)
    run = text
    for pattern, replacement in REWRITE:
        run = re.sub(pattern, replacement.replace("\\", "\\\\"), run)  # the replacement taken literally
    if run.startswith("harness run ") and "--dry-run" not in run and "--samples" not in run:
        run += f" --samples {MOCK_SAMPLES}"
    return Quoted(file, line, text, None, run)


def workspace() -> Path:
    """A scratch folder with copies of the inputs commands write next to, links to the rest."""
    where = Path(tempfile.mkdtemp(prefix="docs-commands-"))
    for name in ("scenarios", "data"):
        shutil.copytree(ROOT / name, where / name)
    for name in ("cassettes", "benchmarks", "scripts", "harness", "backends", "tests"):
        (where / name).symlink_to(ROOT / name)
    return where


def newest(where: Path, scenario: str) -> str:
    runs = sorted(
        (p for p in (where / "runs" / scenario).glob("*") if (p / "manifest.json").exists()), key=os.path.getmtime
    )
    return runs[-1].name if runs else "(no run yet)"


def expected(q: Quoted) -> tuple[int, str]:
    """The exit code a quoted command must end with here, and a text its output must hold."""
    return next(((code, text) for pattern, code, text in EXPECT if re.search(pattern, q.text)), (0, ""))


def run_all(commands: list[Quoted], where: Path, timeout: float = 600) -> list[tuple[Quoted, str, int, str]]:
    """Run each command (a script or benchmark quoted twice runs once); (quoted, as run, exit
    code, the end of its output and its time)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"
    results = []
    seen: set[str] = set()
    for q in commands:
        if q.run is None or (q.run in seen and not q.run.startswith("harness")):
            continue
        seen.add(q.run)
        command = q.run.format(newest_helol=newest(where, "helol"))
        start = time.monotonic()
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = (done.stdout + done.stderr)[-2000:] + f"\n({time.monotonic() - start:.1f} s)"
        results.append((q, command, done.returncode, output))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the quoted commands and what the test does")
    parser.add_argument("--run", action="store_true", help="run them in a scratch folder")
    args = parser.parse_args()
    commands = quoted()
    if args.list or not args.run:
        for q in commands:
            what = f"skipped: {q.skip}" if q.skip else ("runs as written" if q.run == q.text else f"runs: {q.run}")
            print(f"{q.file}:{q.line}: {q.text}\n    {what}")
        return 0
    failed = 0
    for q, command, code, output in run_all(commands, workspace()):
        want, text = expected(q)
        good = code == want and text in output
        print(f"{'ok  ' if good else 'FAIL'} {q.file}:{q.line}: {command} {output.rsplit(chr(10), 1)[-1]}")
        if not good:
            failed += 1
            print(output)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
