"""A backend from another distribution plugs in through the `harness.backends` entry-point
group. tests/plugin/echo-provider is such a distribution (a pyproject.toml and a toy
chat-only provider, echo_provider): the module fixture installs it for real with pip, offline,
into a folder of its own, and a fresh interpreter with that folder on its path discovers it.
Nothing is installed into the environment running the tests."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import backends
from backends.base import BackendError, ChatRequest, JobSpec
from tests.helpers import ROOT

SOURCE = ROOT / "tests" / "plugin" / "echo-provider"
SCENARIO = ROOT / "scenarios" / "helol.yaml"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Where `pip install` put the echo-provider distribution (a copy is built, so the
    source folder gets no build/ or egg-info)."""
    root = tmp_path_factory.mktemp("plugin")
    shutil.copytree(SOURCE, root / "src")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(root / "site"),
            str(root / "src"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (root / "site" / "echo_provider-0.1.dist-info" / "entry_points.txt").is_file()
    return root / "site"


def harness(site: Path, *args: str, cwd: Path, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter that sees the installed plugin, from a directory
    outside the repository."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_entry_point_backend_is_listed(site, tmp_path):
    result = harness(site, "backends", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "echo" in lines and "mock" in lines and "openai" in lines
    echo = lines["echo"]
    assert "chat" in echo and "fine_tune" not in echo
    assert "echo_provider:EchoBackend" in echo and "(simulated)" in echo


@pytest.mark.slow
def test_a_chat_only_plugin_runs_base_and_in_context_conditions(site, tmp_path):
    out = tmp_path / "run"
    # -X importtime lists every module imported: the echo path must not pull in litellm (~2 s).
    result = harness(
        site,
        "run",
        str(SCENARIO),
        "--backend",
        "echo",
        "--conditions",
        "base,in_context",
        "--samples",
        "2",
        "--out",
        str(out),
        cwd=tmp_path,
        python_flags=("-X", "importtime"),
    )
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


def test_a_plugins_plan_is_priced_by_the_plugin(site, tmp_path):
    # The echo declares a price of 0; OpenAI's table would have priced gpt-4o-mini at ~$0.04 here.
    result = harness(site, "run", str(SCENARIO), "--backend", "echo", "--conditions", "base", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "= inference $0.00" in result.stderr and "estimated total $0.00" in result.stderr


def test_fine_tuning_on_a_chat_only_plugin_is_refused_before_any_run_directory(site, tmp_path):
    # helol's default conditions include fine_tuned, and the default run directory is under cwd.
    result = harness(site, "run", str(SCENARIO), "--backend", "echo", "--samples", "2", cwd=tmp_path)
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


def test_an_entry_point_cannot_shadow_a_builtin(site, tmp_path, monkeypatch):
    write_distribution(
        tmp_path,
        "shadowing",
        {
            "mock": "echo_provider:EchoBackend",
            "openai": "echo_provider:EchoBackend",
            "echo2": "echo_provider:EchoBackend",
        },
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = backends.registered()
    assert found["mock"] == backends.BUILTIN["mock"] and found["openai"] == backends.BUILTIN["openai"]
    assert found["echo2"] == "echo_provider:EchoBackend"  # new names are welcome
    assert list(found)[: len(backends.BUILTIN)] == list(backends.BUILTIN)  # built-ins listed first
    from backends.mock import MockBackend

    assert backends.load_class("mock") is MockBackend
    assert backends.load_class("echo2").__name__ == "EchoBackend"


def test_a_registered_but_broken_plugin_is_a_clear_error(site, tmp_path, monkeypatch):
    write_distribution(tmp_path, "broken", {"nomodule": "no_such_module_xyz:X", "noclass": "echo_provider:NoSuchClass"})
    monkeypatch.syspath_prepend(str(site))
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

    assert "echo" not in backends.registered()  # the plugin is installed into its own folder, never here
    with pytest.raises(ConfigError, match="unknown backend 'echo'; known backends: .*mock"):
        backends.load_class("echo")


def test_the_echo_provider_answers_and_refuses_fine_tuning(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    # The runner passes its usual options; a class with OPTIONS = () receives none of them.
    echo = backends.create("echo", api_base="http://x", state_path=Path("unused"), slip_rate=0.1)
    assert echo.name == "echo" and echo.capabilities == frozenset({"chat"}) and echo.simulated
    request = ChatRequest(
        model="m",
        messages=[
            {"role": "system", "content": "s"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "What is HELOL?"},
        ],
    )
    completion = asyncio.run(echo.complete(request))
    assert completion.text == "echo: What is HELOL?" and completion.model == "m"
    assert completion.prompt_tokens == 6 and completion.completion_tokens == 4
    assert echo.find_jobs({"run": "x"}) == []
    for call in (
        lambda: echo.upload_training_file(b"{}", "train.jsonl"),
        lambda: echo.create_job(JobSpec(base_model="m", training_file="f")),
        lambda: echo.get_job("j"),
        lambda: echo.list_events("j"),
        lambda: echo.cancel_job("j"),
    ):
        with pytest.raises(BackendError, match="cannot fine-tune") as caught:
            call()
        assert caught.value.retryable is False
