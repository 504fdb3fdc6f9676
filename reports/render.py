"""Render reports to one self-contained HTML file each (jinja2, autoescaping on).

The page loads nothing: inline CSS, charts as data: URIs, and a Content-Security-Policy
that forbids every network load. Every string from outside (labels, host and model
names, workload names, configuration) goes through jinja2's autoescaping. Text is
translated through `reports.i18n` (English by default, `lang="zh-CN"`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from profiler.analysis.assess import Assessment
from profiler.analysis.trend import REGRESSION_DROP, Trend
from profiler.model.provenance import is_estimate
from profiler.model.run import RunRecord
from profiler.model.savings import Site
from profiler.model.units import HOURS_PER_YEAR, J_PER_KWH, epoch_s
from reports import charts, charts_reconcile, charts_summary, numbers
from reports.chart_style import chart_language
from reports.data import ReportData, phase_state
from reports.finding_text import finding_text
from reports.i18n import CJK_FONTS, Language, language
from reports.lines import line_text


def _fmt(value: Any, spec: str = ".3g", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return numbers.NA
    return f"{format(value, spec)}{unit}"


def _duration(value: float | None, lang: Language) -> str:
    number, unit = numbers.duration_parts(value)
    return f"{number} {lang.gettext(unit)}" if unit else number


def _missing_in(lang: Language, show: Callable[..., str]) -> Callable[..., str]:
    """Return `show` with its "n/a" (a missing figure) in the report's language."""

    def shown(*args: Any) -> str:
        text = show(*args)
        return lang.gettext(numbers.NA) if text == numbers.NA else text

    return shown


def savings_point(finding: dict[str, Any], key: str, bound: str = "point") -> float | None:
    """Return one figure of a finding's savings (e.g. facility kWh/yr, point), or None."""
    figure = (finding.get("savings") or {}).get(key) or {}
    value = figure.get(bound)
    return float(value) if isinstance(value, int | float) else None


@lru_cache(maxsize=4)
def _environment(tag: str) -> jinja2.Environment:
    lang = language(tag)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(lang.translations, newstyle=True)  # type: ignore[attr-defined]
    figures: dict[str, Callable[..., str]] = {
        "fmt": _fmt,
        "sig": numbers.sig,
        "kwh": numbers.energy_kwh,
        "joules": numbers.energy_j,
        "kg": numbers.mass_kg,
        "watts": numbers.power_w,
        "money": numbers.money,
        "pct": numbers.percent,
    }
    env.filters.update({name: _missing_in(lang, f) for name, f in figures.items()})
    env.filters.update(
        duration=lambda v: _duration(v, lang),
        load=lambda v: lang.gettext(numbers.achieved_load(v)),
        tojson_pretty=lambda v: json.dumps(v, indent=2, sort_keys=True, default=str),
    )
    env.tests["estimate"] = is_estimate
    env.globals.update(
        lang=lang,
        cjk_fonts=CJK_FONTS,
        finding_text=lambda f: finding_text(f, lang),
        line_text=lambda text: line_text(str(text), lang),
        savings_point=savings_point,
        phase_state=phase_state,
    )
    return env


def ranked(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return findings with the most facility kWh/yr saved first."""
    return sorted(
        findings,
        key=lambda f: savings_point(f, "facility_kwh_per_year") or 0.0,
        reverse=True,
    )


def _ranked_findings(assessment: Assessment | None) -> list[dict[str, Any]]:
    """Return the findings as design.md's JSON shape, the most facility kWh saved first."""
    return ranked([f.as_dict() for f in assessment.findings] if assessment is not None else [])


@dataclass(frozen=True)
class Yearly:
    """Energy, CO2e and cost per year at an observed rate (page one's headline)."""

    it_kwh: float | None
    facility_kwh: float | None
    co2e_kg: float | None
    cost: float | None


def yearly(it_kwh_per_year: float | None, site: Site) -> Yearly:
    """Return the facility energy, CO2e and cost of an IT energy per year at a site."""
    if it_kwh_per_year is None:
        return Yearly(None, None, None, None)
    facility = it_kwh_per_year * site.pue
    cost = facility * site.price_per_kwh if site.price_per_kwh is not None else None
    return Yearly(it_kwh_per_year, facility, facility * site.grid_g_per_kwh / 1000, cost)


def _chart_note(lang: Language) -> list[str]:
    _, same = chart_language(lang)
    if same:
        return []
    return [
        lang.gettext("no CJK font installed (Debian: fonts-noto-cjk): chart labels are in English")
    ]


def render_html(
    data: ReportData,
    assessment: Assessment | None,
    site: Site | None = None,
    lang: str = "en",
) -> str:
    """Return the report of a run as one HTML document.

    Args:
        data: the run's records and figures.
        assessment: its analysis (findings, assumptions), None when not analysed.
        site: PUE, grid intensity and tariff for the energy figures.
        lang: report language, "en" or "zh-CN".
    """
    site = site or Site()
    env = _environment(lang)
    text = language(lang)
    drawn, _same = chart_language(text)
    findings = _ranked_findings(assessment)
    missing = [
        text.gettext(message) % {k: text.gettext(v) for k, v in fields.items()}
        for message, fields in data.notes
    ]
    if assessment is None:
        missing.append(text.gettext("no analysis: findings and savings are not shown"))
    if data.verdict.disturbed:
        missing.append(
            text.gettext(
                "other processes used the CPU during %(n)s of %(total)s phases: their figures "
                "are not reliable and the charts leave them out"
            )
            % {"n": data.verdict.disturbed, "total": data.verdict.phases}
        )
    energy_kwh = data.total_energy_kwh
    return env.get_template("report.html").render(
        data=data,
        run=data.run,
        missing=[*missing, *_chart_note(text)],
        analysed=assessment is not None,
        assumptions=assessment.assumptions if assessment is not None else [],
        site=site,
        findings=findings,
        actions=[f for f in findings if savings_point(f, "facility_kwh_per_year")][:3],
        energy_kwh=energy_kwh,
        run_yearly=yearly(energy_kwh, site),
        per_year=yearly(data.energy_kwh_per_year, site),
        verdict=data.verdict,
        has_gpu=any(d.info.kind == "gpu" for d in data.devices),
        waterfall=charts_summary.savings_waterfall(findings, drawn),
        efficiency_chart=charts.j_per_1000_chart(data.phases, drawn),
        proportionality_chart=charts.power_vs_load_chart(data.ladders, data.phases, drawn),
        timeline_charts=[
            (tl, charts.timeline_chart(tl, data.phases, drawn)) for tl in data.timelines
        ],
        invalid_phases=[p for p in data.phases if phase_state(p) != "valid"],
        reconciliation_chart=(
            charts_reconcile.reconciliation_chart(data.reconciliation, drawn)
            if data.reconciliation
            else None
        ),
    )


def write_report(
    path: Path,
    data: ReportData,
    assessment: Assessment | None,
    site: Site | None = None,
    lang: str = "en",
) -> Path:
    """Write the report to `path` (its folder must exist) and return the path."""
    path.write_text(render_html(data, assessment, site, lang), encoding="utf-8")
    return path


def render_window_html(
    *,
    host: str | None,
    runs: list[RunRecord],
    trend: Trend,
    assessment: Assessment | None,
    assumptions: list[str],
    site: Site | None = None,
    lang: str = "en",
) -> str:
    """Return the report of a time window across runs: findings, trend, daily energy.

    Args:
        host: the host the window covers.
        runs: the runs overlapping the window.
        trend: units/J series and daily energy of the window.
        assessment: findings of the window's monitoring data, None when there was none.
        assumptions: the assumption lines to list.
        site: PUE, grid intensity and tariff for the energy figures.
        lang: report language, "en" or "zh-CN".
    """
    site = site or Site()
    text = language(lang)
    drawn, _same = chart_language(text)
    _ = text.gettext
    findings = _ranked_findings(assessment)
    energy_j = sum(d.energy_j for d in trend.daily_energy) if trend.daily_energy else None
    energy_kwh = energy_j / J_PER_KWH if energy_j is not None else None
    hours = (epoch_s(trend.window_end) - epoch_s(trend.window_start)) / 3600
    missing = []
    if not runs:
        missing.append(_("no runs in the window"))
    if assessment is None:
        missing.append(_("no monitoring data to analyse: findings are not shown"))
    if not trend.series:
        missing.append(_("no profiling runs: no efficiency trend"))
    return (
        _environment(lang)
        .get_template("window.html")
        .render(
            host=host,
            window_start=trend.window_start,
            window_end=trend.window_end,
            runs=runs,
            trend=trend,
            drop=REGRESSION_DROP,
            findings=findings,
            actions=[f for f in findings if savings_point(f, "facility_kwh_per_year")][:3],
            analysed=assessment is not None,
            assumptions=assumptions,
            site=site,
            energy_kwh=energy_kwh,
            window_yearly=yearly(energy_kwh, site),
            per_year=yearly(
                energy_kwh / hours * HOURS_PER_YEAR
                if energy_kwh is not None and hours > 0
                else None,
                site,
            ),
            estimated=any(d.estimated for d in trend.daily_energy),
            missing=[*missing, *_chart_note(text)],
            waterfall=charts_summary.savings_waterfall(findings, drawn),
            trend_chart=charts_summary.trend_chart(trend.series, drawn),
            daily_chart=charts_summary.daily_energy_chart(trend.daily_energy, drawn),
        )
    )


@dataclass(frozen=True)
class FleetFigures:
    """How the fleet was read (`metrics.fleet` of the findings document).

    Attributes:
        hosts_read: hosts whose series were read in full, None when the document does
            not say (an older analyzer).
        hosts_screened: hosts settled by screening in PromQL, series not read.
        measured_curves: hosts with a measured power curve, None when not said.
    """

    hosts_read: int | None
    hosts_screened: int
    measured_curves: list[str] | None


def render_fleet_html(
    *,
    source: str,
    document: dict[str, Any],
    assumptions: list[str],
    site: Site | None = None,
    lang: str = "en",
) -> str:
    """Return the fleet report of `finwatt analyze --prometheus`'s findings document."""
    site = site or Site()
    text = language(lang)
    drawn, _same = chart_language(text)
    findings = ranked(list(document.get("findings") or []))
    metrics = document.get("metrics") or {}
    window = metrics.get("window") or {}
    hosts = sorted((metrics.get("hosts") or {}).keys())
    fleet = metrics.get("fleet") or {}
    read, screened = fleet.get("hosts_read"), fleet.get("hosts_screened")
    curves = fleet.get("measured_curves")
    by_host: dict[str, list[str]] = {}
    for f in findings:
        host = str(f.get("device", "")).split("/")[0]
        by_host.setdefault(host, []).append(str(f.get("rule")))

    def total(key: str) -> float:
        return sum(savings_point(f, key) or 0.0 for f in findings)

    return (
        _environment(lang)
        .get_template("fleet.html")
        .render(
            source=source,
            window_start=window.get("start"),
            window_end=window.get("end"),
            hosts=hosts,
            by_host=by_host,
            fleet=FleetFigures(
                read if isinstance(read, int) and isinstance(screened, int) else None,
                screened if isinstance(read, int) and isinstance(screened, int) else 0,
                [str(c) for c in curves] if isinstance(curves, list) else None,
            ),
            findings=findings,
            actions=[f for f in findings if savings_point(f, "facility_kwh_per_year")][:3],
            total_kwh=total("facility_kwh_per_year"),
            total_co2e=total("co2e_kg_per_year"),
            total_cost=total("cost_per_year") if site.price_per_kwh is not None else None,
            assumptions=assumptions,
            site=site,
            missing=_chart_note(text),
            waterfall=charts_summary.savings_waterfall(findings, drawn),
        )
    )
