"""Chinese renders: in the figures (matplotlib with a CJK font) and in the HTML report (Chromium
with the template's font stack), checked without OCR — two different hanzi must draw different
pixels, and neither may look like the box drawn for a character no font has (tofu).

CI installs Debian's fonts-noto-cjk (.ci/run); without a CJK font these tests skip, which CI
counts as a failure (tests/conftest.py).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

import reports.html as html_report
from reports.html import Report, Section, Table, cjk_font, zh

#: A private-use character: no font has a glyph for it, so it draws as the missing-glyph box.
NO_GLYPH = "\ue000"
needs_font = pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed (Debian: fonts-noto-cjk)")


def _glyph_pixels(text: str) -> bytes:
    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(1, 1), dpi=60)
    fig.text(0.1, 0.2, text, fontsize=30)
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=60)
    plt.close(fig)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8).tobytes()


@needs_font
@pytest.mark.filterwarnings("ignore:Glyph 57344")  # the missing-glyph box is drawn on purpose
def test_figures_draw_hanzi_not_boxes() -> None:
    a, b, box = _glyph_pixels("按"), _glyph_pixels("期"), _glyph_pixels(NO_GLYPH)
    assert a != b, "two different hanzi drew the same pixels: both are missing-glyph boxes"
    assert box not in (a, b)


@needs_font
def test_labels_are_chinese_with_english_beside() -> None:
    assert zh("按期办结率", "on-time rate") == "按期办结率 on-time rate"


def test_without_a_cjk_font_labels_are_english_and_the_console_says_once_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(html_report, "cjk_font", lambda: None)
    html_report._hint_once.cache_clear()
    assert zh("按期办结率", "on-time rate") == "on-time rate"
    assert zh("超期", "overdue") == "overdue"
    err = capsys.readouterr().err
    assert err.count("apt-get install fonts-noto-cjk") == 1
    html_report._hint_once.cache_clear()


CANVAS_JS = """() => {
  const font = '40px ' + getComputedStyle(document.body).fontFamily;
  const draw = (ch) => {
    const c = document.createElement('canvas'); c.width = 60; c.height = 60;
    const g = c.getContext('2d'); g.font = font; g.fillStyle = '#000'; g.fillText(ch, 5, 45);
    return c.toDataURL();
  };
  return {a: draw('按'), b: draw('期'), box: draw('\\ue000'), font: font};
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_html_report_renders_hanzi_in_chromium(tmp_path: Path) -> None:
    chromium = os.environ.get("GRIDTWIN_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium} (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "r.html"
    report = Report("运行报告 run report")
    report.add(Section("按期办结率 on-time rate", ["应下尽下"], [Table(["指标", "值"], [["按期办结率", 0.99]])]))
    report.write(page_file)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            got = page.evaluate(CANVAS_JS)
            page.screenshot(path=str(tmp_path / "report.png"))
        finally:
            browser.close()
    assert "Noto Sans CJK SC" in got["font"]
    assert got["a"] != got["b"], "two different hanzi drew the same pixels: both are missing-glyph boxes"
    assert got["box"] not in (got["a"], got["b"])
