"""No command writes into a run directory, or over a cassette, that it did not create (a
cassette only with --force), and an error names the user's path, never a temporary one.
Before: `export RUN --out RUN/responses.jsonl` exited 0 and overwrote the run's own records;
`--record` onto an existing cassette replaced it and its sidecar without asking; a
directory in summary.json's place was reported as `.summary.json.<pid>.tmp: Is a directory`."""

import shutil

import pytest

from backends.simulator.server import Simulator
from tests.helpers import ROOT, invoke

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert invoke("run", ROOT / "scenarios/helol.yaml", "--samples", "1", "--out", out).exit_code == 0
    return out


def files_of(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def one_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], result.output


@pytest.mark.parametrize("target", ["responses.jsonl", "new.csv", "sub/deeper/x.csv"])
def test_export_refuses_a_target_inside_a_run_directory(run_dir, target):
    before = files_of(run_dir)
    result = invoke("export", run_dir, "--out", run_dir / target)
    one_error(result, "is inside the run directory", "export --out writes only outside run directories")
    assert files_of(run_dir) == before


def test_export_elsewhere_still_works(run_dir, tmp_path):
    result = invoke("export", run_dir, "--out", tmp_path / "samples.csv")
    assert result.exit_code == 0 and (tmp_path / "samples.csv").read_text().count("\n") > 1


def test_compare_build_and_new_refuse_a_target_inside_a_run_directory(run_dir):
    before = files_of(run_dir)
    one_error(invoke("compare", run_dir, run_dir, "--out", run_dir / "report.md"), "compare --out")
    one_error(invoke("build", ROOT / "scenarios/helol.yaml", "--out", run_dir), "build --out")
    one_error(invoke("new", "HELLO", "--offline", "--out", run_dir / "s.yaml"), "new --out")
    one_error(invoke("run", ROOT / "scenarios/helol.yaml", "--out", run_dir / "nested"), "--out writes only outside")
    assert files_of(run_dir) == before


def test_an_error_names_the_users_path_not_a_temporary_one(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    for name in ("summary.json", "report.md"):
        (copy / name).unlink()
        (copy / name).mkdir()
        result = invoke("report", copy)
        one_error(result, f"{copy / name}: Is a directory")
        assert ".tmp" not in result.output
        (copy / name).rmdir()
        assert invoke("report", copy).exit_code == 0
    assert not [p for p in copy.iterdir() if p.name.endswith(".tmp")]


def test_record_refuses_an_existing_cassette_without_force(tmp_path):
    cassette = tmp_path / "c.yaml"
    cassette.write_text("precious: true\n")
    (tmp_path / "c.meta.yaml").write_text("recorded_against: simulator\n")
    args = ["--backend", "openai", "--api-base", "http://127.0.0.1:9/v1", "--conditions", "base", "--samples", "1"]
    result = invoke("run", ROOT / "scenarios/helol.yaml", *args, "--record", cassette, "--out", tmp_path / "o")
    one_error(result, f"{cassette}: already exists", "--force")
    assert cassette.read_text() == "precious: true\n" and not (tmp_path / "o").exists()
    cassette.unlink()  # the sidecar alone is protected too
    result = invoke("run", ROOT / "scenarios/helol.yaml", *args, "--record", cassette, "--out", tmp_path / "o")
    one_error(result, "c.meta.yaml: already exists")
    teacher = invoke("new", "QZXJV", "--teacher", "gpt-4o-mini-2024-07-18", "--record", tmp_path / "c.meta.yaml")
    assert teacher.exit_code == 2


@pytest.mark.slow
def test_record_with_force_replaces_the_cassette_and_its_sidecar(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-force-0123456789")
    cassette = tmp_path / "c.yaml"
    cassette.write_text("precious: true\n")
    (tmp_path / "c.meta.yaml").write_text("recorded_against: simulator\n")
    with Simulator() as sim:
        args = ["--backend", "openai", "--api-base", sim.url, "--conditions", "base", "--samples", "1"]
        result = invoke(
            "run", ROOT / "scenarios/helol.yaml", *args, "--record", cassette, "--force", "--out", tmp_path / "o"
        )
    assert result.exit_code == 0, result.output
    assert "interactions:" in cassette.read_text() and "command:" in (tmp_path / "c.meta.yaml").read_text()
