"""Embodied carbon beside operational in `finwatt analyze` (docs/methodology.md#carbon).

With `[embodied]` in the config, the analysed host's inventory (the shared keys, then its
`[embodied.hosts.NAME]` overrides) gives its embodied carbon by Boavizta's server model
(`profiler.analysis.embodied`, `estimated:embodied-boavizta`), amortised over its service
life. `metrics.embodied` shows it beside the host's operational CO2e per year, and a
finding that retires the host (IDLE_HOST) shows both side by side in its evidence: the
energy it saves, and the embodied carbon per year a replacement would add, or not.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

from profiler.analysis.embodied import PROVENANCE, ServerInventory, embodied
from profiler.analysis.thresholds import Thresholds
from profiler.model.errors import FinwattInputError
from profiler.model.findings import Finding
from profiler.model.savings import Site
from profiler.settings.config import Settings
from profiler.settings.embodied_table import DEFAULT_LIFE_YEARS, host_inventory
from profiler.store.database import Store
from profiler.workflows.analyze import AnalyzeResult, analyze_run, analyze_since, resolve_run

RETIRE_RULES = ("IDLE_HOST",)
"""Findings that retire the host: their evidence gains its embodied carbon per year."""

FREEING_RULES = {"CONSOLIDATE_HOSTS": "free_hosts", "COMPLEMENTARY_PEAKS": "free"}
"""Fleet findings that free hosts, and the recommendation key that says which or how many."""


class EmbodiedError(FinwattInputError):
    """`[embodied]` lacks a key the model needs for the analysed host (exit 2)."""


def with_embodied(
    result: AnalyzeResult, table: dict[str, Any], host: str, site: Site
) -> AnalyzeResult:
    """Return `result` with the host's embodied carbon beside its operational CO2e.

    Raises:
        EmbodiedError: `[embodied]` lacks a key for this host.
    """
    try:
        inventory = host_inventory(table, host)
    except ValueError as err:
        raise EmbodiedError(str(err)) from None
    if inventory is None:
        return result
    life = inventory.pop("life_years", None)
    figure = embodied(ServerInventory(**inventory), life or DEFAULT_LIFE_YEARS)
    annual = result.annual
    operational = (
        None
        if annual is None or annual.it_kwh_per_year is None
        else annual.it_kwh_per_year * site.pue * site.grid_g_per_kwh / 1000.0
    )
    life_line = f"service life {figure.life_years:g} years" + (
        "" if life else " (default; set [embodied] life_years)"
    )
    result.assessment.metrics["embodied"] = {
        **figure.as_dict(),
        "host": host,
        "life_note": life_line,
        "operational_co2e_kg_per_year": operational,
        "operational_basis": f"location-based, annual {site.grid_g_per_kwh:g} g/kWh: "
        f"{site.grid_label}",
    }
    findings = [_retire(f, figure.kg_per_year, life_line) for f in result.assessment.findings]
    return replace(result, assessment=replace(result.assessment, findings=findings))


def _retire(finding: Finding, kg_per_year: float, life_line: str) -> Finding:
    """A retiring finding with its embodied carbon per year beside its operational saving."""
    if finding.rule not in RETIRE_RULES:
        return finding
    evidence = {
        **finding.evidence,
        "embodied_kg_per_year": kg_per_year,
        "embodied_provenance": PROVENANCE,
    }
    line = (
        f"embodied {kg_per_year:.4g} kg CO2e/yr ({PROVENANCE}, {life_line}): a replacement "
        "adds it, retiring without one avoids it; not in the savings above"
    )
    return replace(finding, evidence=evidence, assumptions=(*finding.assumptions, line))


def analyzed(
    store: Store,
    settings: Settings,
    site: Site,
    thresholds: Thresholds,
    since_s: float | None,
    run_id: str | None,
    host: str | None,
) -> AnalyzeResult:
    """Analyse the window (`since_s`) or the run, with the host's embodied carbon.

    Raises:
        EmbodiedError: `[embodied]` lacks a key for the analysed host.
    """
    if since_s is not None:
        result = analyze_since(store, since_s, site, thresholds, host=host, tz=settings.tz)
        analysed_host = host or socket.gethostname()
    else:
        run = resolve_run(store, run_id)
        result = analyze_run(store, run, site, thresholds)
        analysed_host = run.host
    return with_embodied(result, settings.embodied, analysed_host, site)


def with_freed_embodied(findings: list[Finding], table: dict[str, Any]) -> list[Finding]:
    """Return fleet findings that free hosts with the embodied carbon of the hosts freed.

    COMPLEMENTARY_PEAKS names the hosts it frees: their own figures are summed.
    CONSOLIDATE_HOSTS frees N of a group of similar hosts without naming them: N times
    the group's mean. Without `[embodied]` the findings are returned as they are.

    Raises:
        EmbodiedError: `[embodied]` lacks a key for one of the hosts.
    """
    if not table:
        return findings
    return [_freeing(f, table) for f in findings]


def _freeing(finding: Finding, table: dict[str, Any]) -> Finding:
    """One fleet finding with the freed hosts' embodied CO2e per year beside its saving."""
    key = FREEING_RULES.get(finding.rule)
    freed = (finding.recommendation or {}).get(key) if key else None
    if isinstance(freed, list):
        figures = [_host_figure(table, str(name)) for name in freed]
    elif isinstance(freed, int) and freed > 0:
        group = [_host_figure(table, str(h)) for h in finding.evidence.get("hosts", [])]
        mean = sum(g[0] for g in group) / len(group) if group else 0.0
        figures = [(mean, group[0][1])] * freed if group else []
    else:
        return finding
    if not figures:
        return finding
    kg = sum(f[0] for f in figures)
    evidence = {
        **finding.evidence,
        "embodied_kg_per_year_freed": kg,
        "embodied_provenance": PROVENANCE,
    }
    line = (
        f"embodied {kg:.4g} kg CO2e/yr of the {len(figures)} freed hosts ({PROVENANCE}, "
        f"{figures[0][1]}): not replacing them avoids it; not in the savings above"
    )
    return replace(finding, evidence=evidence, assumptions=(*finding.assumptions, line))


def _host_figure(table: dict[str, Any], host: str) -> tuple[float, str]:
    """A host's embodied kg CO2e per year and its service-life line."""
    try:
        inventory = host_inventory(table, host)
    except ValueError as err:
        raise EmbodiedError(str(err)) from None
    if inventory is None:
        return 0.0, ""
    life = inventory.pop("life_years", None)
    figure = embodied(ServerInventory(**inventory), life or DEFAULT_LIFE_YEARS)
    life_line = f"service life {figure.life_years:g} years" + (
        "" if life else " (default; set [embodied] life_years)"
    )
    return figure.kg_per_year, life_line
