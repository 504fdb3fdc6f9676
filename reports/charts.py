"""Charts as self-contained SVG data URIs (matplotlib, Agg; nothing fetched).

Each chart is embedded as `<img src="data:image/svg+xml;base64,...">`: text is drawn as
paths and the SVG markup never enters the page, so no label from outside can become
markup, and the page's Content-Security-Policy can forbid everything but data: images.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

from profiler.model.units import DAY_S
from profiler.model.units import epoch_s as _epoch_s

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from profiler.analysis.profile import LadderSummary
from profiler.analysis.trend import DayEnergy, TrendSeries
from profiler.model.run import PhaseRecord
from profiler.model.units import J_PER_KWH
from reports.data import Timeline

# matplotlib's stubs type rcParams keys as a Literal union; the dict is checked at runtime.
_STYLE: Any = {
    "svg.fonttype": "path",
    "svg.hashsalt": "finwatt",
    "font.size": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def _to_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def efficiency_chart(phases: Sequence[PhaseRecord]) -> str | None:
    """Bar chart of units/J at 100% load per workload, one bar per device."""
    full = [p for p in phases if p.target_load == 1.0 and p.metrics.units_per_j is not None]
    if not full:
        return None
    workloads = sorted({p.workload for p in full})
    devices = sorted({p.device_id for p in full})
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, len(workloads), figsize=(2.6 * len(workloads), 2.4))
        for ax, workload in zip(np.atleast_1d(axes), workloads, strict=True):
            values = [
                next(
                    (
                        p.metrics.units_per_j or 0.0
                        for p in full
                        if p.workload == workload and p.device_id == d
                    ),
                    0.0,
                )
                for d in devices
            ]
            ax.bar(devices, values, color="#2b6cb0")
            unit = next((p.unit for p in full if p.workload == workload), "unit")
            ax.set_title(f"{workload}: {unit}s per J at 100%")
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
        fig.tight_layout()
        return _to_data_uri(fig)


def proportionality_chart(ladders: Sequence[LadderSummary]) -> str | None:
    """Measured power against load per workload x device, with the ideal proportional line."""
    with_curves = [s for s in ladders if s.metrics is not None]
    if not with_curves:
        return None
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 3.0))
        for s in with_curves:
            assert s.metrics is not None
            u = [point[0] for point in s.metrics.curve]
            p = [point[1] / s.metrics.curve[-1][1] for point in s.metrics.curve]
            ax.plot(u, p, marker="o", label=f"{s.workload} on {s.device} (EP {s.metrics.ep:.2f})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="ideal (EP 1)")
        ax.set_xlabel("load u = X / X_100")
        ax.set_ylabel("power p = P / P_100")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=6, loc="upper left")
        fig.tight_layout()
        return _to_data_uri(fig)


def timeline_chart(timeline: Timeline, phases: Sequence[PhaseRecord]) -> str:
    """Power (min/max envelope and mean) and utilisation over the run, phases shaded."""
    with plt.rc_context(_STYLE):
        fig, (ax_p, ax_u) = plt.subplots(2, 1, figsize=(7.0, 2.8), sharex=True)
        t = timeline.t
        if np.any(~np.isnan(timeline.power_mean)):
            ax_p.fill_between(
                t, timeline.power_min, timeline.power_max, color="#fbd38d", label="min-max"
            )
            ax_p.plot(t, timeline.power_mean, color="#c05621", linewidth=0.8, label="mean")
            ax_p.legend(fontsize=6, loc="upper right")
        else:
            ax_p.text(0.5, 0.5, "no power figure", transform=ax_p.transAxes, ha="center")
        ax_p.set_ylabel("power W")
        ax_u.plot(t, timeline.util_mean * 100, color="#2b6cb0", linewidth=0.8)
        ax_u.set_ylabel("util %")
        ax_u.set_ylim(0, 105)
        ax_u.set_xlabel("seconds since run start")
        for phase in phases:
            if timeline.device == phase.device_id or timeline.device in (
                phase.metrics.energy_devices or ()
            ):
                for ax in (ax_p, ax_u):
                    ax.axvspan(phase.t_start, phase.t_end, color="#9ae6b4", alpha=0.25)
        fig.tight_layout()
        return _to_data_uri(fig)


def trend_chart(series: Sequence[TrendSeries]) -> str | None:
    """Units/J at 100% load over time, one line per host x workload x device series.

    Points flagged as regressions are drawn as red crosses.
    """
    drawable = [s for s in series if s.points]
    if not drawable:
        return None
    first = min(_epoch_s(p.started) for s in drawable for p in s.points)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 3.0))
        for s in drawable:
            x = [(_epoch_s(p.started) - first) / DAY_S for p in s.points]
            y = [p.units_per_j for p in s.points]
            ax.plot(x, y, marker="o", label=f"{s.workload} on {s.device} ({s.host})")
            flagged = [i for i, p in enumerate(s.points) if p.regression]
            if flagged:
                ax.scatter(
                    [x[i] for i in flagged],
                    [y[i] for i in flagged],
                    marker="x",
                    color="red",
                    s=60,
                    zorder=3,
                )
        ax.set_xlabel("days since the window's first run")
        ax.set_ylabel("units per J at 100%")
        ax.set_yscale("log")
        ax.legend(fontsize=6, loc="best")
        fig.tight_layout()
        return _to_data_uri(fig)


def daily_energy_chart(days: Sequence[DayEnergy]) -> str | None:
    """Bar chart of energy per UTC day in kWh."""
    if not days:
        return None
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 2.4))
        ax.bar([d.day[5:] for d in days], [d.energy_j / J_PER_KWH for d in days], color="#2b6cb0")
        ax.set_ylabel("kWh")
        ax.tick_params(axis="x", labelrotation=60, labelsize=6)
        fig.tight_layout()
        return _to_data_uri(fig)
