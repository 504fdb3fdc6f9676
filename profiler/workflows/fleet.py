"""Analyse a fleet through Prometheus: read every host back, then apply the fleet rules.

`finwatt analyze --prometheus URL` and `finwatt report --prometheus URL`: the HTTP client
and loader are `profiler.prometheus.query`, the rules `profiler.analysis.fleet_rules`.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from profiler.analysis.assess import Assessment
from profiler.analysis.findings import Finding
from profiler.analysis.fleet_rules import assess_fleet
from profiler.analysis.savings import Site
from profiler.analysis.thresholds import Thresholds
from profiler.prometheus.query import (
    FleetOptions,
    PrometheusApi,
    UrlOpen,
    check_options,
    fetch_fleet,
)


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
        """Return design.md's Findings document; `metrics` holds hosts, fleet and window."""
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
) -> FleetResult:
    """Read the fleet from Prometheus and assess it (`finwatt analyze --prometheus`).

    Raises:
        FleetUsageError: bad URL, selector or window.
        FleetError: Prometheus unreachable, an API error, or no finwatt series.
    """
    check_options(options)
    api = PrometheusApi(options.url, timeout_s=options.timeout_s, urlopen=urlopen)
    hosts, start, end = fetch_fleet(api, options, now_s)
    assessed = assess_fleet(hosts, site, thresholds, options.min_hosts)
    fleet = assessed.fleet
    return FleetResult(
        fleet.findings, assessed.hosts, fleet.metrics, fleet.assumptions, start, end, options
    )
