"""Fleet analysis through Prometheus (`finwatt analyze --prometheus URL`).

Every host runs `finwatt serve` and Prometheus scrapes it; this module reads the fleet
back with Prometheus's HTTP API (`/api/v1/query_range`, `/api/v1/query`; the standard
library's urllib, a timeout on every request, no shell), turns each host (`instance`
label) into the analyzer's `DeviceSeries`, assesses each host with the same
`assess_usage` as a local window, and adds fleet findings:

- `CONSOLIDATE_HOSTS`: N similar hosts (same provisioned cores and CPU model) whose
  combined load fits on M < N of them, M = max(min_hosts, ceil(N x P95_u / target))
  (methodology section 6), saving N.P(u) - M.P(N.u/M) on the host power curve.
- `FLEET_IDLE_ENERGY`: the energy the fleet drew while its hosts were idle, annualised:
  an observation (savings null; powering idle hosts off is `IDLE_HOST`'s saving).

Series are 5-minute means by default: `avg_over_time(metric[step])` evaluated every
`step` (memory: `max_over_time`, so daily peaks stay peaks), the range one millisecond
shorter than the step so no sample counts in two windows. Each point stands for the step
ending at it, so a device's energy is mean power x step. Check a series by hand with
`curl -G URL/api/v1/query_range --data-urlencode 'query=finwatt_power_watts' ...`.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.analysis.assess import Assessment, assess_usage
from profiler.analysis.confidence import Quality, curve_tier, power_tier
from profiler.analysis.curve import PowerCurve, model_curves
from profiler.analysis.findings import Finding, apply_precedence, ranked
from profiler.analysis.savings import (
    Estimate,
    Site,
    consolidated_hosts,
    consolidation_saving_w,
    savings_from_power,
)
from profiler.analysis.stats import nearest_rank
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.series import DeviceSeries, FloatArray
from profiler.model.units import HOURS_PER_YEAR, J_PER_KWH

DEFAULT_MATCH = '{job="finwatt"}'
DEFAULT_TIMEOUT_S = 30.0
MAX_POINTS_PER_QUERY = 10_000
"""Prometheus refuses a query_range of more than 11,000 points per series."""

#: Host rules whose own finding already acts on a host: it is not also consolidated.
_SELF_ACTING_RULES = frozenset(
    {"IDLE_HOST", "OVER_PROVISIONED_CPU", "UNDER_PROVISIONED_CPU", "INSUFFICIENT_DATA"}
)

UrlOpen = Callable[..., Any]


class FleetError(RuntimeError):
    """Prometheus is unreachable or answered with an error; the message says which."""


class FleetUsageError(ValueError):
    """A bad URL, selector or window; the message names the option."""


@dataclass(frozen=True)
class FleetOptions:
    """What to read and how to group hosts.

    Attributes:
        url: Prometheus base URL, e.g. http://prometheus:9090.
        since_s: length of the window in seconds, ending now.
        step_s: resolution in seconds (each point is the mean of one step).
        match: label matchers selecting finwatt's series, e.g. `{job="finwatt"}`.
        min_hosts: never consolidate a group onto fewer hosts (redundancy: 2).
        timeout_s: timeout of each HTTP request.

    """

    url: str
    since_s: float = 14 * 86_400.0
    step_s: float = 300.0
    match: str = DEFAULT_MATCH
    min_hosts: int = 2
    timeout_s: float = DEFAULT_TIMEOUT_S


# --- the HTTP API ---------------------------------------------------------------------


class PrometheusApi:
    """A minimal client of Prometheus's HTTP API (GET, JSON, one timeout per request).

    Args:
        url: base URL (`http://host:9090`, optionally with a path prefix).
        timeout_s: seconds to wait for each answer.
        urlopen: `urllib.request.urlopen` or a stand-in with its signature.

    Raises:
        FleetUsageError: the URL is not http(s)://host[:port][/path].

    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        urlopen: UrlOpen = urllib.request.urlopen,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FleetUsageError(f"--prometheus {url!r}: use http://HOST:PORT (e.g. :9090)")
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._urlopen = urlopen

    def _get(self, endpoint: str, params: Mapping[str, str]) -> Any:
        address = f"{self.url}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"
        try:
            with self._urlopen(address, timeout=self._timeout_s) as answer:
                body = answer.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            message = _api_error(body) or f"HTTP {err.code} {err.reason}"
            raise FleetError(f"Prometheus at {self.url} refused {endpoint}: {message}") from err
        except (urllib.error.URLError, OSError) as err:
            reason = err.reason if isinstance(err, urllib.error.URLError) else err
            raise FleetError(f"Prometheus at {self.url} is unreachable: {reason}") from err
        try:
            document = json.loads(body)
        except ValueError as err:
            raise FleetError(
                f"{address.split('?')[0]} did not answer JSON: is {self.url} a Prometheus?"
            ) from err
        if not isinstance(document, dict) or document.get("status") != "success":
            message = _api_error(body) or "unexpected answer"
            raise FleetError(f"Prometheus at {self.url} refused {endpoint}: {message}")
        return document.get("data", {})

    def query(self, expr: str, at_s: float) -> list[tuple[dict[str, str], float]]:
        """Return an instant vector: (labels, value) per series at epoch seconds `at_s`."""
        data = self._get("query", {"query": expr, "time": f"{at_s:.3f}"})
        return [
            (dict(item.get("metric", {})), float(item["value"][1]))
            for item in data.get("result", [])
        ]

    def query_range(
        self, expr: str, start_s: float, end_s: float, step_s: float
    ) -> list[tuple[dict[str, str], FloatArray, FloatArray]]:
        """Return (labels, epoch times, values) per series, split into allowed chunks."""
        chunk_s = step_s * MAX_POINTS_PER_QUERY
        found: dict[tuple[tuple[str, str], ...], tuple[list[float], list[float]]] = {}
        chunk_start = start_s
        while chunk_start <= end_s:
            chunk_end = min(end_s, chunk_start + chunk_s - step_s)
            params = {
                "query": expr,
                "start": f"{chunk_start:.3f}",
                "end": f"{chunk_end:.3f}",
                "step": f"{step_s:g}",
            }
            for item in self._get("query_range", params).get("result", []):
                key = tuple(sorted(item.get("metric", {}).items()))
                times, values = found.setdefault(key, ([], []))
                for t, v in item.get("values", []):
                    times.append(float(t))
                    values.append(float(v))
            chunk_start = chunk_end + step_s
        return [
            (dict(key), np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64))
            for key, (times, values) in found.items()
        ]


def _api_error(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("error"):
        return f"{document.get('errorType', 'error')}: {document['error']}"
    return None


# --- series -------------------------------------------------------------------------


def selector(metric: str, match: str) -> str:
    """Return `metric{matchers}` from a `{...}` selector (`{}` or empty: all series).

    Raises:
        FleetUsageError: `match` is not of the form `{label="value", ...}`.
    """
    text = match.strip()
    if not text:
        return metric
    if not (text.startswith("{") and text.endswith("}")):
        raise FleetUsageError(f'--match {match!r}: use label matchers, e.g. {{job="finwatt"}}')
    return f"{metric}{text}"


@dataclass(frozen=True)
class HostData:
    """One host's devices as the analyzer sees them.

    Attributes:
        instance: the Prometheus `instance` label.
        series: every device, device ids prefixed `instance/`.
        model: the host's CPU model, None when not exported.
        cores: the host's logical cores, None when not exported.

    """

    instance: str
    series: list[DeviceSeries]
    model: str | None
    cores: int | None


_RANGE_METRICS = (
    ("util", "avg_over_time", "finwatt_utilization_ratio"),
    ("power_w", "avg_over_time", "finwatt_power_watts"),
    ("mem_used_bytes", "max_over_time", "finwatt_memory_used_bytes"),
    ("sm_active", "avg_over_time", "finwatt_sm_active_ratio"),
)
_STATIC_METRICS = (
    ("logical_cores", "finwatt_device_logical_cores"),
    ("mem_total_bytes", "finwatt_device_memory_total_bytes"),
    ("power_limit_w", "finwatt_device_power_limit_watts"),
)


def fetch_fleet(
    api: PrometheusApi, options: FleetOptions, end_s: float
) -> tuple[list[HostData], float, float]:
    """Read every host's devices in the window ending at `end_s`; return (hosts, start, end).

    The window's ends are aligned to whole steps, so the same data give the same points
    whenever the query runs.

    Raises:
        FleetError: Prometheus failed, or holds no finwatt series for `match`.
    """
    step = options.step_s
    end = math.floor(end_s / step) * step
    start = end - math.floor(options.since_s / step) * step + step
    window = f"{round(step * 1000) - 1}ms"
    devices: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(labels: Mapping[str, str]) -> dict[str, Any] | None:
        instance, device = labels.get("instance"), labels.get("device")
        if not instance or not device:
            return None
        return devices.setdefault(
            (instance, device),
            {"kind": labels.get("kind") or device.partition(":")[0], "labels": dict(labels)},
        )

    lookback = f"{round(options.since_s)}s"
    for labels, _ in api.query(
        f"last_over_time({selector('finwatt_device_info', options.match)}[{lookback}])", end
    ):
        found = entry(labels)
        if found is not None:
            found["model"] = labels.get("model") or None
            found["provenance"] = labels.get("provenance") or None
    for name, metric in _STATIC_METRICS:
        expr = f"last_over_time({selector(metric, options.match)}[{lookback}])"
        for labels, value in api.query(expr, end):
            found = entry(labels)
            if found is not None:
                found[name] = value
    grid = np.arange(start, end + step / 2, step)
    for name, function, metric in _RANGE_METRICS:
        expr = f"{function}({selector(metric, options.match)}[{window}])"
        for labels, times, values in api.query_range(expr, start, end, step):
            found = entry(labels)
            if found is None:
                continue
            column = found.setdefault(name, np.full(grid.size, np.nan))
            index = np.rint((times - start) / step).astype(np.int64)
            keep = (index >= 0) & (index < grid.size)
            column[index[keep]] = values[keep]
            if found.get("provenance") is None:
                found["provenance"] = labels.get("provenance") or None
    if not devices:
        raise FleetError(
            f"Prometheus at {api.url} holds no finwatt series matching {options.match} in "
            f"the last {options.since_s:g} s: is it scraping `finwatt serve`?"
        )
    by_host: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for (instance, device), found in sorted(devices.items()):
        by_host.setdefault(instance, []).append((device, found))
    hosts = [_host(instance, items, grid, step) for instance, items in by_host.items()]
    return hosts, start - step, end


def _host(
    instance: str, items: list[tuple[str, dict[str, Any]]], grid: FloatArray, step: float
) -> HostData:
    series: list[DeviceSeries] = []
    model: str | None = None
    cores: int | None = None
    for device, found in items:
        cores_value = found.get("logical_cores")
        mem_value = found.get("mem_total_bytes")
        spec = DeviceInfo(
            device_id=f"{instance}/{device}",
            kind=found["kind"],
            logical_cores=int(cores_value) if cores_value is not None else None,
            mem_total_bytes=int(mem_value) if mem_value is not None else None,
            power_limit_w=found.get("power_limit_w"),
            provenance=found.get("provenance"),
        )
        if spec.kind == "host" or (model is None and spec.kind == "cpu"):
            model = found.get("model") or model
        if spec.kind == "host":
            cores = spec.logical_cores
        columns = {
            name: found.get(name, np.full(grid.size, np.nan)) for name, _, _ in _RANGE_METRICS
        }
        present = np.zeros(grid.size, dtype=bool)
        for column in columns.values():
            present |= ~np.isnan(column)
        if not present.any():
            continue
        power = columns["power_w"][present]
        series.append(
            DeviceSeries(
                spec,
                grid[present],
                columns["util"][present],
                power,
                power * step,
                columns["mem_used_bytes"][present],
                columns["sm_active"][present],
                np.full(int(present.sum()), step),
            )
        )
    return HostData(instance, series, model, cores)


# --- fleet findings -----------------------------------------------------------------


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


def _host_device(host: HostData) -> DeviceSeries | None:
    return next((s for s in host.series if s.spec.kind == "host"), None)


def _power_devices(host: HostData) -> list[DeviceSeries]:
    return [s for s in host.series if s.spec.kind in ("cpu", "dram") and s.spec.provenance]


def consolidation(
    group: Sequence[HostData],
    site: Site,
    thresholds: Thresholds,
    min_hosts: int,
) -> tuple[Finding | None, dict[str, Any]]:
    """CONSOLIDATE_HOSTS for N similar hosts (methodology section 6); also its figures.

    P95_u is the nearest-rank P95 of the group's mean utilisation per step (the combined
    demand, not each host's own P95); target is the right-sizing target of the mode
    (0.65 production, 0.80 conservative, with the conservative P99.5). Savings
    N.P(u) - M.P(N.u/M) on the linear power model of the hosts' CPU packages; low and
    high use Kubecost's 0.50 and 0.80 targets and the model's idle ratios 0.14 and 0.23.
    """
    names = [h.instance for h in group]
    subjects = [s for h in group if (s := _host_device(h)) is not None]
    times = np.unique(np.concatenate([s.t for s in subjects]))
    stacked = np.full((len(subjects), times.size), np.nan)
    for row, s in enumerate(subjects):
        stacked[row, np.searchsorted(times, s.t)] = s.util
    counted = (~np.isnan(stacked)).sum(axis=0)
    fleet_util = np.where(counted > 0, np.nansum(stacked, axis=0) / np.maximum(counted, 1), np.nan)
    q, target = thresholds.over_cpu_quantile, thresholds.over_cpu_target
    pq = nearest_rank(fleet_util, q)
    finite = fleet_util[~np.isnan(fleet_util)]
    mean_u = float(finite.mean()) if finite.size else None
    n = len(group)
    figures: dict[str, Any] = {
        "hosts": names,
        "cores": group[0].cores,
        "model": group[0].model,
        f"p{q * 100:g}_util".replace(".", "_"): pq,
        "mean_util": mean_u,
    }
    if pq is None or mean_u is None:
        return None, figures
    m = consolidated_hosts(n, pq, target, min_hosts)
    figures["consolidate_onto"] = m
    if m >= n:
        return None, figures
    curves = model_curves([s.spec for s in _power_devices(group[0])], thresholds)
    savings = None
    if curves is not None:
        point, low, high = curves

        def saved(curve: PowerCurve, target_util: float) -> float:
            hosts_after = min(n, consolidated_hosts(n, pq, target_util, min_hosts))
            return consolidation_saving_w(curve, n, hosts_after, mean_u)

        watts = Estimate(
            saved(point, target),
            saved(low, thresholds.cpu_target_low),
            saved(high, thresholds.cpu_target_high),
        )
        savings = savings_from_power(watts, site)
        figures["saving_w"] = watts.point
    quality = Quality(
        power=power_tier(s.spec.provenance for h in group for s in _power_devices(h)),
        curve=curve_tier(curves[0] if curves else None),
        history="medium",
        site_defaulted=site.defaulted,
    )
    label = f"P{q * 100:g}"
    shown = ", ".join(names)
    notes = [
        f"similar hosts: same provisioned cores ({group[0].cores}) and CPU model "
        f"({group[0].model or 'unknown'})",
        f"M = max({min_hosts}, ceil(N x {label} of the group's mean utilisation / {target:g})) "
        "(methodology section 6); at least "
        f"{min_hosts} hosts kept for redundancy",
        "hosts with their own IDLE_HOST or CPU right-sizing finding are not counted here",
        "resolution: Prometheus query_range means per step",
    ]
    if curves is not None:
        notes.append(f"host power curve: {curves[0].label} (no fleet ladder)")
        notes.append("savings cover the CPU packages' power only, not the whole server")
    else:
        notes.append("no host power curve (no CPU power limit exported): savings not computed")
    finding = Finding(
        rule="CONSOLIDATE_HOSTS",
        device=shown,
        severity="warning",
        message=(
            f"{n} similar hosts ({shown}) together use {pq:.1%} of their capacity at "
            f"{label}; {m} of them would carry the load at {target:.0%} target utilisation, "
            f"so {n - m} can be freed."
        ),
        evidence={
            "hosts": names,
            "n_hosts": n,
            f"p{q * 100:g}_group_util".replace(".", "_"): pq,
            "mean_group_util": mean_u,
            "target_util": target,
            "provisioned_cores": group[0].cores,
            "mode": thresholds.mode,
        },
        recommendation={"hosts": m, "free_hosts": n - m},
        savings=savings,
        confidence=quality.tier(with_savings=savings is not None),
        assumptions=(*notes, *(site.assumptions() if savings else ())),
    )
    return finding, figures


def idle_energy(
    hosts: Sequence[HostData], site: Site, thresholds: Thresholds
) -> tuple[Finding | None, dict[str, Any]]:
    """FLEET_IDLE_ENERGY: energy drawn at steps where a host's utilisation was idle.

    Idle is a step mean below the indicative idle bound (3%, the IDLE_HOST P95 bound,
    methodology section 5). Annualised over the window (x 8,760 h / window hours).
    """
    per_host: dict[str, float] = {}
    seconds = 0.0
    for host in hosts:
        subject = _host_device(host)
        if subject is None:
            continue
        idle_times = subject.t[subject.util < thresholds.indicative_cpu_idle_util]
        seconds = max(seconds, float(subject.t[-1] - subject.t[0] + subject.interval_s[0]))
        joules = 0.0
        for device in _power_devices(host):
            at_idle = np.isin(device.t, idle_times) & ~np.isnan(device.energy_delta_j)
            joules += float(device.energy_delta_j[at_idle].sum())
        if joules > 0:
            per_host[host.instance] = joules
    total_j = sum(per_host.values())
    figures: dict[str, Any] = {"idle_energy_j": total_j, "hosts": per_host}
    if total_j <= 0 or seconds <= 0:
        return None, figures
    kwh_per_year = total_j / J_PER_KWH * (HOURS_PER_YEAR * 3600.0 / seconds)
    figures["idle_it_kwh_per_year"] = kwh_per_year
    facility = kwh_per_year * site.pue
    names = sorted(per_host)
    finding = Finding(
        rule="FLEET_IDLE_ENERGY",
        device=", ".join(names),
        severity="info",
        message=(
            f"{len(names)} host(s) drew {total_j / J_PER_KWH:,.1f} kWh while idle in the "
            f"window, about {kwh_per_year:,.0f} kWh/yr IT ({facility:,.0f} kWh/yr facility); "
            f"see the IDLE_HOST and consolidation findings for what to switch off."
        ),
        evidence={
            "idle_energy_j": total_j,
            "idle_energy_j_by_host": per_host,
            "window_s": seconds,
            "idle_it_kwh_per_year": kwh_per_year,
            "idle_util_below": thresholds.indicative_cpu_idle_util,
        },
        recommendation=None,
        savings=None,
        confidence="low" if site.defaulted else "medium",
        assumptions=(
            "idle: a step's mean host utilisation below 3% (the IDLE_HOST P95 bound)",
            "energy of the hosts' CPU/DRAM devices; GPUs are in their own findings",
            "an observation, not a saving by itself",
        ),
    )
    return finding, figures


def assess_fleet(
    hosts: Sequence[HostData],
    site: Site,
    thresholds: Thresholds,
    options: FleetOptions,
    window: tuple[float, float],
) -> FleetResult:
    """Assess every host with `assess_usage`, then add the fleet findings."""
    assessments = {h.instance: assess_usage(h.series, site, thresholds) for h in hosts}
    findings: list[Finding] = [f for a in assessments.values() for f in a.findings]
    acting: dict[str, set[str]] = {}
    for instance, assessment in assessments.items():
        acting[instance] = {f.rule for f in assessment.findings} & _SELF_ACTING_RULES
    groups: dict[tuple[int | None, str | None], list[HostData]] = {}
    for host in hosts:
        if host.cores and _host_device(host) is not None and not acting[host.instance]:
            groups.setdefault((host.cores, host.model), []).append(host)
    fleet_metrics: dict[str, Any] = {"hosts": len(hosts), "groups": []}
    for group in groups.values():
        if len(group) < 2:
            continue
        finding, figures = consolidation(group, site, thresholds, options.min_hosts)
        fleet_metrics["groups"].append(figures)
        findings.extend([finding] if finding else [])
    idle, figures = idle_energy(hosts, site, thresholds)
    fleet_metrics["idle"] = figures
    findings.extend([idle] if idle else [])
    fleet_metrics["site"] = site.assumptions()
    kept = ranked(apply_precedence(findings))
    lines: list[str] = []
    for line in [*(a for f in kept for a in f.assumptions), *site.assumptions()]:
        if line not in lines:
            lines.append(line)
    return FleetResult(kept, assessments, fleet_metrics, lines, window[0], window[1], options)


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
    if options.step_s <= 0 or options.since_s < options.step_s:
        raise FleetUsageError(
            f"--since {options.since_s:g}s must be at least --step {options.step_s:g}s (> 0)"
        )
    selector("finwatt_utilization_ratio", options.match)
    api = PrometheusApi(options.url, timeout_s=options.timeout_s, urlopen=urlopen)
    hosts, start, end = fetch_fleet(api, options, now_s)
    return assess_fleet(hosts, site, thresholds, options, (start, end))
