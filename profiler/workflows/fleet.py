"""Analyse a fleet through Prometheus: read every host back, then apply the fleet rules.

`finwatt analyze --prometheus URL` and `finwatt report --prometheus URL`: the HTTP client
and loader are `profiler.prometheus.query`, the rules `profiler.analysis.fleet_rules`.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.analysis.assess import Assessment
from profiler.analysis.findings import apply_precedence, ranked
from profiler.analysis.fleet_demand import fleet_time_findings
from profiler.analysis.fleet_rules import assess_fleet
from profiler.analysis.phases import cpu_ids, is_host_cpu
from profiler.analysis.profile import summarise_ladders
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock
from profiler.analysis.week import WEEK_S
from profiler.model.errors import FinwattError
from profiler.model.findings import Finding
from profiler.model.provenance import is_estimate
from profiler.model.savings import Site
from profiler.prometheus.curves import PublishedCurve
from profiler.prometheus.demand import (
    FIVE_MIN_S,
    HOUR_S,
    MAX_HOURS,
    fetch_demand,
    hour_grid,
    hours_from_steps,
)
from profiler.prometheus.query import (
    FleetData,
    FleetOptions,
    PrometheusApi,
    UrlOpen,
    check_options,
    fetch_fleet,
)
from profiler.settings.time_zones import zone
from profiler.store.database import Store
from profiler.workflows.analyze import ladder_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetResult:
    """Per-host assessments and the fleet findings.

    Attributes:
        findings: every finding (per host and fleet), after precedence, ranked.
        hosts: instance -> that host's assessment.
        fleet_metrics: the fleet figures (groups, idle energy).
        assumptions: every assumption line, once.
        window_start: UTC epoch seconds where the window starts.
        window_end: UTC epoch seconds where it ends.
        options: what was queried.

    """

    findings: list[Finding]
    hosts: dict[str, Assessment]
    fleet_metrics: dict[str, Any]
    assumptions: list[str]
    window_start: float
    window_end: float
    options: FleetOptions

    def as_dict(self, iso: Callable[[float], str]) -> dict[str, Any]:
        """Return the docs/design.md#findings document; `metrics` holds hosts, fleet and window."""
        return {
            "run": None,
            "findings": [f.as_dict() for f in self.findings],
            "metrics": {
                "hosts": {name: a.metrics for name, a in self.hosts.items()},
                "fleet": self.fleet_metrics,
                "window": {
                    "runs": [],
                    "start": iso(self.window_start),
                    "end": iso(self.window_end),
                    "source": "prometheus",
                    "prometheus": self.options.url,
                    "match": self.options.match,
                    "step_s": self.options.step_s,
                },
            },
        }


def analyze_prometheus(
    options: FleetOptions,
    site: Site,
    thresholds: Thresholds,
    *,
    now_s: float,
    urlopen: UrlOpen = urllib.request.urlopen,
    tz: str | None = None,
) -> FleetResult:
    """Read the fleet from Prometheus and assess it (`finwatt analyze --prometheus`).

    `tz`: the site's zone; with it the hosts' hourly demand is read too (hours and their
    5-minute peaks aggregated in PromQL, `profiler.prometheus.demand`) for the schedule
    findings and COMPLEMENTARY_PEAKS (`profiler.analysis.fleet_demand`).

    Raises:
        FleetUsageError: bad URL, selector or window.
        FleetError: Prometheus unreachable, an API error, or no finwatt series.
    """
    check_options(options)
    api = PrometheusApi(
        options.url,
        timeout_s=options.timeout_s,
        urlopen=urlopen,
        config=options.client,
        deadline_s=options.deadline_s,
    )
    data = fetch_fleet(api, options, now_s, thresholds)
    assessed = assess_fleet(data.hosts, site, thresholds, options.min_hosts, data.util_of)
    fleet = assessed.fleet
    fleet.metrics["requests"] = data.requests
    findings, assumptions = fleet.findings, fleet.assumptions
    if tz is not None:
        timed = fleet_demand(api, options, now_s, tz, site, thresholds, read=data)
        findings = ranked(apply_precedence([*findings, *timed]))
        lines = [*assumptions, *(line for f in timed for line in f.assumptions)]
        assumptions = list(dict.fromkeys(lines))
    return FleetResult(
        findings,
        assessed.hosts,
        fleet.metrics,
        assumptions,
        data.start,
        data.end,
        options,
    )


def fleet_demand(
    api: PrometheusApi,
    options: FleetOptions,
    now_s: float,
    tz: str,
    site: Site,
    thresholds: Thresholds,
    *,
    read: FleetData | None = None,
) -> list[Finding]:
    """Return the fleet's findings that see time, from hourly rows over the window.

    None below `demand_min_weeks` of window (no window recurs in less, so no query is
    made); a window longer than `MAX_HOURS` is read over its last `MAX_HOURS`. `read`:
    the fleet read already made; at 5-minute steps the hosts it read in full share it
    (`hours_from_steps`) and only the hosts screened clear are queried by the hour.
    """
    if options.since_s < thresholds.demand_min_weeks * WEEK_S:
        return []
    since_s = min(options.since_s, MAX_HOURS * HOUR_S)
    known = {}
    if read is not None and options.step_s == FIVE_MIN_S:
        grid = hour_grid(since_s, now_s)
        span = (read.start + options.step_s, read.end)
        known = {h.instance: hours_from_steps(h.series, grid, span) for h in read.hosts if h.series}
    demand = fetch_demand(
        api, options.match, since_s, now_s, concurrency=options.concurrency, known=known
    )
    clock = LocalClock(tz, zone(tz))
    return fleet_time_findings(demand.hosts, demand.peaks, demand.grid, clock, site, thresholds)


def latest_curve(store: Store, host: str) -> PublishedCurve | None:
    """The CPU power curve of `host`'s newest valid profiling run, for the exporter.

    Valid: a profiling run whose ladder on the whole CPU (`cpu`, or the only
    package) has an idle level and a loaded one, with measured (not estimated) power.
    `load` is each level's throughput as a share of the ladder's peak.
    """
    for run in store.runs.all():
        if not run.is_profiling or run.host != host:
            continue
        packages = cpu_ids(store.devices.for_run(run.id))
        for summary in summarise_ladders(ladder_data(store, run).phases):
            metrics = summary.metrics
            if metrics is None or is_estimate(summary.provenance):
                continue
            if not is_host_cpu(summary.device, packages):
                continue
            return PublishedCurve(
                run_id=run.id,
                run_end_s=(run.ended or run.started).timestamp(),
                workload=summary.workload,
                device=summary.device,
                provenance=summary.provenance or "",
                points=tuple(metrics.curve),
            )
    return None


def curve_for_exporter(db_path: Path, host: str | None = None) -> PublishedCurve | None:
    """`latest_curve` of this host from the database at `db_path`; None when it cannot.

    The exporter must start even without a database or a profiling run: a missing or
    unreadable database logs one line and publishes no curve.
    """
    if not db_path.exists():
        return None
    try:
        with Store(db_path) as store:
            return latest_curve(store, host or socket.gethostname())
    except (FinwattError, OSError, ValueError, sqlite3.Error) as err:
        log.warning("no power curve published: %s", err)
        return None
