"""What every chart shares: the matplotlib style, fonts (CJK for zh-CN), SVG data URIs.

Each chart is embedded as `<img src="data:image/svg+xml;base64,...">`: text is drawn as
paths and the SVG markup never enters the page, so no label from outside can become
markup, and the page's Content-Security-Policy can forbid everything but data: images.
Quantities start their axes at zero and use plain numbers with thousands separators
(no "1e4" offsets).
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.i18n import Language

VALID = "#2b6cb0"
"""Valid, measured or modelled figures (blue)."""
INVALID = "#a0aec0"
"""Invalid phases: drawn grey and hollow, never as valid."""
DISTURBED = "#dd6b20"
"""Disturbed phases (other processes' load): orange."""
IDLE = "#e2e8f0"
"""Idle periods on timelines."""
SAVING = "#38a169"
"""Savings bars."""

_BASE: dict[str, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "finwatt",
    "font.size": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.formatter.useoffset": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Return the name of an installed CJK font matplotlib can use, registering it; or None."""
    for path in font_manager.findSystemFonts():
        name = path.rsplit("/", 1)[-1]
        if "CJK" in name and "Sans" in name and "Bold" not in name:
            font_manager.fontManager.addfont(path)
            family = font_manager.FontProperties(fname=path).get_name()
            if "CJK" in family:
                return family
    return None


def chart_language(lang: Language) -> tuple[Language, bool]:
    """Return the language charts can be drawn in, and whether that is `lang` itself.

    A zh-CN report on a machine without a CJK font draws its charts in English (the
    report says so) rather than as empty boxes.
    """
    if lang.is_cjk and cjk_font() is None:
        from reports.i18n import language

        return language("en"), False
    return lang, True


def style(lang: Language) -> Any:
    """Return the rcParams of a chart in `lang` (a CJK fallback font for zh-CN).

    Typed Any: matplotlib's stubs type rcParams keys as a Literal union; the dict is
    checked at run time.
    """
    rc = dict(_BASE)
    font = cjk_font() if lang.is_cjk else None
    if font is not None:
        rc["font.family"] = ["DejaVu Sans", font]
    return rc


def plain_axis(ax: Axes, axis: str = "y") -> None:
    """Format an axis with plain numbers and thousands separators (no offset, no 1e4)."""
    formatter = FuncFormatter(lambda value, _pos: format(value, ",.6g") if value else "0")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(formatter)


def to_data_uri(fig: Figure) -> str:
    """Return the figure as an SVG data: URI and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
