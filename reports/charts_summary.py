"""Charts every report kind shares: the savings waterfall, the trend, daily energy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt

from profiler.analysis.trend import DayEnergy, TrendSeries
from profiler.model.units import DAY_S, J_PER_KWH, epoch_s
from reports.chart_style import SAVING, VALID, plain_axis, style, to_data_uri
from reports.i18n import Language
from reports.numbers import sig


def _point(finding: dict[str, Any], bound: str = "point") -> float:
    figure = (finding.get("savings") or {}).get("facility_kwh_per_year") or {}
    value = figure.get(bound)
    return float(value) if isinstance(value, int | float) else 0.0


def savings_waterfall(findings: Sequence[dict[str, Any]], lang: Language) -> str | None:
    """Facility kWh/yr saved, finding by finding (largest first), then the total.

    Each step's whisker shows the finding's low-high range.
    """
    _ = lang.gettext
    saving = [f for f in findings if _point(f) > 0]
    if not saving:
        return None
    labels = [f"{f['rule']}\n{str(f.get('device', ''))[:24]}" for f in saving]
    with plt.rc_context(style(lang)):
        fig, ax = plt.subplots(figsize=(7.0, 2.8))
        bottom = 0.0
        for i, finding in enumerate(saving):
            point = _point(finding)
            ax.bar(i, point, bottom=bottom, color=SAVING, width=0.6)
            low, high = _point(finding, "low"), _point(finding, "high")
            if high > low:
                ax.plot([i, i], [bottom + low, bottom + high], color="#22543d", lw=1)
            ax.text(i + 0.32, bottom + point / 2, sig(point), ha="left", va="center", fontsize=6)
            bottom += point
        ax.bar(len(saving), bottom, color=VALID, width=0.6)
        ax.text(len(saving), bottom, sig(bottom), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(saving) + 1), [*labels, _("total")], fontsize=6)
        ax.set_ylabel(_("facility kWh per year saved"))
        ax.set_ylim(0, bottom * 1.15)
        plain_axis(ax)
        fig.tight_layout()
        return to_data_uri(fig)


def trend_chart(series: Sequence[TrendSeries], lang: Language) -> str | None:
    """Units/J at 100 % load over time, one line per host x workload x device series.

    Points flagged as regressions are drawn as red crosses. The axis starts at zero.
    """
    _ = lang.gettext
    drawable = [s for s in series if s.points]
    if not drawable:
        return None
    first = min(epoch_s(p.started) for s in drawable for p in s.points)
    with plt.rc_context(style(lang)):
        fig, ax = plt.subplots(figsize=(7.0, 3.0))
        for s in drawable:
            x = [(epoch_s(p.started) - first) / DAY_S for p in s.points]
            y = [p.units_per_j for p in s.points]
            ax.plot(x, y, marker="o", label=f"{s.workload} · {s.device} ({s.host})")
            flagged = [i for i, p in enumerate(s.points) if p.regression]
            if flagged:
                ax.scatter(
                    [x[i] for i in flagged],
                    [y[i] for i in flagged],
                    marker="x",
                    color="red",
                    s=60,
                    zorder=3,
                    label=_("regression"),
                )
        ax.set_xlabel(_("days since the window's first run"))
        ax.set_ylabel(_("units per J at 100 % load"))
        ax.set_ylim(bottom=0)
        plain_axis(ax)
        ax.legend(fontsize=6, loc="lower left")
        fig.tight_layout()
        return to_data_uri(fig)


def daily_energy_chart(days: Sequence[DayEnergy], lang: Language) -> str | None:
    """Bar chart of energy per UTC day in kWh (hatched where estimated)."""
    _ = lang.gettext
    if not days:
        return None
    with plt.rc_context(style(lang)):
        fig, ax = plt.subplots(figsize=(7.0, 2.4))
        ax.bar(
            [d.day[5:] for d in days],
            [d.energy_j / J_PER_KWH for d in days],
            color=VALID,
            hatch=["//" if d.estimated else "" for d in days],
            edgecolor="white",
        )
        ax.set_ylabel(_("kWh per day"))
        ax.set_ylim(bottom=0)
        plain_axis(ax)
        ax.tick_params(axis="x", labelrotation=60, labelsize=6)
        fig.tight_layout()
        return to_data_uri(fig)
