"""The shared HTML report builder produces one self-contained, deterministic page."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from reports.html import Report, Section, Table, figure


def _report() -> Report:
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 3, 2])
    r = Report("Run 运行报告", meta={"seed": 7, "scenario": "street"})
    r.add(Section("Backlog", ["Open cases <over> time"], [Table(["k", "v"], [["x", 0.123456], ["y", None]])],
                  [figure(fig, "backlog", "Backlog")]))
    return r


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    path = _report().write(tmp_path / "report.html", figures_dir=tmp_path / "figures")
    text = path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text
    assert "Open cases &lt;over&gt; time" in text  # user text is escaped
    assert "0.1235" in text and "—" in text
    assert (tmp_path / "figures" / "backlog.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text  # nothing fetched from elsewhere


def test_report_is_deterministic() -> None:
    assert _report().render() == _report().render()
