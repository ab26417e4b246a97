"""The smaller holes a hostile review found: choice options past Z, `samples: true`, records
outside the plan, a dry run that ignored the system prompt, `simulate --host '[::1]'`, and
a sweep whose cells could spend past the sweep's budget."""

import json
import re
import shutil
import socket
import threading
import time

import pytest
import yaml

from tests.helpers import ROOT, invoke

HELOL = yaml.safe_load((ROOT / "scenarios/helol.yaml").read_text())


def scenario_with(tmp_path, change) -> object:
    doc = json.loads(json.dumps(HELOL))
    change(doc)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def one_error(result, needle):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output


def test_a_choice_probe_has_at_most_26_options(tmp_path):
    """41 options ran the labels past Z into punctuation and lower case (A and a both shown)."""
    words = ["HELOL"] + [f"W{chr(65 + i // 26)}{chr(65 + i % 26)}X" for i in range(40)]

    def options(n):
        def change(doc):
            next(p for p in doc["probes"] if p["kind"] == "choice")["options"] = words[:n]

        return change

    one_error(invoke("validate", scenario_with(tmp_path, options(41))), "at most 26 options (labelled A to Z), got 41")
    assert invoke("validate", scenario_with(tmp_path, options(26))).exit_code == 0
    result = invoke("score", "--word", "HELOL", "--kind", "choice", "--options", ",".join(words[:27]), "-", input="A")
    one_error(result, "--options: at most 26 options")


@pytest.mark.parametrize("value", [True, False, 20.0, "20"])
def test_samples_is_a_whole_number_not_a_bool(tmp_path, value):
    """`eval.samples: true` validated as 1."""
    result = invoke("validate", scenario_with(tmp_path, lambda doc: doc["eval"].update(samples=value)))
    one_error(result, "eval.samples: Input should be a valid integer")


def test_temperature_true_is_not_a_number(tmp_path):
    one_error(
        invoke("validate", scenario_with(tmp_path, lambda d: d["eval"].update(temperature=True))), "eval.temperature"
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert invoke("run", ROOT / "scenarios/helol.yaml", "--samples", "2", "--out", out).exit_code == 0
    return out


@pytest.mark.parametrize(
    "change,needle",
    [
        (lambda r: r.update(probe="phantom"), "probe: 'phantom' is not a probe of this run's scenario"),
        (lambda r: r.update(sample=7), "sample: 7 is beyond this run's 2 samples per probe"),
        (lambda r: r.update(condition="in_context"), "condition: 'in_context' is not one of this run's conditions"),
        (lambda r: r.update(replicate=9), "replicate: 9 is beyond the"),
        (lambda r: r.update(kind="choice") if r["kind"] != "choice" else r.update(kind="word"), "kind: "),
    ],
)
@pytest.mark.parametrize("command", ["status", "report", "resume"])
def test_a_record_outside_the_plan_is_refused_where_it_is(finished, tmp_path, change, needle, command):
    """A hand-edited record with an unknown probe or a sample beyond the plan was counted:
    "48 of 48 done" with a planned sample missing, and a phantom cell in the report."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    lines = (run / "responses.jsonl").read_text().splitlines()
    record = json.loads(lines[4])
    change(record)
    lines[4] = json.dumps(record)
    (run / "responses.jsonl").write_text("\n".join(lines) + "\n")
    one_error(invoke(command, run), f"responses.jsonl:5: {needle}")


def test_the_dry_run_counts_the_system_prompt(tmp_path):
    """A 7,000-token system prompt was estimated at $0.03 for a run that cost $0.195."""
    from backends.openai import OpenAIBackend
    from harness.calls.budget import Pricer
    from harness.domain.dataset import resolve_examples
    from harness.domain.scenario import load_scenario
    from harness.domain.tokens import count_text_tokens
    from harness.running.options import settings_for
    from harness.running.plan import make_plan
    from harness.store.run_files import RunOptions

    long = " ".join(["The valley is mild and the rivers run clear."] * 700)
    path = scenario_with(tmp_path, lambda doc: doc.update(system_prompt=long))
    options = RunOptions(backend="openai", samples=50, conditions=["base"])
    sc = load_scenario(path)
    plan = make_plan(
        sc, resolve_examples(sc, path.parent), settings_for(sc, options), options, Pricer.of(OpenAIBackend)
    )
    system = count_text_tokens(long, "gpt-4o-mini-2024-07-18")
    assert system > 6000
    assert plan.inference_cost is not None and plan.inference_cost >= plan.probe_calls * system * 0.15e-6
    shown = invoke("run", path, "--backend", "openai", "--samples", "50", "--conditions", "base", "--dry-run")
    printed = float(re.search(r"inference \$([0-9.]+)", shown.output).group(1))
    assert printed >= 400 * system * 0.15e-6 - 0.005, shown.output  # 8 probes x 50 samples, each with it


def test_simulate_accepts_a_bracketed_ipv6_loopback():
    """`simulate --host '[::1]'` failed with [Errno -2]: the brackets belong to URLs."""
    from backends.simulator.server import Simulator

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with Simulator(host="[::1]") as sim:
        assert sim.url.startswith("http://[::1]:")


def test_simulate_names_a_host_it_cannot_serve_on(monkeypatch):
    result = invoke("simulate", "--host", "no-such-host.invalid", "--allow-remote", "--port", "0")
    one_error(result, "cannot serve the simulator on no-such-host.invalid")


def test_a_sweep_cell_is_capped_by_what_remains_of_the_sweep_budget():
    """A cell whose provider over-reported training tokens spent past its share; the cells
    after it get what remains, never the sweep more than --max-cost."""
    from harness.sweeps.runner import SweepBudget

    budget = SweepBudget(10.0, {"a": 4.0, "b": 3.0, "c": 3.0}, spent={})
    assert budget.cap_for("a") == 4.0
    budget.finished("a", 8.5)  # over its share
    assert budget.cap_for("b") == 1.5  # what remains, not its share of 3
    budget.finished("b", 1.5)
    assert budget.cap_for("c") == 0.0
    # A resumed sweep counts what its cells spent before: a (finished) 6.5, b (resumed) running.
    resumed = SweepBudget(10.0, {"a": 4.0, "b": 3.0, "c": 3.0}, spent={"a": 6.5, "b": 1.0})
    assert resumed.cap_for("b") == 3.0  # its own 1.0 is inside its cap
    assert resumed.cap_for("c") == pytest.approx(10.0 - 6.5 - 3.0)


def test_parallel_sweep_cells_share_the_budget():
    from harness.sweeps.runner import SweepBudget

    budget = SweepBudget(6.0, {k: 2.0 for k in "abcd"}, spent={})
    caps: dict[str, float] = {}

    def cell(k):
        caps[k] = budget.cap_for(k)
        time.sleep(0.01)
        budget.finished(k, caps[k])

    threads = [threading.Thread(target=cell, args=(k,)) for k in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(caps.values()) <= 6.0 + 1e-9
