"""report.html renders in a real browser: headless Chromium takes a screenshot of it.
Skips (with the reason) where Chromium is not installed."""

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from harness.cli.main import main
from tests.helpers import ROOT


@pytest.mark.charts
@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="chromium not installed (apt-get install chromium)",
)
def test_report_html_renders_in_chromium(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(ROOT / "scenarios/helol.yaml"),
            "--samples",
            "3",
            "--conditions",
            "fine_tuned,base,in_context",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    done = subprocess.run(
        [str(ROOT / "scripts/screenshot_report.sh"), str(out), "1000", "1600"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    png = out / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image  # matplotlib depends on pillow

    with Image.open(png) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert img.size == (1000, 1600)
    assert colours is None or len(colours) > 50, "the page rendered blank"
