"""Kill `harness run` with SIGKILL at random moments, resume after each kill, and check that
the run ends complete, duplicate-free, equal to an uninterrupted run, with each training
file uploaded once and each fine-tuning job (every replicate, real and sham) created once
at the simulator.

    python scripts/kill_resume.py [--kills 10] [--wait-kills 3] [--seed 0] [--samples 5] [--server recorded]

Everything runs on loopback against `harness simulate` (with a little latency so that kills
land in every step: upload, job creation, training, probing, record writing), or with
`--server recorded` against the test server that answers as real OpenAI answered in recorded
traffic (tests/backends/recorded_server.py: jobs that advance with the wall clock; uploads and
jobs are then counted by listing them, as on OpenAI). Both allow 3 active jobs per base
model, as OpenAI does, so the run's six jobs wait for free slots: the first --wait-kills kills
are aimed at that wait (the run's state says it is waiting for a free fine-tuning slot), the
others land at random."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "helol.yaml"


def start_simulator(latency: float, server: str = "simulator") -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "harness.cli", "simulate", "--port", "0", "--latency", str(latency)]
    command += ["--validating-polls", "3", "--max-active-jobs", "3"]
    if server == "recorded":  # jobs of a few seconds, as the wall clock goes
        command = [sys.executable, "-m", "tests.backends.recorded_server", "--port", "0", "--validating", "0.5"]
        command += ["--training", "3", "--max-active", "3"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    assert proc.stdout is not None  # stdout=PIPE
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
    if not match:
        proc.kill()
        sys.exit(f"simulator did not start: {line!r}")
    return proc, match.group(1)


def stats(url: str, server: str = "simulator") -> dict:
    """Uploads and jobs made so far (and, on the simulator, creates refused for want of a slot)."""
    if server == "simulator":
        with urllib.request.urlopen(url.removesuffix("/v1") + "/_sim/stats", timeout=10) as r:
            return json.load(r)

    def listed(path: str) -> int:
        ask = urllib.request.Request(url + path, headers={"Authorization": "Bearer sk-kill-resume-test"})
        with urllib.request.urlopen(ask, timeout=10) as r:
            return len(json.load(r)["data"])

    return {"uploads": listed("/files?purpose=fine-tune"), "jobs_created": listed("/fine_tuning/jobs?limit=100")}


def harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def waiting_for_slot(state_path: Path) -> bool:
    """Whether the run's state says it waits for a free fine-tuning slot (a state being
    replaced this instant reads as not waiting)."""
    try:
        return bool(json.loads(state_path.read_text()).get("slot_wait"))
    except (OSError, ValueError):
        return False


def until_waiting(state_path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if waiting_for_slot(state_path):
            return True
        time.sleep(0.05)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--wait-kills", type=int, default=3, help="kills aimed at the wait for a fine-tuning slot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--server", choices=("simulator", "recorded"), default="simulator")
    opts = parser.parse_args()
    rng = random.Random(opts.seed)
    # Importing litellm dominates a process's first seconds (much more on a loaded machine):
    # measure it so that kills land after start-up as well as during it.
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import harness, litellm"], check=True)
    startup = time.monotonic() - t0
    env = dict(os.environ, OPENAI_API_KEY="sk-kill-resume-test")
    run_args = [
        "--backend",
        "openai",
        "--samples",
        str(opts.samples),
        "--seed",
        "3",
        "--poll-interval",
        "0.05",
        "--concurrency",
        "2",
    ]
    work = Path(tempfile.mkdtemp(prefix="kill-resume-"))

    # The uninterrupted run gets a simulator of its own: a provider names a second job's
    # model differently, and the two runs must be comparable.
    sim, url = start_simulator(opts.latency, opts.server)
    clean = work / "clean"
    t0 = time.monotonic()
    try:
        subprocess.run(
            harness("run", str(SCENARIO), *run_args, "--api-base", url, "--out", str(clean)),
            env=env,
            check=True,
            capture_output=True,
        )
    finally:
        sim.kill()
    print(f"start-up {startup:.1f}s; uninterrupted run {time.monotonic() - t0:.1f}s")

    sim, url = start_simulator(opts.latency, opts.server)
    try:
        before = stats(url, opts.server)

        killed = work / "killed"
        kills = wait_kills = 0
        command = harness("run", str(SCENARIO), *run_args, "--api-base", url, "--out", str(killed))
        while True:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if kills < opts.kills:
                aimed = wait_kills < opts.wait_kills and until_waiting(killed / "state.json", proc)
                delay = rng.uniform(0.0, 0.5) if aimed else rng.uniform(0.5 * startup, startup + 4.0)
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    kills += 1
                    state = json.loads((killed / "state.json").read_text()) if (killed / "state.json").exists() else {}
                    during = bool(state.get("slot_wait"))
                    wait_kills += during  # aimed there, or landed there by chance
                    where = " during the wait for a fine-tuning slot" if during else ""
                    print(f"kill {kills:2} after {delay:5.2f}s{where}: steps {state.get('steps', {})}")
                    # Killed before the run existed (start-up, or inside run.create_run): start
                    # it again, as the error of `harness resume` would tell a user to.
                    started = (killed / "manifest.json").exists()
                    command = (
                        harness("resume", str(killed))
                        if started
                        else harness("run", str(SCENARIO), *run_args, "--api-base", url, "--out", str(killed))
                    )
                    continue
            else:
                proc.wait()
            if proc.returncode != 0:
                print(f"run/resume exited {proc.returncode}")
                return 1
            break
        after = stats(url, opts.server)
    finally:
        sim.kill()

    uploads = after["uploads"] - before["uploads"]
    jobs = after["jobs_created"] - before["jobs_created"]
    # A real provider does not count the creates it refused; the simulator does.
    refused = after["jobs_limited"] - before["jobs_limited"] if opts.server == "simulator" else "not counted"
    # The scenario's training files (the real one, and the sham's) and its fine-tunes (one per
    # training file and replicate), as the uninterrupted run made them: each exactly once.
    clean_state = json.loads((clean / "state.json").read_text())
    want_uploads = 1 + bool(clean_state.get("sham_file_id"))
    want_jobs = len(clean_state["jobs"])
    records = [json.loads(x) for x in (killed / "responses.jsonl").read_text().splitlines()]

    def key(r: dict) -> tuple:
        return (r["condition"], r.get("replicate", 0), r["probe"], r["sample"])

    keys = [key(r) for r in records]

    def measured(run: Path) -> dict:
        """The run's summary without its wall-clock times (`compute`), which a kill changes."""
        summary = json.loads((run / "summary.json").read_text())
        summary.pop("compute", None)
        return summary

    same = measured(clean) == measured(killed)
    expected = len({key(r) for r in map(json.loads, (clean / "responses.jsonl").read_text().splitlines())})
    print(
        f"kills: {kills} ({wait_kills} during a wait for a fine-tuning slot; creates refused for want of a slot: "
        f"{refused}); uploads: {uploads} (want {want_uploads}); jobs created: {jobs} (want {want_jobs}); "
        f"records: {len(keys)} "
        f"(unique {len(set(keys))}, expected {expected}); summary equal to uninterrupted run (wall-clock times "
        f"aside): {same}"
    )
    ok = uploads == want_uploads and jobs == want_jobs and len(keys) == len(set(keys)) == expected and same
    ok = ok and wait_kills >= min(opts.wait_kills, opts.kills)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
