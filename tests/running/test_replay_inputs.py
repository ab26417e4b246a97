"""A replay's inputs are checked before anything is created: a cassette without its sidecar,
one truncated or with a corrupted body, one with a YAML tag, and a FIFO are each one line,
exit 2, and no run directory (before: "cassette miss: POST /v1/files", vcrpy's ValueError
traceback with a run directory left behind, or "not found" and a run directory)."""

import os
import shutil

import pytest

from tests.helpers import ROOT, invoke

CASSETTE = ROOT / "cassettes/openai/hello.yaml"
TEACHER = ROOT / "cassettes/teacher/qzxjv.yaml"
RUN = [ROOT / "scenarios/hello.yaml", "--backend", "openai", "--samples", "3", "--poll-interval", "0"]


def cassette_copy(tmp_path, source=CASSETTE, sidecar=True):
    path = tmp_path / "c.yaml"
    shutil.copyfile(source, path)
    if sidecar:
        shutil.copyfile(source.with_name(source.stem + ".meta.yaml"), tmp_path / "c.meta.yaml")
    return path


def damaged(tmp_path, how):
    path = cassette_copy(tmp_path)
    text = CASSETTE.read_text()
    if how == "no sidecar":
        (tmp_path / "c.meta.yaml").unlink()
    elif how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "cut at an interaction":
        cut = text.index("- request:", len(text) // 2)
        path.write_text(text[:cut] + "- request:\n    method: POST\n")
    elif how == "corrupted body":
        path.write_text(text.replace('\\"choices\\"', '\\"cho', 1))
    elif how == "yaml tag":
        path.write_text("x: !!python/object/apply:os.system [echo pwned]\n" + text)
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "not a cassette":
        path.write_text("just: a mapping\n")
    elif how == "binary":
        path.write_bytes(b"\x00\xff" * 100)
    elif how == "sidecar not yaml":
        (tmp_path / "c.meta.yaml").write_text("recorded_against: [\n")
    return path


CASES = {
    "no sidecar": "c.meta.yaml: not found: a cassette replays with the sidecar",
    "truncated": "c.yaml:",
    "cut at an interaction": "expected a request and a response (is the cassette cut short?)",
    "corrupted body": "response.body.string: is not valid JSON",
    "yaml tag": "YAML tag: 'tag:yaml.org,2002:python/object/apply:os.system' is not one a cassette may hold",
    "fifo": "c.yaml: is a pipe; give a regular file",
    "not a cassette": "interactions: not a cassette",
    "binary": "c.yaml:1: not UTF-8 text",
    "sidecar not yaml": "c.meta.yaml",
}


@pytest.mark.parametrize("how", sorted(CASES))
def test_a_bad_replay_input_is_one_line_and_creates_nothing(tmp_path, monkeypatch, how):
    monkeypatch.chdir(tmp_path)  # the default run directory would be runs/ here
    cassette = damaged(tmp_path, how)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke("run", *RUN, "--replay", cassette)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and CASES[how] in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no runs/, nothing else
    out = invoke("run", *RUN, "--replay", cassette, "--out", tmp_path / "o")
    assert out.exit_code == 2 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("how", ["no sidecar", "yaml tag", "fifo"])
def test_the_teacher_replay_checks_its_cassette_too(tmp_path, how):
    path = cassette_copy(tmp_path, TEACHER)
    if how == "no sidecar":
        (tmp_path / "c.meta.yaml").unlink()
    elif how == "yaml tag":
        path.write_text("x: !!python/object/new:os.system [ls]\n" + path.read_text())
    else:
        path.unlink()
        os.mkfifo(path)
    out = tmp_path / "new.yaml"
    result = invoke("new", "QZXJV", "--teacher", "gpt-4o-mini-2024-07-18", "--replay", path, "--out", out)
    assert result.exit_code == 2 and result.output.startswith("error: ") and len(result.output.splitlines()) == 1
    assert not out.exists()


def test_a_good_cassette_passes_the_checks(tmp_path):
    from harness.running.replay_input import check_replay

    for source in (CASSETTE, ROOT / "cassettes/openai/helol.yaml", TEACHER):
        assert check_replay(cassette_copy(tmp_path, source))["recorded_against"] == "simulator"
