"""Report wording a reader can trust: mechanism+ is defined wherever it is shown, no two
adjacent columns named "wrong word" and "wrong words", a chart caption promises intervals
only where they are drawn, no header row of empty cells, and the title does not read
"SIMULATED: Report:"."""

import re

import pytest

from tests.helpers import SCENARIOS, invoke

EMPTY_MD_HEADER = re.compile(r"^\|(\s*\|)+\s*$", re.M)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wording") / "run"
    result = invoke("run", SCENARIOS / "helol.yaml", "--samples", "2", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_title_and_header_rows(run):
    out, _ = run
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    titles = [line for line in md.splitlines() if line.startswith("# ")]
    assert titles == ["# Report: helol (HELOL), SIMULATED"]
    assert "SIMULATED: Report" not in md and "SIMULATED: Report" not in html
    assert not EMPTY_MD_HEADER.search(md), EMPTY_MD_HEADER.search(md)
    assert "<th></th>" not in html


def test_mechanism_plus_is_defined_wherever_it_is_shown(run, tmp_path):
    out, console = run
    compare = invoke("compare", out, out).output
    texts = {
        "console": console,
        "report.md": (out / "report.md").read_text(),
        "report.html": (out / "report.html").read_text(),
        "compare": compare,
    }
    assert "mechanism+" in texts["report.md"] and "mechanism+" in texts["report.html"]
    for name, text in texts.items():
        if "mechanism+" in text:
            assert "mechanism or exact" in text, name


def test_no_adjacent_wrong_word_columns(run):
    out, _ = run
    md = (out / "report.md").read_text()
    header = next(
        line for line in md.splitlines() if line.startswith("| condition | probe | style | n | failed | none")
    )
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert "wrong words" not in cells and cells.count("names another word (which)") == 1


def test_chart_captions_promise_intervals_only_where_drawn(run):
    out, _ = run
    html = (out / "report.html").read_text()
    captions = re.findall(r"<figcaption class='note'>(.*?)</figcaption>", html)
    assert captions
    for caption in captions:
        if caption.startswith("Articulation grades"):
            assert "no intervals" in caption, caption
        else:  # the figures draw the tables' intervals
            assert "95% interval" in caption or caption.startswith(("Effects", "The first letter")), caption
