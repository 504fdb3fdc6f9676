"""Render a `ReportData` to one self-contained HTML file (jinja2, autoescaping on).

The page loads nothing: inline CSS, charts as data: URIs, and a Content-Security-Policy
that forbids every network load. Every string from outside (labels, host and model
names, workload names, configuration) goes through jinja2's autoescaping.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2

from profiler.analysis.assess import Assessment
from profiler.analysis.savings import Site
from profiler.analysis.trend import REGRESSION_DROP, Trend
from profiler.model.provenance import is_estimate
from profiler.model.run import RunRecord
from profiler.model.units import J_PER_KWH
from reports import charts
from reports.data import ReportData

NO_ANALYSIS = "no analysis: findings and savings are not shown"


def _fmt(value: Any, spec: str = ".3g", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{format(value, spec)}{unit}"


def _savings_point(finding: dict[str, Any], key: str) -> float:
    savings = finding.get("savings") or {}
    figure = savings.get(key) or {}
    point = figure.get("point")
    return float(point) if isinstance(point, int | float) else 0.0


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    env.tests["estimate"] = is_estimate
    env.filters["pct"] = lambda v: _fmt(v * 100 if v is not None else None, ".0f", "%")
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


def _ranked_findings(assessment: Assessment | None) -> list[dict[str, Any]]:
    """Return the findings as design.md's JSON shape, the most facility kWh saved first."""
    findings = [f.as_dict() for f in assessment.findings] if assessment is not None else []
    findings.sort(key=lambda f: _savings_point(f, "facility_kwh_per_year"), reverse=True)
    return findings


def render_html(data: ReportData, assessment: Assessment | None, site: Site | None = None) -> str:
    """Return the report of a run as one HTML document.

    Args:
        data: the run's records and figures.
        assessment: its analysis (findings, assumptions), None when not analysed.
        site: PUE, grid intensity and tariff for the energy figures.
    """
    site = site or Site()
    findings = _ranked_findings(assessment)
    energy_kwh = data.total_energy_kwh
    facility_kwh = energy_kwh * site.pue if energy_kwh is not None else None
    co2e_kg = facility_kwh * site.grid_g_per_kwh / 1000 if facility_kwh is not None else None
    cost = (
        facility_kwh * site.price_per_kwh
        if facility_kwh is not None and site.price_per_kwh is not None
        else None
    )
    timeline_charts = [(tl, charts.timeline_chart(tl, data.phases)) for tl in data.timelines]
    template = _environment().get_template("report.html")
    return template.render(
        data=data,
        run=data.run,
        missing=[*data.missing, *([] if assessment is not None else [NO_ANALYSIS])],
        analysed=assessment is not None,
        assumptions=assessment.assumptions if assessment is not None else [],
        site=site,
        findings=findings,
        top_findings=findings[:3],
        energy_kwh=energy_kwh,
        energy_j=data.total_energy_j,
        facility_kwh=facility_kwh,
        co2e_kg=co2e_kg,
        cost=cost,
        j_per_kwh=J_PER_KWH,
        efficiency_chart=charts.efficiency_chart(data.phases),
        proportionality_chart=charts.proportionality_chart(data.ladders),
        timeline_charts=timeline_charts,
        invalid_phases=[p for p in data.phases if not p.valid],
    )


def write_report(
    path: Path, data: ReportData, assessment: Assessment | None, site: Site | None = None
) -> Path:
    """Write the report to `path` (its folder must exist) and return the path."""
    path.write_text(render_html(data, assessment, site), encoding="utf-8")
    return path


def render_window_html(
    *,
    host: str | None,
    runs: list[RunRecord],
    trend: Trend,
    assessment: Assessment | None,
    assumptions: list[str],
    site: Site | None = None,
) -> str:
    """Return the report of a time window across runs: findings, trend, daily energy.

    Args:
        host: the host the window covers.
        runs: the runs overlapping the window.
        trend: units/J series and daily energy of the window.
        assessment: findings of the window's monitoring data, None when there was none.
        assumptions: the assumption lines to list.
        site: PUE, grid intensity and tariff for the energy figures.
    """
    site = site or Site()
    findings = _ranked_findings(assessment)
    energy_j = sum(d.energy_j for d in trend.daily_energy) if trend.daily_energy else None
    energy_kwh = energy_j / J_PER_KWH if energy_j is not None else None
    facility_kwh = energy_kwh * site.pue if energy_kwh is not None else None
    missing = []
    if not runs:
        missing.append("no runs in the window")
    if assessment is None:
        missing.append("no monitoring data to analyse: findings are not shown")
    if not trend.series:
        missing.append("no profiling runs: no efficiency trend")
    template = _environment().get_template("window.html")
    return template.render(
        host=host,
        window_start=trend.window_start,
        window_end=trend.window_end,
        runs=runs,
        trend=trend,
        drop=REGRESSION_DROP,
        findings=findings,
        assumptions=assumptions,
        site=site,
        energy_kwh=energy_kwh,
        estimated=any(d.estimated for d in trend.daily_energy),
        co2e_kg=facility_kwh * site.grid_g_per_kwh / 1000 if facility_kwh is not None else None,
        cost=(
            facility_kwh * site.price_per_kwh
            if facility_kwh is not None and site.price_per_kwh is not None
            else None
        ),
        missing=missing,
        trend_chart=charts.trend_chart(trend.series),
        daily_chart=charts.daily_energy_chart(trend.daily_energy),
    )


def render_fleet_html(
    *,
    source: str,
    document: dict[str, Any],
    assumptions: list[str],
    site: Site | None = None,
) -> str:
    """Return the fleet report of `finwatt analyze --prometheus`'s findings document."""
    site = site or Site()
    findings = list(document.get("findings") or [])
    findings.sort(key=lambda f: _savings_point(f, "facility_kwh_per_year"), reverse=True)
    metrics = document.get("metrics") or {}
    window = metrics.get("window") or {}
    hosts = sorted((metrics.get("hosts") or {}).keys())
    by_host: dict[str, list[str]] = {}
    for f in findings:
        host = str(f.get("device", "")).split("/")[0]
        by_host.setdefault(host, []).append(str(f.get("rule")))
    cost = [_savings_point(f, "cost_per_year") for f in findings]
    return (
        _environment()
        .get_template("fleet.html")
        .render(
            source=source,
            window_start=window.get("start"),
            window_end=window.get("end"),
            hosts=hosts,
            by_host=by_host,
            findings=findings,
            total_kwh=sum(_savings_point(f, "facility_kwh_per_year") for f in findings),
            total_co2e=sum(_savings_point(f, "co2e_kg_per_year") for f in findings),
            total_cost=sum(cost) if site.price_per_kwh is not None else None,
            assumptions=assumptions,
            site=site,
        )
    )
