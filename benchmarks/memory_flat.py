"""Peak memory and time of the mock end to end, at two sizes, side by side.

    python benchmarks/memory_flat.py [--small 100] [--large 1000] [--keep DIR]

Runs `harness run scenarios/helol.yaml --samples N` (mock backend) for both sizes, then
`harness report`, `status`, `export` (csv, to a file) and `compare` (the two runs) on them,
each in its own subprocess, and prints each command's peak RSS (the child's ru_maxrss), wall
time and CPU time (user + system), the ratio of peaks large/small, and for `run` the wall
and CPU time per answer (CPU time says less about the machine's other load than wall time). `uptime` is printed
before and after: compare ratios measured in one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "helol.yaml"


def measure(args: list[str], cwd: Path) -> tuple[float, float, float]:
    """(peak RSS in MB, wall seconds, CPU seconds) of one harness command in a fresh process; each call
    is launched through a fresh `python -c` wrapper so RUSAGE_CHILDREN sees only it."""
    wrapper = (
        "import resource, subprocess, sys;"
        "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL);"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(u.ru_maxrss, u.ru_utime + u.ru_stime);"
        "sys.exit(rc)"
    )
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"harness {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    rss, cpu = out.stdout.strip().splitlines()[-1].split()
    return int(rss) / 1024, wall, float(cpu)


def answers_of(run_dir: Path) -> int:
    with open(run_dir / "responses.jsonl", "rb") as f:
        return sum(1 for _ in f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="Leave the runs in this folder (default: a temporary one).")
    a = parser.parse_args()
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        work = a.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sizes = {"small": a.small, "large": a.large}
        rows: dict[str, dict[str, tuple[float, float, float]]] = {}
        answers: dict[str, int] = {}
        for name, n in sizes.items():
            run = work / f"run-{n}"
            if run.exists():
                sys.exit(f"{run} exists: give another --keep folder")
            rows.setdefault("run", {})[name] = measure(
                ["run", str(SCENARIO), "--samples", str(n), "--out", str(run)], work
            )
            answers[name] = answers_of(run)
        for name, n in sizes.items():
            run = str(work / f"run-{n}")
            rows.setdefault("report", {})[name] = measure(["report", run], work)
            rows.setdefault("status", {})[name] = measure(["status", run], work)
            out = str(work / f"export-{n}.csv")
            rows.setdefault("export", {})[name] = measure(["export", run, "--format", "csv", "--out", out], work)
            rows.setdefault("compare", {})[name] = measure(
                ["compare", run, run, "--out", str(work / f"cmp-{n}.md")], work
            )
        print(
            f"answers: small {answers['small']} (--samples {a.small}), large {answers['large']} (--samples {a.large})"
        )
        print(
            f"{'command':<8} {'small MB':>9} {'large MB':>9} {'ratio':>6} {'small s':>8} {'large s':>8} {'small cpu':>9} {'large cpu':>9}"
        )
        for cmd, r in rows.items():
            (ms, ts, cs), (ml, tl, cl) = r["small"], r["large"]
            print(f"{cmd:<8} {ms:9.1f} {ml:9.1f} {ml / ms:6.2f} {ts:8.2f} {tl:8.2f} {cs:9.2f} {cl:9.2f}")
        for name in sizes:
            _, wall, cpu = rows["run"][name]
            n = answers[name]
            print(
                f"run {name}: {wall:.2f} s wall / {n} answers = {wall / n * 1e3:.3f} ms per answer ({cpu / n * 1e3:.3f} ms CPU)"
            )
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
