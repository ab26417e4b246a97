"""The streamed reports are the reports main wrote when it held every record.

tests/data/streaming/run is a mock run (helol, 4 samples, 2 fine-tunes, a judge) whose
responses.jsonl was shuffled and given a retried failure, a failure never answered, a
permanent one, two ok answers to one key (ties go by content), a truncated and a recounted
answer and a torn last line. tests/data/streaming/expected holds what `harness report`,
`export` and `compare` wrote from it before any path streamed (summary.json and report.md
whole, the rest by sha256): every byte must stay the same (report.html's figures aside)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from harness.analysis.summary import SHOWN, summarize_with_tallies
from harness.reports.write import run_info
from harness.running import reading
from harness.store.run_dir import RunStore
from tests.helpers import ROOT, invoke

DATA = ROOT / "tests" / "data" / "streaming"
EXPECTED = DATA / "expected"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expected_sha() -> dict[str, str]:
    return {name: sha for sha, name in (line.split() for line in (EXPECTED / "sha256.txt").read_text().splitlines())}


@pytest.fixture
def fx(tmp_path, monkeypatch) -> Path:
    """The run copied to ./fx (export writes the path it was given into every row)."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(DATA / "run", tmp_path / "fx")
    return Path("fx")


def test_report_is_byte_identical_to_the_one_made_from_every_record(fx):
    result = invoke("report", fx)
    assert result.exit_code == 0, result.output
    assert (fx / "summary.json").read_bytes() == (EXPECTED / "summary.json").read_bytes()
    assert (fx / "report.md").read_bytes() == (EXPECTED / "report.md").read_bytes()
    # The figures' PNG bytes depend on the machine's fonts: the page around them must not change.
    page = re.sub(
        rb"data:image/png;base64,[A-Za-z0-9+/=]+", b"data:image/png;base64,", (fx / "report.html").read_bytes()
    )
    assert page.count(b"data:image/png") == 5
    assert hashlib.sha256(page).hexdigest() == _expected_sha()["report.html-without-figures"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_is_byte_identical(fx, fmt):
    result = invoke("export", fx, "--format", fmt, "--out", f"export.{fmt}")
    assert result.exit_code == 0, result.output
    assert _sha(Path(f"export.{fmt}")) == _expected_sha()[f"export.{fmt}"]
    # To stdout, the same bytes.
    result = invoke("export", fx, "--format", fmt)
    assert result.exit_code == 0
    assert hashlib.sha256(result.stdout_bytes).hexdigest() == _expected_sha()[f"export.{fmt}"]


def test_compare_is_byte_identical(fx):
    shutil.copytree(fx, "run_a")
    shutil.copytree(fx, "run_b")
    result = invoke("compare", "run_a", "run_b", "--out", "compare.md")
    assert result.exit_code == 0, result.output
    assert _sha(Path("compare.md")) == _expected_sha()["compare.md"]


def test_status_counts_the_streamed_answers(fx):
    st = reading.status(fx)
    # 160 planned; 2 failed and never answered (a 429 and a 404); the retried one is done.
    assert (st.done, st.failed, st.total, st.torn, st.recounted) == (158, 2, 160, 1, 1)


def test_in_memory_and_streamed_summaries_agree(fx):
    """summarize() on a list (tests, old callers) and the run's streamed report are one path."""
    store = RunStore(fx)
    manifest, state = store.read_manifest(), store.read_state()
    info = run_info(manifest, state, store.events())
    records, _ = store.responses()
    summary, _ = summarize_with_tallies(
        manifest.scenario, records, info, store.verdicts()[0], store.cross_predictions()[0], store.logprobs()[0]
    )
    expected = json.loads((EXPECTED / "summary.json").read_text())
    got = summary.to_json()
    expected.pop("token_counts", None)  # the run's report adds the note; summarize alone does not
    assert got == expected


def test_a_report_keeps_only_the_transcripts_it_shows(tmp_path):
    """The Digest keeps SHOWN ok answers per condition x probe, however many there are."""
    from harness.analysis.summary import Digest
    from harness.domain.scenario import load_scenario
    from tests.helpers import response

    scenario = load_scenario(ROOT / "scenarios" / "helol.yaml")
    digest = Digest(scenario, ["base"])
    probe = next(p for p in scenario.probes if p.kind == "follow")
    for i in range(3 * SHOWN):
        digest.add(response("base", probe.id, "follow", i, "Hello\nEvery\nLine"))
    kept = digest.shown.transcripts[("base", probe.id)]
    assert len(kept) == SHOWN and [r.sample for r, _ in kept] == list(range(SHOWN))
    summary, _ = digest.summarize(run_info_for(scenario))
    cell = next(c for c in summary.cells if c.probe == probe.id and c.condition == "base")
    assert cell.n == 3 * SHOWN  # counted, all of them


def run_info_for(scenario):
    from harness.analysis.summary import RunInfo

    return RunInfo(
        backend="mock", simulated=True, models={"base": "m"}, samples=3 * SHOWN, temperature=1.0, seed=0,
        scenario_hash=scenario.hash(), conditions=["base"],
    )  # fmt: skip
