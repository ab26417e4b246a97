"""A backend from another distribution plugs in through the `harness.backends` entry-point
group. tests/plugin holds a toy chat-only provider (echo_provider) and the dist-info an
installer would have written for it, so putting that folder on PYTHONPATH is exactly what
installing the package would do: a fresh interpreter discovers it, nothing is pip-installed."""
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import backends
from backends.base import BackendError, ChatRequest, JobSpec
from tests.helpers import ROOT

PLUGIN = ROOT / "tests" / "plugin"
SCENARIO = ROOT / "scenarios" / "helol.yaml"


def harness(*args: str, cwd: Path, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter with the plugin 'installed' (on PYTHONPATH),
    from a directory outside the repository."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGIN), str(ROOT)]))
    return subprocess.run([sys.executable, *python_flags, "-m", "harness.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_entry_point_backend_is_listed(tmp_path):
    result = harness("backends", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "echo" in lines and "mock" in lines and "openai" in lines
    echo = lines["echo"]
    assert "chat" in echo and "fine_tune" not in echo
    assert "echo_provider:EchoBackend" in echo and "(simulated)" in echo


@pytest.mark.slow
def test_a_chat_only_plugin_runs_base_and_in_context_conditions(tmp_path):
    out = tmp_path / "run"
    # -X importtime lists every module imported: the echo path must not pull in litellm (~2 s).
    result = harness("run", str(SCENARIO), "--backend", "echo", "--conditions", "base,in_context",
                     "--samples", "2", "--out", str(out), cwd=tmp_path, python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-3000:]
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert imported and not any(name.split(".")[0] == "litellm" for name in imported)

    records = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert {r["condition"] for r in records} == {"base", "in_context"}
    assert {r["sample"] for r in records} == {0, 1}
    per_condition = [sum(r["condition"] == c for r in records) for c in ("base", "in_context")]
    assert per_condition[0] == per_condition[1] > 0
    for r in records:  # the echo answer is the prompt as sent, so the plugin really answered
        assert r["status"] == "ok" and r["text"] == "echo: " + r["prompt"], r

    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "echo" and summary["simulated"] is True
    assert {cell["condition"] for cell in summary["cells"]} == {"base", "in_context"}


def test_fine_tuning_on_a_chat_only_plugin_is_refused_before_any_run_directory(tmp_path):
    # helol's default conditions include fine_tuned, and the default run directory is under cwd.
    result = harness("run", str(SCENARIO), "--backend", "echo", "--samples", "2", cwd=tmp_path)
    assert result.returncode == 2
    assert "backend 'echo' cannot fine-tune" in result.stderr
    assert "--conditions base,in_context" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


# --- in-process: the registry and the provider itself -------------------------------------

def write_distribution(where: Path, name: str, entry_points: dict[str, str]) -> None:
    """What an installer leaves on sys.path for a package declaring harness.backends entry points."""
    info = where / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("[harness.backends]\n" + "\n".join(lines) + "\n")


def test_an_entry_point_cannot_shadow_a_builtin(tmp_path, monkeypatch):
    write_distribution(tmp_path, "shadowing", {"mock": "echo_provider:EchoBackend",
                                               "openai": "echo_provider:EchoBackend",
                                               "echo2": "echo_provider:EchoBackend"})
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = backends.registered()
    assert found["mock"] == backends.BUILTIN["mock"] and found["openai"] == backends.BUILTIN["openai"]
    assert found["echo2"] == "echo_provider:EchoBackend"  # new names are welcome
    assert list(found)[:len(backends.BUILTIN)] == list(backends.BUILTIN)  # built-ins listed first
    from backends.mock import MockBackend
    assert backends.load_class("mock") is MockBackend
    assert backends.load_class("echo2").__name__ == "EchoBackend"


def test_a_registered_but_broken_plugin_is_a_clear_error(tmp_path, monkeypatch):
    write_distribution(tmp_path, "broken", {"nomodule": "no_such_module_xyz:X",
                                            "noclass": "echo_provider:NoSuchClass"})
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    from click.testing import CliRunner

    from harness.cli.main import main
    for name, why in (("nomodule", "No module named 'no_such_module_xyz'"), ("noclass", "NoSuchClass")):
        result = CliRunner().invoke(main, ["run", str(SCENARIO), "--backend", name, "--out", str(tmp_path / name)])
        assert result.exit_code == 2, result.output
        assert f"backend {name!r} is registered as" in result.output and why in result.output
        assert "Traceback" not in result.output and not (tmp_path / name).exists()


def test_without_the_distribution_the_name_is_unknown():
    from backends.base import ConfigError
    assert "echo" not in backends.registered()  # the suite itself does not put tests/plugin on sys.path
    with pytest.raises(ConfigError, match="unknown backend 'echo'; known backends: .*mock"):
        backends.load_class("echo")


def test_the_echo_provider_answers_and_refuses_fine_tuning(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN))
    # The runner passes its usual options; a class with OPTIONS = () receives none of them.
    echo = backends.create("echo", api_base="http://x", state_path=Path("unused"), slip_rate=0.1)
    assert echo.name == "echo" and echo.capabilities == frozenset({"chat"}) and echo.simulated
    request = ChatRequest(model="m", messages=[{"role": "system", "content": "s"},
                                               {"role": "user", "content": "first"},
                                               {"role": "assistant", "content": "a"},
                                               {"role": "user", "content": "What is HELOL?"}])
    completion = asyncio.run(echo.complete(request))
    assert completion.text == "echo: What is HELOL?" and completion.model == "m"
    assert completion.prompt_tokens == 6 and completion.completion_tokens == 4
    assert echo.find_jobs({"run": "x"}) == []
    for call in (lambda: echo.upload_training_file(b"{}", "train.jsonl"),
                 lambda: echo.create_job(JobSpec(base_model="m", training_file="f")),
                 lambda: echo.get_job("j"), lambda: echo.list_events("j"), lambda: echo.cancel_job("j")):
        with pytest.raises(BackendError, match="cannot fine-tune") as caught:
            call()
        assert caught.value.retryable is False
