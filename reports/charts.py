"""The run report's charts: power against load, J per 1,000 units, the timelines.

Only phases that are valid and not disturbed are drawn as figures; invalid phases are
grey hollow marks and disturbed ones orange, each labelled, so a chart never shows them
as valid. Quantities start at zero; numbers are plain with thousands separators.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from profiler.analysis.profile import LadderSummary
from profiler.model.run import PhaseRecord
from reports.chart_style import (
    DISTURBED,
    IDLE,
    INVALID,
    VALID,
    plain_axis,
    style,
    to_data_uri,
)
from reports.data import Timeline, phase_state
from reports.i18n import Language
from reports.numbers import energy_j, sig

_MAX_COLUMNS = 3


def _ladder_phases(phases: Sequence[PhaseRecord], ladder: LadderSummary) -> list[PhaseRecord]:
    return [p for p in phases if p.workload == ladder.workload and p.device_id == ladder.device]


def _load_of(phase: PhaseRecord, peak: float | None) -> float:
    """Return a phase's load as X / X_100 when throughputs are known, else its target."""
    x = phase.metrics.units_per_s
    if peak and x is not None:
        return float(x) / peak
    return float(phase.target_load)


def _power_vs_load_axes(
    ax: Axes, ladder: LadderSummary, phases: Sequence[PhaseRecord], lang: Language
) -> None:
    _ = lang.gettext
    clean = [p for p in phases if phase_state(p) == "valid" and p.metrics.mean_power_w]
    clean.sort(key=lambda p: _load_of(p, ladder.peak_units_per_s))
    u = [_load_of(p, ladder.peak_units_per_s) for p in clean]
    w = [float(p.metrics.mean_power_w or 0.0) for p in clean]
    ax.plot(u, w, marker="o", color=VALID, label=_("measured levels"))
    full = next((p for p in clean if p.target_load == 1.0), None)
    idle = next((p for p in clean if p.target_load == 0.0), None)
    if full is not None:
        peak_w = float(full.metrics.mean_power_w or 0.0)
        ax.plot([0, 1], [0, peak_w], linestyle="--", color="grey", label=_("ideal: proportional"))
    if idle is not None:
        idle_w = float(idle.metrics.mean_power_w or 0.0)
        ax.axhline(idle_w, color="#c53030", linestyle=":", linewidth=1)
        ax.annotate(
            _("idle floor {watts} W").format(watts=sig(idle_w)),
            (0.45, idle_w),
            textcoords="offset points",
            xytext=(0, 3),
            fontsize=7,
            color="#c53030",
        )
    for state, colour, marker, label in (
        ("invalid", INVALID, "x", _("invalid level (not used)")),
        ("disturbed", DISTURBED, "^", _("disturbed level (not used)")),
    ):
        marks = [p for p in phases if phase_state(p) == state and p.metrics.mean_power_w]
        if marks:
            ax.scatter(
                [_load_of(p, ladder.peak_units_per_s) for p in marks],
                [float(p.metrics.mean_power_w or 0.0) for p in marks],
                marker=marker,
                color=colour,
                label=label,
                zorder=3,
            )
    ep = ladder.metrics.ep if ladder.metrics is not None else None
    title = f"{ladder.workload} · {ladder.device}"
    ax.set_title(title + (f" · EP {ep:.2f}" if ep is not None else ""), fontsize=8)
    ax.set_xlim(0, 1.05)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(_("load (share of peak throughput)"))
    ax.set_ylabel(_("power (W)"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.0f} %"))
    plain_axis(ax)
    ax.legend(fontsize=6, loc="lower right")


def power_vs_load_chart(
    ladders: Sequence[LadderSummary], phases: Sequence[PhaseRecord], lang: Language
) -> str | None:
    """Power against load per workload x device, with the ideal line and the idle floor."""
    drawable = [
        s for s in ladders if any(p.metrics.mean_power_w for p in _ladder_phases(phases, s))
    ]
    if not drawable:
        return None
    columns = min(len(drawable), _MAX_COLUMNS)
    rows = -(-len(drawable) // columns)
    with plt.rc_context(style(lang)):
        fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.8 * rows), squeeze=False)
        for ax, ladder in zip(axes.flat, drawable, strict=False):
            _power_vs_load_axes(ax, ladder, _ladder_phases(phases, ladder), lang)
        for ax in list(axes.flat)[len(drawable) :]:
            ax.set_visible(False)
        fig.tight_layout()
        return to_data_uri(fig)


def j_per_1000_chart(phases: Sequence[PhaseRecord], lang: Language) -> str | None:
    """J per 1,000 units at 100 % load per workload, one bar per device (CPU beside GPU).

    A device whose 100 % level is invalid or disturbed gets no bar, only a grey note.
    """
    _ = lang.gettext
    full = [p for p in phases if p.target_load == 1.0]
    workloads = sorted({p.workload for p in full})
    if not workloads:
        return None
    with plt.rc_context(style(lang)):
        fig, axes = plt.subplots(
            len(workloads), 1, figsize=(6.5, 0.4 * len(workloads) + 0.45 * len(full)), squeeze=False
        )
        for ax, workload in zip(axes[:, 0], workloads, strict=True):
            rows = sorted((p for p in full if p.workload == workload), key=lambda p: p.device_id)
            labels = [p.device_id for p in rows]
            values = [
                float(p.metrics.j_per_1000_units or 0.0) if phase_state(p) == "valid" else 0.0
                for p in rows
            ]
            ax.barh(labels, values, color=VALID, height=0.5)
            top = max(values) if any(values) else 1.0
            for y, (p, v) in enumerate(zip(rows, values, strict=True)):
                if phase_state(p) == "valid" and v:
                    ax.text(v, y, f" {sig(v)} J", va="center", fontsize=7)
                else:
                    note = _("not shown: the 100 % level is {state}").format(
                        state=_(phase_state(p))
                    )
                    ax.text(0, y, " " + note, va="center", fontsize=7, color="#718096")
            unit = next((p.unit for p in rows if p.unit), None) or _("units")
            ax.set_title(
                _("{workload}: J per 1,000 {unit} at 100 % load (lower is better)").format(
                    workload=workload, unit=unit
                ),
                fontsize=8,
            )
            ax.set_xlim(0, top * 1.3)
            ax.invert_yaxis()
            plain_axis(ax, "x")
        fig.tight_layout()
        return to_data_uri(fig)


def _idle_spans(timeline: Timeline) -> list[tuple[float, float]]:
    """Return (start, end) of runs of idle buckets (see `Timeline.idle`)."""
    spans: list[tuple[float, float]] = []
    t, idle = timeline.t, timeline.idle
    if t.size < 2:
        return spans
    half = float(np.median(np.diff(t))) / 2
    start: float | None = None
    for x, flag in zip(t, idle, strict=True):
        if flag and start is None:
            start = float(x) - half
        elif not flag and start is not None:
            spans.append((start, float(x) - half))
            start = None
    if start is not None:
        spans.append((start, float(t[-1]) + half))
    return spans


def _phase_shading(ax: Axes, timeline: Timeline, phases: Sequence[PhaseRecord]) -> None:
    for phase in phases:
        if timeline.device != phase.device_id and timeline.device not in (
            phase.metrics.energy_devices or ()
        ):
            continue
        state = phase_state(phase)
        colour = {"valid": "#9ae6b4", "invalid": INVALID, "disturbed": DISTURBED}[state]
        if state == "valid":
            ax.axvspan(phase.t_start, phase.t_end, color=colour, alpha=0.25, lw=0)
        else:
            ax.axvspan(
                phase.t_start, phase.t_end, facecolor="none", edgecolor=colour, hatch="///", lw=0
            )


def timeline_chart(timeline: Timeline, phases: Sequence[PhaseRecord], lang: Language) -> str:
    """Power (min-max envelope, mean) and utilisation over the run; idle periods shaded.

    The power axis starts at zero; the idle energy is annotated. A device without a power
    figure gets the utilisation panel only.
    """
    _ = lang.gettext
    has_power = bool(np.any(~np.isnan(timeline.power_mean)))
    with plt.rc_context(style(lang)):
        if has_power:
            fig, (ax_p, ax_u) = plt.subplots(2, 1, figsize=(7.0, 3.0), sharex=True)
            axes = [ax_p, ax_u]
        else:
            fig, ax_u = plt.subplots(figsize=(7.0, 1.6))
            axes = [ax_u]
        for start, end in _idle_spans(timeline):
            for ax in axes:
                ax.axvspan(start, end, color=IDLE, lw=0, zorder=0)
        for ax in axes:
            _phase_shading(ax, timeline, phases)
        if has_power:
            ax_p.fill_between(
                timeline.t,
                timeline.power_min,
                timeline.power_max,
                color="#fbd38d",
                label=_("min-max"),
            )
            ax_p.plot(timeline.t, timeline.power_mean, color="#c05621", lw=0.8, label=_("mean"))
            ax_p.set_ylim(0, max(float(np.nanmax(timeline.power_max)) * 1.1, 1.0))
            ax_p.set_ylabel(_("power (W)"))
            plain_axis(ax_p)
            if timeline.idle_energy_j:
                ax_p.set_title(
                    _("idle (shaded): {share} of the time, {energy} ({part} of the energy)").format(
                        share=f"{timeline.idle_time_share * 100:.0f} %",
                        energy=energy_j(timeline.idle_energy_j),
                        part=f"{timeline.idle_energy_share * 100:.0f} %",
                    ),
                    fontsize=7,
                    loc="left",
                )
            ax_p.legend(fontsize=6, loc="upper right")
        ax_u.plot(timeline.t, timeline.util_mean * 100, color=VALID, lw=0.8)
        ax_u.set_ylabel(_("utilisation (%)"))
        ax_u.set_ylim(0, 105)
        ax_u.set_xlabel(_("seconds since run start"))
        plain_axis(ax_u, "x")
        fig.tight_layout()
        return to_data_uri(fig)
