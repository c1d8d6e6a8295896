"""The one HTML report builder every report uses: sections of text, tables and figures.

A report is a single self-contained HTML file (figures embedded as PNG, CSS inline) so it
can be mailed or archived with its run directory; figures are also saved as PNG files
beside it when a folder is given.

Chinese: the page names a CJK font stack (see the template). Figures label in Chinese with the
English beside it (:func:`zh`) when a CJK font is installed (Debian ``fonts-noto-cjk``, which
``.ci/run`` installs); without one they label in English only, rather than draw empty boxes,
and say once on the console how to install one.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

#: CJK fonts figures may use, preferred first (Simplified Chinese forms before Japanese ones).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans CJK JP", "Source Han Sans", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "SimHei",
)
#: Font files of those families, by file-name fragment, for fonts installed after matplotlib cached its list.
_CJK_FILES = ("notosanscjk", "sourcehansans", "wqy-zenhei", "wqy-microhei")
INSTALL_HINT = (
    "note: figures are labelled in English only because no CJK font is installed; for Chinese labels "
    "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk)"
)


@functools.cache
def cjk_font() -> str | None:
    """The CJK font family the figures use, or None when none is installed.

    Sets it as the fallback after the usual family: Latin text looks as before, Chinese finds its glyphs.
    """
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names.intersection(CJK_FONTS):  # installed after matplotlib built its font cache
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name.lower() for k in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        names = {f.name for f in font_manager.fontManager.ttflist}
    name = next((n for n in CJK_FONTS if n in names), None)
    if name is not None:
        plt.rcParams["font.family"] = [*plt.rcParams["font.family"], name]  # matplotlib falls back along this list
    return name


cjk_font()  # before any figure exists: a Text takes its font family when it is made


@functools.cache
def _hint_once() -> None:
    print(INSTALL_HINT, file=sys.stderr, flush=True)


def zh(chinese: str, english: str) -> str:
    """A figure label: ``"按期办结率 on-time rate"`` with a CJK font, ``"on-time rate"`` without."""
    if cjk_font() is None:
        _hint_once()
        return english
    return f"{chinese} {english}"


_env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]))


@dataclass(frozen=True, slots=True)
class Figure:
    """A rendered figure: a short name (for the PNG file), a title and the PNG bytes."""

    name: str
    title: str
    png: bytes
    caption: str = ""

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


@dataclass(frozen=True, slots=True)
class Table:
    """A table of rows (each a sequence of cells) under column headings."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    paragraphs: Sequence[str] = ()
    tables: Sequence[Table] = ()
    figures: Sequence[Figure] = ()


@dataclass(slots=True)
class Report:
    """Collects sections, then renders them into one HTML page."""

    title: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)

    def add(self, section: Section) -> None:
        self.sections.append(section)

    def render(self) -> str:
        return _env.get_template("report.html.j2").render(
            title=self.title, meta=self.meta, sections=self.sections, fmt=format_cell
        )

    def write(self, path: Path, figures_dir: Path | None = None) -> Path:
        """Write the HTML (and each figure as ``<figures_dir>/<name>.png``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if figures_dir is not None:
            figures_dir.mkdir(parents=True, exist_ok=True)
            for s in self.sections:
                for f in s.figures:
                    (figures_dir / f"{f.name}.png").write_bytes(f.png)
        path.write_text(self.render(), encoding="utf-8")
        return path


def figure(fig: Any, name: str, title: str, caption: str = "", dpi: int = 110) -> Figure:
    """Render a matplotlib figure to PNG and close it (deterministic: no timestamps in the PNG)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return Figure(name=name, title=title, png=buf.getvalue(), caption=caption)


def format_cell(value: Any) -> str:
    """How a table cell reads: floats to 4 significant digits, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.unescape(str(value))
