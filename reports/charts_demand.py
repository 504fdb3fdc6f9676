"""Charts of "When is the capacity used": weekday x hour heatmaps and the load-duration curve.

Both are drawn from a `DemandProfile` (`profiler.analysis.demand`) in the site's local
time. A heatmap cell never observed is hatched grey ("not observed"), never drawn as
zero; the colour bar is the legend. The load-duration curve puts the share of observed
time on x and the load on y, with the provisioned and the recommended capacity as
horizontal lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, Rectangle

from profiler.analysis.demand import DemandProfile
from profiler.model.series import FloatArray
from reports.chart_style import DISTURBED, INVALID, SAVING, VALID, plain_axis, style, to_data_uri
from reports.i18n import N_, Language

DAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
"""Weekday labels, Monday first (the profile's rows)."""


def day_names(lang: Language) -> list[str]:
    """Return the weekday labels, Monday first, in `lang`."""
    return [lang.gettext(d) for d in DAYS]


def heatmap(
    values: FloatArray,
    legend: str,
    title: str,
    lang: Language,
    *,
    cmap: str = "Blues",
    from_zero: bool = True,
) -> str | None:
    """Return a 7 x 24 heatmap (Monday first, hours 0-23) of 168 cell values, or None.

    Args:
        values: the 168 cells of the week (NaN: not observed, hatched grey).
        legend: the colour bar's label (what a colour means, with its unit).
        title: the chart's title.
        lang: the language of the labels.
        cmap: a sequential matplotlib colour map.
        from_zero: the colours start at zero (use); False: at the lowest cell (power,
            whose idle floor would otherwise colour every cell alike); the colour bar
            gives the range either way.
    """
    if values.size != 168 or bool(np.isnan(values).all()):
        return None
    grid = np.ma.masked_invalid(values.reshape(7, 24))
    with plt.rc_context(style(lang)):
        fig, ax = plt.subplots(figsize=(7.0, 2.4))
        ax.grid(False)
        ax.set_facecolor("#edf2f7")
        top = float(np.nanmax(values))
        low = 0.0 if from_zero else float(np.nanmin(values))
        image = ax.imshow(
            grid, aspect="auto", cmap=cmap, vmin=low, vmax=top if top > low else low + 1.0
        )
        unseen = np.argwhere(np.isnan(values.reshape(7, 24)))
        for row, col in unseen:
            ax.add_patch(
                Rectangle(
                    (col - 0.5, row - 0.5), 1, 1, fill=False, hatch="///", color=INVALID, lw=0
                )
            )
        ax.set_yticks(range(7), day_names(lang))
        ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
        ax.set_xlabel(lang.gettext("hour of the day (local time)"))
        ax.set_title(title, fontsize=8, loc="left")
        bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
        bar.set_label(legend, fontsize=7)
        if unseen.size:
            ax.legend(
                handles=[Patch(facecolor="#edf2f7", hatch="///", edgecolor=INVALID)],
                labels=[lang.gettext("not observed")],
                loc="upper left",
                bbox_to_anchor=(0.0, -0.22),
                fontsize=6,
                frameon=False,
            )
        fig.tight_layout()
        return to_data_uri(fig)


def load_duration_chart(
    profile: DemandProfile,
    capacity: float,
    unit: str,
    lines: Sequence[tuple[str, float]],
    lang: Language,
) -> str | None:
    """Return the load-duration curve in `unit` with capacity lines, or None when empty.

    Args:
        profile: the device's demand profile (levels 0..1 of its capacity).
        capacity: the load at level 1 in `unit` (cores of a host, 100 for per cent).
        unit: the y axis label.
        lines: (label, load in `unit`) for each capacity line, provisioned first.
        lang: the language of the labels.
    """
    share = profile.load_share
    if not share.size or float(share[0]) <= 0:
        return None
    _ = lang.gettext
    with plt.rc_context(style(lang)):
        fig, ax = plt.subplots(figsize=(7.0, 2.6))
        loads = profile.load_levels * capacity
        ax.step(share * 100.0, loads, where="post", color=VALID, lw=1.5, label=_("load"))
        ax.fill_between(share * 100.0, loads, step="post", color=VALID, alpha=0.15)
        colours = (DISTURBED, SAVING, "#553c9a")
        styles = ("-", "--", ":")
        for k, (label, load) in enumerate(lines):
            ax.axhline(
                load, color=colours[k % 3], ls=styles[k % 3], lw=1.2, label=f"{label}: {load:g}"
            )
        ax.set_xlabel(_("share of the observed time at or above the load (%)"))
        ax.set_ylabel(unit)
        ax.set_xlim(0, 100)
        top = max([capacity, *(load for _label, load in lines)])
        ax.set_ylim(0, top * 1.1)
        plain_axis(ax)
        ax.legend(fontsize=6, loc="center right")
        fig.tight_layout()
        return to_data_uri(fig)
