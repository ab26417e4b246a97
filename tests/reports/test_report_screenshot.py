"""report.html in a real browser: headless Chromium takes a screenshot of the first screen
(1280 x 900), which must show the headline and the headline figure. Skips, with the reason,
where Chromium is not installed, unless HARNESS_REQUIRE_CHROMIUM is set (CI installs
Chromium and sets it, so there the test runs or fails, never skips)."""

import os
import shutil
import subprocess

import pytest

from tests.helpers import ROOT, invoke

HAVE_CHROMIUM = bool(shutil.which("chromium") or shutil.which("chromium-browser"))
REQUIRED = bool(os.environ.get("HARNESS_REQUIRE_CHROMIUM"))
FIGURE_BLUE = (0x00, 0x72, 0xB2)  # the fine-tuned condition's colour in the figures (Okabe-Ito blue)
HEADLINE_BOX = (0xF4, 0xF8, 0xFC)  # the headline's background


def near(pixel, colour, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


@pytest.mark.charts
@pytest.mark.skipif(
    not HAVE_CHROMIUM and not REQUIRED,
    reason="chromium not installed (apt-get install chromium; .ci/run installs it)",
)
def test_report_html_opens_with_the_headline_and_its_figure(tmp_path):
    out = tmp_path / "run"
    args = ["run", ROOT / "scenarios/helol.yaml", "--samples", "4", "--out", out]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    done = subprocess.run(
        [str(ROOT / "scripts/screenshot_report.sh"), str(out), "1280", "900"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    png = out / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image  # matplotlib depends on pillow

    with Image.open(png) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1280, 900)
        raw = rgb.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    assert sum(near(p, HEADLINE_BOX, 2) for p in pixels) > 20_000, "no headline box in the first screen"
    blue = [i // 1280 for i, p in enumerate(pixels) if near(p, FIGURE_BLUE)]
    assert len(blue) > 150, "the headline figure's markers are not in the first screen"
    # the figure sits below the headline's box, inside the first screen
    box_rows = [i // 1280 for i, p in enumerate(pixels) if near(p, HEADLINE_BOX, 2)]
    assert max(blue) > min(box_rows)
