"""Re-record the committed cassettes against a fresh simulator, each with the command in its
sidecar, and refresh what their replay tests expect (tests/data/replay/<name>.summary.json).

    python scripts/rerecord.py                 # every cassette under cassettes/
    python scripts/rerecord.py cassettes/openai/hello.yaml

Run it whenever the mock, the simulator or the scoring changes (tests/running/
test_cassettes_fresh.py fails until you do), and commit the cassettes, their sidecars and
the expected summaries together. Offline: the simulator serves the mock on loopback; the
API key is a placeholder unless OPENAI_API_KEY is set (it is redacted either way)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPLAY_DATA = ROOT / "tests" / "data" / "replay"
COUNTS = ("--samples", "--examples")  # the options that size a recording
FLAGS = {"--force", "--dry-run", "--offline", "--allow-unpriced", "--allow-remote"}  # options without a value


def sidecars(paths: list[str]) -> list[Path]:
    if paths:
        return [
            Path(p).with_name(Path(p).name.removesuffix(".yaml").removesuffix(".meta") + ".meta.yaml") for p in paths
        ]
    return sorted((ROOT / "cassettes").rglob("*.meta.yaml"))


def cassette_of(sidecar: Path) -> Path:
    return sidecar.with_name(sidecar.name.removesuffix(".meta.yaml") + ".yaml")


def live_command(
    recorded: list[str],
    api_base: str,
    out: Path | None,
    record: Path | None,
    count: int | None = None,
    absolute: bool = True,
) -> list[str]:
    """The sidecar's command (without the leading `harness`) against `api_base`: --out and
    --record replaced (--record dropped when None), the sample or example count replaced
    when `count` is given, and the scenario path made absolute (unless the command runs from
    the repository, where the sidecar's relative path reads better)."""
    args, given = [], list(recorded[1:])
    i = 0
    while i < len(given):
        flag = given[i]
        value = given[i + 1] if i + 1 < len(given) else None
        if flag == "--api-base":
            args += [flag, api_base]
        elif flag == "--record":
            args += [flag, str(record)] if record is not None else []
        elif flag == "--out" and out is not None:
            args += [flag, str(out)]
        elif flag in COUNTS and count is not None:
            args += [flag, str(count)]
        elif flag.startswith("--") and flag not in FLAGS and value is not None:
            args += [flag, value]
        else:
            args.append(flag)
            i += 1
            continue
        i += 2
    if args[0] == "run":
        scenario = ROOT / args[1]
        args[1] = str(scenario) if absolute or not scenario.is_relative_to(ROOT) else str(scenario.relative_to(ROOT))
    return args


def chat_answers(cassette: Path) -> dict[str, str]:
    """Each recorded chat request (its JSON body, canonical) and the answer it got."""
    data = yaml.load(cassette.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    answers: dict[str, str] = {}
    for interaction in data.get("interactions", []):
        request, response = interaction["request"], interaction["response"]
        if request["method"].upper() != "POST" or not request["uri"].split("?")[0].endswith("/chat/completions"):
            continue
        body = json.loads(request["body"])
        reply = json.loads(response["body"]["string"])
        answers[json.dumps(body, sort_keys=True)] = reply["choices"][0]["message"]["content"]
    return answers


def rerecord(sidecar: Path) -> None:
    from backends.simulator.server import Simulator

    meta = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    command, cassette = meta["command"], cassette_of(sidecar)
    harness = Path(sys.executable).with_name("harness")
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY") or "sk-rerecord-simulator"}
    with Simulator(port=0) as sim, tempfile.TemporaryDirectory(prefix=f"rerecord-{cassette.stem}-") as tmp:
        out = Path(tmp) / "run" if command[1] == "run" else None  # `new` writes its own --out (test data)
        args = live_command(command, sim.url, out, cassette.relative_to(ROOT), absolute=False)
        if "--force" not in args:
            args.append("--force")  # --record replaces an existing cassette only when told to
        print("+ harness " + " ".join(args), flush=True)
        subprocess.run([str(harness), *args], cwd=ROOT, env=env, check=True)
        if out is not None:
            shutil.copyfile(out / "summary.json", REPLAY_DATA / f"{cassette.stem}.summary.json")
    print(f"re-recorded {cassette.relative_to(ROOT)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cassettes", nargs="*", help="cassettes to re-record (default: all)")
    for sidecar in sidecars(parser.parse_args().cassettes):
        rerecord(sidecar)


if __name__ == "__main__":
    main()
