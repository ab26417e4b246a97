"""A run directory someone tampered with: a file that is a symbolic link, a FIFO or nested
too deeply is one exit-2 line; records are never appended through a link (before: a
responses.jsonl linked elsewhere had records appended to its target)."""

import json
import os
import time

import pytest

from harness.errors import StoreError
from harness.store.files import append_jsonl, read_jsonl_lines
from tests.helpers import SCENARIOS, invoke


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    result = invoke("run", SCENARIOS / "helol.yaml", "--samples", "1", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def copy_run(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_append_never_goes_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    link = tmp_path / "responses.jsonl"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="is a symbolic link"):
        append_jsonl(link, {"a": 1})
    assert target.read_text() == ""


@pytest.mark.parametrize("name", ["responses.jsonl", "manifest.json", "state.json"])
def test_a_run_file_that_is_a_symlink_is_refused(finished_run, tmp_path, name):
    run = copy_run(finished_run, tmp_path / "run")
    target = tmp_path / f"real-{name}"
    (run / name).rename(target)
    (run / name).symlink_to(target)
    before = target.read_bytes()
    for command in ("status", "resume", "report"):
        result = invoke(command, run)
        assert result.exit_code == 2, (command, result.output)
        assert f"{run / name}: is a symbolic link" in result.output and len(result.output.strip().splitlines()) == 1
    assert target.read_bytes() == before


def test_a_fifo_in_place_of_a_run_file_is_refused_at_once(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    (run / "state.json").unlink()
    os.mkfifo(run / "state.json")
    start = time.monotonic()
    result = invoke("status", run)
    assert result.exit_code == 2 and "state.json: is not a regular file" in result.output, result.output
    assert time.monotonic() - start < 5


def test_a_deeply_nested_record_line_is_named(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    with open(run / "responses.jsonl", "a") as f:
        f.write('{"x": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    lines = len((run / "responses.jsonl").read_text().splitlines())
    result = invoke("status", run)
    assert result.exit_code == 2, result.output
    assert f"responses.jsonl:{lines}: nested more than 64 levels deep" in result.output


def test_a_deeply_nested_manifest_is_unreadable_not_a_traceback(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    (run / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    result = invoke("report", run)
    assert result.exit_code == 2 and "manifest.json: unreadable: nested more than 64 levels deep" in result.output


def test_torn_lines_are_still_dropped_not_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"a": 1}) + "\n" + '{"b": [1, 2')
    assert read_jsonl_lines(path) == ([(1, {"a": 1})], 1)
