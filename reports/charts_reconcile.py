"""The wall-power reconciliation chart: CPU, DRAM and GPU power stacked under the wall.

Each interval's measured parts are stacked as bars; the unexplained remainder (PSU loss,
fans, disks, NICs, board) is the hatched part up to the wall line. A negative remainder
(parts above the wall: a sensor or model overstates) shows as bars above the line.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from profiler.analysis.reconcile import Reconciliation
from reports.chart_style import DISTURBED, INVALID, VALID, plain_axis, style, to_data_uri
from reports.i18n import Language

PART_COLOURS = {"cpu": VALID, "dram": "#805ad5", "gpu": "#38a169"}
"""Bar colour per component kind."""


def reconciliation_chart(balance: Reconciliation, lang: Language) -> str:
    """Stacked bars of the parts per interval, the remainder hatched, the wall as a line.

    The x axis is minutes since the reconciliation's first interval; the y axis starts at 0.
    """
    _ = lang.gettext
    intervals = balance.intervals
    t0 = intervals[0].t_start_s
    mid_min = np.array([((b.t_start_s + b.t_end_s) / 2 - t0) / 60.0 for b in intervals])
    width_min = np.array([(b.t_end_s - b.t_start_s) / 60.0 * 0.85 for b in intervals])
    with plt.rc_context(style(lang)):
        fig, ax = plt.subplots(figsize=(7.0, 2.6))
        bottom = np.zeros(len(intervals))
        for kind, colour in PART_COLOURS.items():
            watts = np.array([b.parts_w.get(kind, 0.0) for b in intervals])
            if watts.any():
                ax.bar(mid_min, watts, width_min, bottom=bottom, color=colour, label=kind)
                bottom += watts
        remainder = np.array([max(b.remainder_w, 0.0) for b in intervals])
        ax.bar(
            mid_min,
            remainder,
            width_min,
            bottom=bottom,
            color="white",
            edgecolor=INVALID,
            hatch="///",
            label=_("unexplained (PSU, fans, disks, NICs)"),
        )
        wall = np.array([b.wall_w for b in intervals])
        ax.step(mid_min, wall, where="mid", color=DISTURBED, lw=1.2, label=_("wall power"))
        ax.set_ylim(0, max(float(wall.max()), float(bottom.max())) * 1.15 or 1.0)
        ax.set_xlabel(_("minutes"))
        ax.set_ylabel(_("power (W)"))
        ax.legend(fontsize=6, loc="lower right", ncol=3)
        plain_axis(ax)
        fig.tight_layout()
        return to_data_uri(fig)
