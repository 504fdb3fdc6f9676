"""The report of a time window across runs: findings, efficiency trend and daily energy."""

from __future__ import annotations

from dataclasses import dataclass

from profiler.analysis.assess import Assessment
from profiler.analysis.trend import REGRESSION_DROP, Trend
from profiler.model.annual import Annual
from profiler.model.run import RunRecord
from profiler.model.units import J_PER_KWH
from reports import charts_summary
from reports.charts_demand import day_names
from reports.demand import Demand, section_views
from reports.renderers.base import Renderer, headline, ranked_findings, top_actions, yearly


@dataclass(frozen=True)
class WindowReport:
    """What the window report shows.

    Attributes:
        host: the host the window covers.
        runs: the runs overlapping the window.
        trend: units/J series and daily energy of the window.
        assessment: findings of the window's monitoring data, None when there was none.
        assumptions: the assumption lines to list.
        annual: the yearly figure of the host's monitoring data in the window, from the
            time that has data (`analyze --since --json` `metrics.annual`); None when
            the window has none with energy figures.
        demand: the window's demand profiles ("When is the capacity used"), None when
            there was no monitoring data.
    """

    host: str | None
    runs: list[RunRecord]
    trend: Trend
    assessment: Assessment | None
    assumptions: list[str]
    annual: Annual | None = None
    demand: Demand | None = None


class WindowRenderer(Renderer[WindowReport]):
    """The window report (`templates/window.html`)."""

    template = "window.html"

    def render(self, record: WindowReport) -> str:
        """Return the report of a time window across runs as one HTML document."""
        trend, site = record.trend, self.site
        findings = ranked_findings(record.assessment)
        energy_j = sum(d.energy_j for d in trend.daily_energy) if trend.daily_energy else None
        energy_kwh = energy_j / J_PER_KWH if energy_j is not None else None
        return self.fill(
            host=record.host,
            window_start=trend.window_start,
            window_end=trend.window_end,
            runs=record.runs,
            trend=trend,
            drop=REGRESSION_DROP,
            findings=findings,
            actions=top_actions(findings),
            analysed=record.assessment is not None,
            assumptions=record.assumptions,
            site=site,
            energy_kwh=energy_kwh,
            window_yearly=yearly(energy_kwh, site),
            per_year=headline(record.annual, site),
            estimated=any(d.estimated for d in trend.daily_energy),
            missing=[*self._missing(record), *self.chart_note()],
            waterfall=charts_summary.savings_waterfall(findings, self.drawn),
            trend_chart=charts_summary.trend_chart(trend.series, self.drawn),
            daily_chart=charts_summary.daily_energy_chart(trend.daily_energy, self.drawn),
            demand=record.demand,
            demand_views=section_views(record.demand, findings, self.text, self.drawn),
            days=day_names(self.text),
        )

    def _missing(self, record: WindowReport) -> list[str]:
        """Return what the window's report lacks, in its language (the yellow box)."""
        _ = self.text.gettext
        missing = []
        if not record.runs:
            missing.append(_("no runs in the window"))
        if record.assessment is None:
            missing.append(_("no monitoring data to analyse: findings are not shown"))
        if not record.trend.series:
            missing.append(_("no profiling runs: no efficiency trend"))
        return missing
