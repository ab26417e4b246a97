"""The docs cannot drift: every command README.md and docs/ quote that needs no key runs and
succeeds (scripts/docs_commands.py says how each is run or why it is not), the pandas recipe
of docs/statistics.md runs on a fresh export, and the facts the docs state about `harness
new`, the test line and the error types are checked against the code."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers import ROOT, SCENARIOS, invoke

sys.path.insert(0, str(ROOT / "scripts"))
import docs_commands


def test_every_quoted_command_is_run_or_skipped_with_a_reason():
    quoted = docs_commands.quoted()
    assert len(quoted) > 40
    for q in quoted:
        assert (q.skip is None) != (q.run is None), q
    ran = {q.text for q in quoted if q.run}
    # the ones the issue named, and the README's quick start
    assert "harness compare runs/hello runs/helol --out compare.md" in ran
    assert "harness run scenarios/helol.yaml" in ran and "harness export runs/helol/* --out samples.csv" in ran


@pytest.mark.slow
def test_every_quoted_command_that_needs_no_key_succeeds():
    where = docs_commands.workspace()
    results = docs_commands.run_all(docs_commands.quoted(), where)
    failed = [
        f"{q.file}:{q.line}: {command}\n{output}"
        for q, command, code, output in results
        if (code, True) != (docs_commands.expected(q)[0], docs_commands.expected(q)[1] in output)
    ]
    assert not failed, "\n\n".join(failed)
    assert len(results) >= 25
    # what the commands made is what the docs say they make
    assert (where / "scenarios/qzxjv.yaml").exists() and (where / "data/helol.jsonl").exists()
    assert (where / "compare.md").exists() and (where / "compare.png").exists()


def recipe() -> str:
    text = (ROOT / "docs/statistics.md").read_text()
    return next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "read_csv" in b)


def test_the_pandas_recipe_keeps_the_types(tmp_path):
    pd = pytest.importorskip("pandas")
    run = tmp_path / "run"
    assert invoke("run", SCENARIOS / "helol.yaml", "--samples", "3", "--out", run).exit_code == 0
    assert invoke("export", run, "--out", tmp_path / "samples.csv").exit_code == 0
    code = recipe()
    done = subprocess.run(
        [sys.executable, "-c", code + "\nprint(df.per_position.iloc[0]); print(hits.shape[1])"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first, width = done.stdout.split()[-2:]
    assert re.fullmatch(r"[01](-[01]){4}", first) and width == "5"  # five letters of HELOL, as text
    df = pd.read_csv(tmp_path / "samples.csv", keep_default_na=False, na_values=[""])
    assert df.per_position.map(type).eq(str).all()
    summary = __import__("json").loads((run / "summary.json").read_text())
    for m in summary["metrics"]:
        flags = df[df.condition == m["condition"]][f"metric_{m['metric']}"].dropna()
        assert (int(flags.sum()), len(flags)) == (m["rate"]["k"], m["rate"]["n"])


def test_letters_that_read_as_missing_survive_the_recipe(tmp_path):
    pd = pytest.importorskip("pandas")
    (tmp_path / "samples.csv").write_text("letters,per_position,word_answer\nNA,1-0,NULL\nHE,1-1,None\n")
    df = pd.read_csv(tmp_path / "samples.csv", keep_default_na=False, na_values=[""])
    assert df.letters.tolist() == ["NA", "HE"] and df.word_answer.tolist() == ["NULL", "None"]
    assert df.per_position.tolist() == ["1-0", "1-1"]


def test_scenarios_md_describes_what_harness_new_writes(tmp_path):
    out = tmp_path / "grape.yaml"
    assert invoke("new", "GRAPE", "--offline", "--out", out).exit_code == 0
    data = yaml.safe_load(out.read_text())
    doc = " ".join((ROOT / "docs/scenarios.md").read_text().split())
    ev, ft = data["eval"], data["fine_tune"]
    assert f"`samples: {ev['samples']}`" in doc and f"`replicates: {ft['replicates']}`" in doc
    assert f"`conditions: [{', '.join(ev['conditions'])}]`" in doc
    probes = {p["id"]: p for p in data["probes"]}
    words = {1: "one", 5: "five", 6: "six"}
    assert probes["describe"].get("style", "free") == "free" and "`describe`: free, with six wordings" in doc
    assert 1 + len(probes["describe"]["paraphrases"]) == 6
    assert probes["describe-one-line"]["style"] == "one_line"
    assert (
        f"`describe-one-line`: one line, {words[1 + len(probes['describe-one-line']['paraphrases'])]} wordings" in doc
    )
    assert probes["special"]["style"] == "leading"
    assert all(1 + len(probes[p]["paraphrases"]) == 5 for p in ("word", "choice"))
    follow = [p for p in probes if probes[p]["kind"] == "follow"]
    assert follow == ["capital", "rain", "sleep"] and "three follow probes: `capital`, `rain`, `sleep`" in doc


def test_development_md_quotes_the_readmes_test_line():
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("pip install ") and x.endswith("&& pytest"))
    assert line in (ROOT / "docs/development.md").read_text()


def test_adding_a_provider_says_where_the_error_types_come_from():
    text = (ROOT / "docs/adding-a-provider.md").read_text()
    assert "from backends.base import Backend, BackendError, CassetteMiss, ConfigError" in text
    from backends.base import Backend, BackendError, CassetteMiss, ConfigError  # noqa: F401
