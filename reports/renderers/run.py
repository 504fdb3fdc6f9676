"""The report of one run: its records and figures (`ReportData`) and its analysis.

Page one of a monitoring run states the run's energy per year, annualised from the time
that has data. Page one of a profiling run states what a ladder measures (J per 1,000
units, units/J, EP, IPR, idle power, placement; `reports.ladder_page`); a yearly figure
only from the host's monitoring runs, and the ladder's own only as "if the host ran
this ladder all year".
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler.analysis.annual import yearly as annual_yearly
from profiler.analysis.assess import Assessment
from profiler.analysis.thresholds import Thresholds
from profiler.model.annual import Annual, rate_kwh_per_year
from reports import charts, charts_reconcile, charts_summary
from reports.charts_demand import day_names
from reports.data import ReportData, phase_state
from reports.demand import Demand, section_views
from reports.ladder_page import ladder_figures, placement, why_no_findings
from reports.renderers.base import Renderer, headline, ranked_findings, top_actions, yearly


@dataclass(frozen=True)
class RunReport:
    """What the run report shows.

    Attributes:
        data: the run's records and figures.
        assessment: its analysis (findings, assumptions), None when not analysed.
        history: for a profiling run, the yearly figure of its host's monitoring runs
            (None: the host has none with energy figures); unused for other runs.
        demand: the run's demand profiles ("When is the capacity used"), None when
            not profiled.
    """

    data: ReportData
    assessment: Assessment | None = None
    history: Annual | None = None
    demand: Demand | None = None


class RunRenderer(Renderer[RunReport]):
    """The run report (`templates/report.html`): summary, findings, phases, charts."""

    template = "report.html"

    def render(self, record: RunReport) -> str:
        """Return the report of a run as one HTML document."""
        data, assessment, site = record.data, record.assessment, self.site
        findings = ranked_findings(assessment)
        energy_kwh = data.total_energy_kwh
        profiling = data.run.is_profiling
        own = annual_yearly(
            data.energy_parts, data.energy_provenance, data.duration_s or 0.0, site, Thresholds()
        )
        ladders = ladder_figures(data.ladders, data.phases)
        return self.fill(
            data=data,
            run=data.run,
            missing=[*self._missing(record), *self.chart_note()],
            analysed=assessment is not None,
            assumptions=assessment.assumptions if assessment is not None else [],
            site=site,
            findings=findings,
            actions=top_actions(findings),
            why_none=[self.text.gettext(w) for w in why_no_findings(data)],
            energy_kwh=energy_kwh,
            run_yearly=yearly(energy_kwh, site),
            profiling=profiling,
            per_year=headline(record.history if profiling else own, site),
            ladders=ladders,
            headline_ladder=ladders[0] if ladders else None,
            placement=placement(ladders),
            ladder_year=yearly(rate_kwh_per_year(data.energy_parts), site, own),
            verdict=data.verdict,
            has_gpu=any(d.info.kind == "gpu" for d in data.devices),
            waterfall=charts_summary.savings_waterfall(findings, self.drawn),
            efficiency_chart=charts.j_per_1000_chart(data.phases, self.drawn),
            proportionality_chart=charts.power_vs_load_chart(data.ladders, data.phases, self.drawn),
            timeline_charts=[
                (tl, charts.timeline_chart(tl, data.phases, self.drawn)) for tl in data.timelines
            ],
            invalid_phases=[p for p in data.phases if phase_state(p) != "valid"],
            reconciliation_chart=(
                charts_reconcile.reconciliation_chart(data.reconciliation, self.drawn)
                if data.reconciliation
                else None
            ),
            demand=record.demand,
            demand_views=section_views(record.demand, findings, self.text, self.drawn),
            days=day_names(self.text),
        )

    def _missing(self, record: RunReport) -> list[str]:
        """Return what the run's report lacks, in its language (the yellow box)."""
        text, data = self.text, record.data
        missing = [
            text.gettext(message) % {k: text.gettext(v) for k, v in fields.items()}
            for message, fields in data.notes
        ]
        if record.assessment is None:
            missing.append(text.gettext("no analysis: findings and savings are not shown"))
        if data.verdict.disturbed:
            missing.append(
                text.gettext(
                    "other processes used the CPU during %(n)s of %(total)s phases: their "
                    "figures are not reliable and the charts leave them out"
                )
                % {"n": data.verdict.disturbed, "total": data.verdict.phases}
            )
        return missing
