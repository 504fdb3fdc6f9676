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
from profiler.model.device import CAPACITY_METRICS
from profiler.model.series import FloatArray
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
from profiler.prometheus.fleet_hosts import (
    RANGE_METRICS,
    Devices,
    SharedGrid,
    build_hosts,
)
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
SCREEN_BATCH_HOSTS = 250
"""Hosts per screening query: a 1,000-host fleet is screened in four parts, so no single
query evaluates 30 days of step means of the whole fleet (near the 30 s request timeout)."""
FLEET_CHUNK_POINTS = 2_016
"""Steps per range request of a suspect batch (a week at 5 minutes): a month is five
shorter requests, none near the request timeout."""
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


def _read_static(api: PrometheusApi, options: FleetOptions, end: float, devices: Devices) -> None:
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
) -> Devices:
    """Read each metric's step means (or maxima) over `span` onto `grid` (NaN where absent).

    `instances`: only these hosts (None: every host the selector matches).
    """
    devices = Devices()
    step = options.step_s
    start, end = span
    window = f"{round(step * 1000) - 1}ms"
    extra = (instance_matcher(instances),) if instances is not None else ()
    for name, function, metric in RANGE_METRICS:
        chosen = with_matchers(selector(metric, options.match), *extra)
        for labels, times, values in api.query_range(
            f"{function}({chosen}[{window}])", start, end, step, max_points=FLEET_CHUNK_POINTS
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
    static = Devices()
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
            batches=_screen_batches(static),
            concurrency=options.concurrency,
        )
    clear, suspects = _split(static, screens, curves, thresholds, step)
    batches = _batches(sorted(suspects), options.batch_hosts) if options.screen else [None]
    shared = SharedGrid(grid, step)

    def read(batch: Sequence[str] | None) -> list[HostData]:
        chosen = set(suspects if batch is None else batch)
        devices = Devices({k: v for k, v in static.items() if k[0] in chosen})
        _merge(devices, _read_ranges(api, options, (start, end), grid, batch))
        built = build_hosts(devices, Devices(), screens, set(), curves, shared)
        for found in devices.values():
            found.columns.clear()  # each batch's step means are held once, in its hosts
        return built

    hosts: list[HostData] = []
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        for built in pool.map(read, batches):
            hosts.extend(built)
    if not hosts and not clear:
        raise FleetError(
            f"Prometheus at {api.url} holds no finwatt series matching {options.match} in "
            f"the last {options.since_s:g} s: is it scraping `finwatt serve`?"
        )
    read_hosts = len(hosts)
    hosts.extend(build_hosts(Devices(), static, screens, clear, curves, shared))
    hosts.sort(key=lambda h: h.instance)
    util_of = _group_util_reader(api, options, (start, end), grid)
    return FleetData(
        hosts, start - step, end, util_of, {"hosts_read": read_hosts, "batches": len(batches)}
    )


def _split(
    static: Devices,
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


def _screen_batches(static: Devices) -> list[str]:
    """Return the matchers of the hosts each screening query covers.

    `SCREEN_BATCH_HOSTS` known hosts at a time, then every other host (one with
    utilisation but no static facts) in one more query.
    """
    instances = sorted({instance for instance, _ in static})
    if not instances:
        return [""]
    size = SCREEN_BATCH_HOSTS
    known = [instance_matcher(instances[i : i + size]) for i in range(0, len(instances), size)]
    return [*known, instance_matcher(instances).replace("=~", "!~", 1)]


def _batches(instances: Sequence[str], size: int) -> list[Sequence[str] | None]:
    return [instances[i : i + size] for i in range(0, len(instances), size)]


def _merge(devices: Devices, found: Devices) -> None:
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
