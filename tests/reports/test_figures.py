"""The figures draw what the tables say, for print: PNG and SVG, the same bytes for the same
numbers, Okabe-Ito colours, text kept as text in the SVG, no legend inside the axes."""

import xml.etree.ElementTree as ET

import pytest

from harness.analysis.metrics import METRICS, fmt_diff
from harness.reports import figures
from harness.reports.write import draw_figures
from harness.store.summary import Summary
from tests.helpers import SCENARIOS, invoke

OKABE_ITO = {"#0072b2", "#000000", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442"}


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures") / "run"
    assert invoke("run", SCENARIOS / "helol.yaml", "--samples", "6", "--out", out).exit_code == 0
    return Summary.model_validate_json((out / "summary.json").read_text())


@pytest.mark.charts
def test_figures_are_png_and_svg_and_repeat_byte_for_byte(summary):
    drawn = draw_figures(summary)
    assert set(drawn) == {"headline", "effects", "positions"}
    for d in drawn.values():
        assert d.png[:8] == b"\x89PNG\r\n\x1a\n"
        ET.fromstring(d.svg)  # well-formed
    again = draw_figures(summary)
    assert all(again[k].png == drawn[k].png and again[k].svg == drawn[k].svg for k in drawn)


@pytest.mark.charts
def test_the_figures_say_what_the_tables_say(summary):
    drawn = draw_figures(summary)
    headline = drawn["headline"].svg.decode()
    for metric in ("follow", "mechanism_or_better", "exact", "one_line", "word_correct"):
        assert METRICS[metric].short in headline  # one panel per headline metric
    effects = drawn["effects"].svg.decode()
    for e in summary.effects:
        if e.a == "fine_tuned":  # each effect with its interval and mark, as the report prints it
            assert fmt_diff(e.diff, e.low, e.high, e.p, e.p_holm, unit="") in effects
    colours = {c.lower() for svg in (headline, effects) for c in _colours(svg)}
    drawn_colours = colours - {"#ffffff", "#444444", "#b0b0b0", "#b30000", "#888888", "#000000"}
    assert drawn_colours and drawn_colours <= OKABE_ITO, drawn_colours


def _colours(svg: str) -> list[str]:
    import re

    return re.findall(r"(?:stroke|fill)[:=]\s*\"?(#[0-9a-fA-F]{6})", svg)


@pytest.mark.charts
def test_the_position_legend_sits_outside_the_data(summary, monkeypatch):
    seen = {}
    real_save = figures._save

    def keep(fig):
        ax = fig.axes[0]
        legend = ax.get_legend()
        renderer = fig.canvas.get_renderer()
        seen["legend"] = legend.get_window_extent(renderer)
        seen["axes"] = ax.get_window_extent(renderer)
        return real_save(fig)

    monkeypatch.setattr(figures, "_save", keep)
    figures.position_figure(summary)
    assert seen["legend"].y0 >= seen["axes"].y1 - 1  # above the plotting area, not over the bars
