"""Shared test settings. Drawing matplotlib charts costs about a second per report; tests
about runs, resumes, faults and replays check numbers and files, not pictures, so they get
a placeholder PNG. Tests marked `charts` (the report and screenshot tests) draw for real."""

import pytest

PLACEHOLDER_PNG = b"\x89PNG\r\n\x1a\n"
PLACEHOLDER_SVG = b"<svg xmlns='http://www.w3.org/2000/svg'/>"


def pytest_configure(config):
    config.addinivalue_line("markers", "charts: draw real matplotlib charts in this test")


@pytest.fixture(autouse=True)
def _placeholder_charts(request, monkeypatch):
    if request.node.get_closest_marker("charts"):
        return
    from harness.reports import figures, plots

    for name in ("grades_chart", "confusion_chart"):
        monkeypatch.setattr(plots, name, lambda *a, **k: PLACEHOLDER_PNG)
    placeholder = figures.Drawn(PLACEHOLDER_PNG, PLACEHOLDER_SVG)
    for name in ("headline_figure", "effects_figure", "position_figure"):
        monkeypatch.setattr(figures, name, lambda *a, **k: placeholder)
