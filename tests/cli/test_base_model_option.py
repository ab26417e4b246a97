"""`--base-model NAME` replaces the scenario's fine_tune.base_model for any backend: the job is
created on it, the base and in_context conditions probe it, and the manifest records it."""

import json

from click.testing import CliRunner

from harness.cli.main import main
from harness.store.run_dir import RunStore
from tests.helpers import ROOT


def test_base_model_overrides_the_scenarios_on_the_mock(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(ROOT / "scenarios" / "helol.yaml"),
            "--samples",
            "1",
            "--base-model",
            "gpt-4.1-mini-2025-04-14",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["base_model"] == "gpt-4.1-mini-2025-04-14"
    assert manifest["settings"]["base_model"] == "gpt-4.1-mini-2025-04-14"
    assert manifest["scenario"]["fine_tune"]["base_model"] == "gpt-4o-mini-2024-07-18"  # the scenario is unchanged
    state = RunStore(out).read_state()
    assert all(
        j.fine_tuned_model and j.fine_tuned_model.startswith("ft:gpt-4.1-mini-2025-04-14:mock:") for j in state.jobs
    )
    records = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert {r["model"] for r in records if r["condition"] == "base"} == {"gpt-4.1-mini-2025-04-14"}


def test_without_base_model_the_scenarios_is_used(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["run", str(ROOT / "scenarios" / "helol.yaml"), "--samples", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    model = RunStore(out).read_state().model_of("fine_tuned", 0)
    assert model is not None and model.startswith("ft:gpt-4o-mini-2024-07-18:")
