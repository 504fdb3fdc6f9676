"""Demand profiles (`finwatt demand`): one host from the local store, or a fleet from Prometheus.

From the store: every monitoring run of the host that overlaps the window, read as
`analyze --since` reads them (raw samples, or minute rollups for long runs:
`profiler.workflows.analyze.read_window`), each entry placed at the middle of the
interval it observed, on the site's clock (`[defaults] tz`, default the host's zone).
From Prometheus or VictoriaMetrics: hourly rows aggregated in the query
(`profiler.prometheus.demand`). Either way the pure half is
`profiler.analysis.demand_summary.profiles_of`.
"""

from __future__ import annotations

import dataclasses
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.analysis.demand_summary import DeviceDemand, profiles_of
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock
from profiler.model.units import epoch_to_iso
from profiler.prometheus.api import ClientConfig, PrometheusApi, UrlOpen, load_client_config
from profiler.prometheus.demand import fetch_demand
from profiler.prometheus.query import DEFAULT_MATCH, DEFAULT_TIMEOUT_S
from profiler.settings.config import Settings
from profiler.settings.time_zones import zone
from profiler.store.database import Store
from profiler.workflows.analyze import read_window
from profiler.workflows.database import open_store
from profiler.workflows.run_data import Source

DEFAULT_DEADLINE_S = 120.0
"""Every request of one fleet read together (1,000 hosts x 30 days take seconds)."""


def settings_thresholds(settings: Settings, thresholds: Thresholds | None = None) -> Thresholds:
    """Return `thresholds` with the schedule's margin and transition cost from the settings."""
    base = thresholds or Thresholds()
    return dataclasses.replace(
        base,
        schedule_margin_s=settings.schedule_margin_s
        if settings.schedule_margin_s is not None
        else base.schedule_margin_s,
        schedule_transition_s=settings.schedule_transition_s
        if settings.schedule_transition_s is not None
        else base.schedule_transition_s,
    )


@dataclass(frozen=True)
class HostDemand:
    """One host's devices' demand.

    Attributes:
        host: the host name (store) or instance label (Prometheus).
        devices: host, CPU packages, GPUs and memory, in that order of the source.
    """

    host: str
    devices: list[DeviceDemand]


@dataclass(frozen=True)
class DemandResult:
    """What `finwatt demand` shows: the hosts' demand over one window.

    Attributes:
        source: "store" or "prometheus".
        tz: the IANA zone of every local time.
        start: epoch seconds where the window starts.
        end: epoch seconds where it ends.
        hosts: each host's demand.
        runs: the runs read (store only).
        prometheus: the URL read (Prometheus only).
    """

    source: str
    tz: str
    start: float
    end: float
    hosts: list[HostDemand]
    runs: list[str] = field(default_factory=list)
    prometheus: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the `finwatt.demand/1` document (less its `schema`, which emit adds)."""
        return {
            "source": self.source,
            "tz": self.tz,
            "window": {
                "start": epoch_to_iso(self.start),
                "end": epoch_to_iso(self.end),
                "runs": self.runs,
                "prometheus": self.prometheus,
            },
            "hosts": [
                {"host": h.host, "devices": [d.as_dict() for d in h.devices]} for h in self.hosts
            ],
        }


def demand_window(
    store: Store,
    since_s: float,
    tz: str,
    thresholds: Thresholds,
    *,
    host: str | None = None,
    now_s: float | None = None,
    source: Source = "auto",
) -> DemandResult:
    """Return the demand of `host` (default this machine) over the last `since_s`.

    Raises:
        AnalyzeError: no monitoring run of the host overlaps the window.
        UnknownZoneError: `tz` is not a zone.
    """
    end = time.time() if now_s is None else now_s
    window = read_window(store, since_s, host=host, now_s=end, source=source)
    clock = LocalClock(tz, zone(tz), window.views)
    devices = profiles_of(window.series, clock, thresholds)
    return DemandResult(
        "store",
        tz,
        end - since_s,
        end,
        [HostDemand(window.host, devices)],
        runs=[r.id for r in window.runs],
    )


def demand_since(
    settings: Settings, since_s: float, *, host: str | None = None, now_s: float | None = None
) -> DemandResult:
    """`finwatt demand`: the store the settings name, their zone, schedule margin and cost."""
    with open_store(settings, read_only=True) as store:
        return demand_window(
            store, since_s, settings.tz, settings_thresholds(settings), host=host, now_s=now_s
        )


def demand_prometheus(
    url: str,
    since_s: float,
    settings: Settings,
    *,
    match: str | None = None,
    client_config: Path | None = None,
    now_s: float | None = None,
    urlopen: UrlOpen = urllib.request.urlopen,
) -> DemandResult:
    """`finwatt demand --prometheus URL`: every host's demand from hourly rows.

    Raises:
        FleetUsageError: bad URL, selector, window or client config.
        FleetError: Prometheus unreachable, an API error, or no finwatt series.
    """
    api = PrometheusApi(
        url,
        timeout_s=DEFAULT_TIMEOUT_S,
        urlopen=urlopen,
        config=load_client_config(client_config) if client_config else ClientConfig(),
        deadline_s=DEFAULT_DEADLINE_S,
    )
    end = time.time() if now_s is None else now_s
    fleet = fetch_demand(api, match or DEFAULT_MATCH, since_s, end)
    clock = LocalClock(settings.tz, zone(settings.tz))
    thresholds = settings_thresholds(settings)
    hosts = [
        HostDemand(instance, profiles_of(devices, clock, thresholds, fleet.peaks))
        for instance, devices in sorted(fleet.hosts.items())
    ]
    return DemandResult(
        "prometheus", settings.tz, fleet.start, fleet.end, hosts, prometheus=api.url
    )
