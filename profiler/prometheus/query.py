"""Read a fleet back from Prometheus (`finwatt analyze --prometheus URL`).

Every host runs `finwatt serve` and Prometheus (or VictoriaMetrics, Thanos, Mimir: the
same API) scrapes it; this module reads the fleet back and turns each host (`instance`
label) into the analyzer's `HostData`. The metrics read are those
`profiler.model.samples.METRIC_SPECS` gives a fleet aggregate, the capacity gauges of
`profiler.model.device.CAPACITY_METRICS`, and each host's measured power curve
(`finwatt_power_curve_watts`). The fleet rules are `profiler.analysis.fleet_rules`;
`profiler.workflows.fleet` joins the two.

How it scales (docs/fleet.md): static facts and curves in a few instant queries; then
screening in Prometheus (`profiler.prometheus.screen`: per-host quantiles and minima of
the step means, seven instant queries for the whole fleet); only the *suspect* hosts'
series are read, in batches of `batch_hosts` instances (`instance=~"a|b|..."`), at most
`concurrency` requests at a time, all within `deadline_s`; the consolidation check reads
one PromQL `avg` series per group of similar hosts, not the hosts' series.

Series are 5-minute means by default: `avg_over_time(metric[step])` evaluated every
`step` (memory: `max_over_time`, so daily peaks stay peaks), the range one millisecond
shorter than the step so no sample counts in two windows. Each point stands for the step
ending at it, so a device's energy is mean power x step. Check a series by hand with
`curl URL/api/v1/query_range --data-urlencode 'query=finwatt_power_watts' ...`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from profiler.analysis.fleet_rules import GroupUtil, HostData
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import CAPACITY_METRICS, DeviceInfo
from profiler.model.samples import METRIC_SPECS
from profiler.model.series import DeviceSeries, FloatArray
from profiler.model.units import DAY_S
from profiler.prometheus.api import (
    DEFAULT_TIMEOUT_S,
    MAX_POINTS_PER_QUERY,
    ClientConfig,
    FleetError,
    FleetUsageError,
    PrometheusApi,
    UrlOpen,
)
from profiler.prometheus.curves import HostCurve, read_curves
from profiler.prometheus.screen import (
    MEM,
    UTIL,
    Screen,
    ScreenSpan,
    screen_hosts,
    split_hosts,
    with_matchers,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_POINTS_PER_QUERY",
    "ClientConfig",
    "FleetError",
    "FleetUsageError",
    "PrometheusApi",
    "UrlOpen",
]

DEFAULT_MATCH = '{job="finwatt"}'
DEFAULT_SINCE_S = 14 * DAY_S
"""Default window of fleet analysis: two weeks, the high-confidence usage history."""
DEFAULT_STEP_S = 300.0
"""Default resolution: 5-minute means."""
DEFAULT_DEADLINE_S = 600.0
"""Every request of one analysis together: ten minutes (1,000 hosts take ~20 s)."""
DEFAULT_CONCURRENCY = 4
DEFAULT_BATCH_HOSTS = 50
MAX_STEPS = 50_000
"""Most points per series one analysis reads (14 days at 30 s is 40,320): bounds memory."""
MIN_STEP_S = 1.0
"""The finest resolution: each point is a mean over a range of whole milliseconds."""


@dataclass(frozen=True)
class FleetOptions:
    """What to read, how to group hosts, and how hard to press Prometheus.

    Attributes:
        url: Prometheus base URL, e.g. http://prometheus:9090.
        since_s: length of the window in seconds, ending now.
        step_s: resolution in seconds (each point is the mean of one step).
        match: label matchers selecting finwatt's series, e.g. `{job="finwatt"}`.
        min_hosts: never consolidate a group onto fewer hosts (redundancy: 2).
        timeout_s: timeout of each HTTP request.
        deadline_s: all requests together.
        concurrency: requests in flight at once while reading suspects' series.
        batch_hosts: hosts per series request.
        screen: screen in PromQL first (False: read every host's series).
        client: credentials and TLS files (`--prometheus-config`).

    """

    url: str
    since_s: float = DEFAULT_SINCE_S
    step_s: float = DEFAULT_STEP_S
    match: str = DEFAULT_MATCH
    min_hosts: int = 2
    timeout_s: float = DEFAULT_TIMEOUT_S
    deadline_s: float = DEFAULT_DEADLINE_S
    concurrency: int = DEFAULT_CONCURRENCY
    batch_hosts: int = DEFAULT_BATCH_HOSTS
    screen: bool = True
    client: ClientConfig = field(default_factory=ClientConfig)


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


_RANGE_METRICS = tuple(
    (spec.name, spec.fleet_aggregate, spec.prometheus)
    for spec in METRIC_SPECS
    if spec.fleet_aggregate and spec.prometheus
)
"""(DeviceSeries column, PromQL range function, metric) of the series fleet analysis reads."""


def check_options(options: FleetOptions) -> None:
    """Refuse a window shorter than a step, too many steps, or a malformed `--match`.

    Raises:
        FleetUsageError: the message names the option.
    """
    if not options.step_s >= MIN_STEP_S:  # NaN too
        raise FleetUsageError(
            f"--step {options.step_s:g}s is finer than {MIN_STEP_S:g}s: use e.g. --step 30s "
            "(Prometheus scrapes finwatt every few seconds)"
        )
    if options.since_s < options.step_s:
        raise FleetUsageError(
            f"--since {options.since_s:g}s must be at least --step {options.step_s:g}s (> 0)"
        )
    if options.since_s / options.step_s > MAX_STEPS:
        raise FleetUsageError(
            f"--since {options.since_s:g}s / --step {options.step_s:g}s is more than "
            f"{MAX_STEPS:,} points per series; use a longer --step"
        )
    if options.concurrency < 1 or options.batch_hosts < 1 or options.deadline_s <= 0:
        raise FleetUsageError("concurrency, batch size and deadline must be positive")
    selector("finwatt_utilization_ratio", options.match)


@dataclass
class _Found:
    """What the queries found of one device of one host, filled query by query."""

    kind: str
    model: str | None = None
    provenance: str | None = None
    capacity: dict[str, float] = field(default_factory=dict)
    columns: dict[str, FloatArray] = field(default_factory=dict)


class _Devices(dict[tuple[str, str], _Found]):
    """(instance, device) -> what was found of it."""

    def entry(self, labels: Mapping[str, str]) -> _Found | None:
        """Return the device a series' labels name, None without instance or device."""
        instance, device = labels.get("instance"), labels.get("device")
        if not instance or not device:
            return None
        return self.setdefault(
            (instance, device), _Found(labels.get("kind") or device.partition(":")[0])
        )


def _read_static(api: PrometheusApi, options: FleetOptions, end: float, devices: _Devices) -> None:
    """Read each device's labels and capacity gauges as last seen in the window."""
    lookback = f"{round(options.since_s)}s"
    for labels, _ in api.query(
        f"last_over_time({selector('finwatt_device_info', options.match)}[{lookback}])", end
    ):
        found = devices.entry(labels)
        if found is not None:
            found.model = labels.get("model") or None
            found.provenance = labels.get("provenance") or None
    for name, metric, _ in CAPACITY_METRICS:
        expr = f"last_over_time({selector(metric, options.match)}[{lookback}])"
        for labels, value in api.query(expr, end):
            found = devices.entry(labels)
            if found is not None:
                found.capacity[name] = value


def instance_matcher(instances: Iterable[str]) -> str:
    """Return `instance=~"a|b"` matching exactly these instances (RE2, PromQL-quoted)."""
    pattern = "|".join(re.escape(i) for i in sorted(instances))
    quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
    return f'instance=~"{quoted}"'


def _read_ranges(
    api: PrometheusApi,
    options: FleetOptions,
    span: tuple[float, float],
    grid: FloatArray,
    instances: Sequence[str] | None,
) -> _Devices:
    """Read each metric's step means (or maxima) over `span` onto `grid` (NaN where absent).

    `instances`: only these hosts (None: every host the selector matches).
    """
    devices = _Devices()
    step = options.step_s
    start, end = span
    window = f"{round(step * 1000) - 1}ms"
    extra = (instance_matcher(instances),) if instances is not None else ()
    for name, function, metric in _RANGE_METRICS:
        chosen = with_matchers(selector(metric, options.match), *extra)
        for labels, times, values in api.query_range(
            f"{function}({chosen}[{window}])", start, end, step
        ):
            found = devices.entry(labels)
            if found is None:
                continue
            column = found.columns.setdefault(name, np.full(grid.size, np.nan))
            index = np.rint((times - start) / step).astype(np.int64)
            keep = (index >= 0) & (index < grid.size)
            column[index[keep]] = values[keep]
            if found.provenance is None:
                found.provenance = labels.get("provenance") or None
    return devices


@dataclass(frozen=True)
class FleetData:
    """What `fetch_fleet` read: the hosts, the window, and the group-mean reader.

    Attributes:
        hosts: every host (read in full, or screened clear).
        start: epoch seconds where the window starts.
        end: epoch seconds where it ends.
        util_of: the group's mean host utilisation per step, as PromQL computes it.
        requests: how many hosts' series were read, and in how many batches.

    """

    hosts: list[HostData]
    start: float
    end: float
    util_of: GroupUtil
    requests: dict[str, int]


def fetch_fleet(
    api: PrometheusApi,
    options: FleetOptions,
    end_s: float,
    thresholds: Thresholds | None = None,
) -> FleetData:
    """Read the fleet in the window ending at `end_s`: screen, then read the suspects.

    The window's ends are aligned to whole steps, so the same data give the same points
    whenever the query runs.

    Raises:
        FleetError: Prometheus failed, the deadline passed, or no finwatt series match.
    """
    thresholds = thresholds or Thresholds()
    step = options.step_s
    end = math.floor(end_s / step) * step
    start = end - math.floor(options.since_s / step) * step + step
    grid = np.arange(start, end + step / 2, step)
    static = _Devices()
    _read_static(api, options, end, static)
    curves = read_curves(
        api, selector("finwatt_power_curve_watts", options.match), options.since_s, end
    )
    screens: dict[str, Screen] = {}
    if options.screen:
        span = ScreenSpan(end, options.since_s, step, thresholds.over_cpu_quantile)
        host_only = 'kind="host"'
        screens = screen_hosts(
            api,
            with_matchers(selector(UTIL, options.match), host_only),
            with_matchers(selector(MEM, options.match), host_only),
            span,
        )
    clear, suspects = _split(static, screens, curves, thresholds, step)
    batches = _batches(sorted(suspects), options.batch_hosts) if options.screen else [None]
    devices = _Devices({k: v for k, v in static.items() if k[0] in suspects})
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        for found in pool.map(
            lambda batch: _read_ranges(api, options, (start, end), grid, batch), batches
        ):
            _merge(devices, found)
    if not devices and not clear:
        raise FleetError(
            f"Prometheus at {api.url} holds no finwatt series matching {options.match} in "
            f"the last {options.since_s:g} s: is it scraping `finwatt serve`?"
        )
    hosts = _hosts(devices, static, screens, clear, curves, grid, step)
    util_of = _group_util_reader(api, options, (start, end), grid)
    read = len({instance for instance, _ in devices})
    return FleetData(
        hosts, start - step, end, util_of, {"hosts_read": read, "batches": len(batches)}
    )


def _split(
    static: _Devices,
    screens: Mapping[str, Screen],
    curves: Mapping[str, HostCurve],
    thresholds: Thresholds,
    step: float,
) -> tuple[set[str], set[str]]:
    """Return (clear, suspect) instances: GPUs, curves and no host device are suspects."""
    instances = {instance for instance, _ in static} | set(screens)
    with_host = {i for (i, d), f in static.items() if f.kind == "host"}
    anyway = {i for (i, d), f in static.items() if f.kind == "gpu"} | set(curves)
    anyway |= instances - with_host
    mem_totals = {
        i: f.capacity["mem_total_bytes"]
        for (i, d), f in static.items()
        if f.kind == "host" and "mem_total_bytes" in f.capacity
    }
    clear, _ = split_hosts(screens, mem_totals, anyway, thresholds, step)
    return clear, instances - clear


def _batches(instances: Sequence[str], size: int) -> list[Sequence[str] | None]:
    return [instances[i : i + size] for i in range(0, len(instances), size)]


def _merge(devices: _Devices, found: _Devices) -> None:
    for key, read in found.items():
        known = devices.get(key)
        if known is None:
            devices[key] = read
            continue
        known.columns.update(read.columns)
        known.provenance = known.provenance or read.provenance


def _group_util_reader(
    api: PrometheusApi, options: FleetOptions, span: tuple[float, float], grid: FloatArray
) -> GroupUtil:
    """Return a reader of a group's mean host utilisation per step, computed by PromQL."""
    step = options.step_s
    window = f"{round(step * 1000) - 1}ms"
    start, end = span

    def util_of(group: Sequence[HostData]) -> FloatArray:
        chosen = with_matchers(
            selector("finwatt_utilization_ratio", options.match),
            'kind="host"',
            instance_matcher(h.instance for h in group),
        )
        mean = np.full(grid.size, np.nan)
        for _, times, values in api.query_range(
            f"avg(avg_over_time({chosen}[{window}]))", start, end, step
        ):
            index = np.rint((times - start) / step).astype(np.int64)
            keep = (index >= 0) & (index < grid.size)
            mean[index[keep]] = values[keep]
        return mean

    return util_of


def _hosts(
    devices: _Devices,
    static: _Devices,
    screens: Mapping[str, Screen],
    clear: set[str],
    curves: Mapping[str, HostCurve],
    grid: FloatArray,
    step: float,
) -> list[HostData]:
    by_host: dict[str, list[tuple[str, _Found]]] = {}
    for (instance, device), found in sorted(devices.items()):
        by_host.setdefault(instance, []).append((device, found))
    for (instance, device), found in sorted(static.items()):
        if instance in clear:
            by_host.setdefault(instance, []).append((device, found))
    hosts = []
    for instance, items in sorted(by_host.items()):
        host = _host(instance, items, grid, step, curves.get(instance))
        if instance in clear:
            screened = screens[instance].as_dict()
            host = HostData(instance, [], host.model, host.cores, host.devices, screened)
        hosts.append(host)
    return hosts


def _spec(instance: str, device: str, found: _Found) -> DeviceInfo:
    cores_value = found.capacity.get("logical_cores")
    mem_value = found.capacity.get("mem_total_bytes")
    return DeviceInfo(
        device_id=f"{instance}/{device}",
        kind=found.kind,
        logical_cores=int(cores_value) if cores_value is not None else None,
        mem_total_bytes=int(mem_value) if mem_value is not None else None,
        power_limit_w=found.capacity.get("power_limit_w"),
        provenance=found.provenance,
    )


def _host(
    instance: str,
    items: list[tuple[str, _Found]],
    grid: FloatArray,
    step: float,
    curve: HostCurve | None,
) -> HostData:
    series: list[DeviceSeries] = []
    specs: list[DeviceInfo] = []
    model: str | None = None
    cores: int | None = None
    for device, found in items:
        spec = _spec(instance, device, found)
        specs.append(spec)
        if spec.kind == "host" or (model is None and spec.kind == "cpu"):
            model = found.model or model
        if spec.kind == "host":
            cores = spec.logical_cores
        columns = {
            name: found.columns.get(name, np.full(grid.size, np.nan))
            for name, _, _ in _RANGE_METRICS
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
    return HostData(
        instance,
        series,
        model,
        cores,
        tuple(specs),
        curve=curve.curve if curve else None,
        ladder=curve.ladder if curve else None,
    )
