"""A fleet's demand by the hour from Prometheus or VictoriaMetrics: aggregated in the query.

`finwatt demand --prometheus URL` and the fleet's COMPLEMENTARY_PEAKS read hourly rows,
never the 5-minute series: for every device, at steps of one hour (ends aligned to
whole UTC hours, each row standing for the hour before it),

- `avg_over_time(metric[1h])` of utilisation, SM activity, power and memory used: the
  hour's means;
- `max_over_time(avg_over_time(metric[5m])[1h:5m])` of utilisation and SM activity:
  the hour's highest 5-minute mean (a PromQL subquery), which is what makes an hour
  busy (`profiler.analysis.demand`).

Ranges are one millisecond short of the step (`[3599999ms]`, `[299999ms]`), so no
sample counts in two rows. A month of 1,000 hosts is then 720 points per series, about
20 MB of answers. Bounded like `profiler.prometheus.query`: at most `MAX_HOURS` rows per
series, hosts read in batches of `batch_hosts` instances, `concurrency` requests at a
time, every request within the client's deadline. Static facts (kind, provenance, cores,
memory) come from two instant queries per capacity gauge, as there. Zones whose offset is
not whole hours (India, Nepal) get rows that straddle their local hours: the profile is
then to the nearest half hour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from profiler.model.device import CAPACITY_METRICS, DeviceInfo
from profiler.model.series import DeviceSeries, FloatArray
from profiler.prometheus.api import FleetError, FleetUsageError, PrometheusApi
from profiler.prometheus.query import instance_matcher, selector
from profiler.prometheus.screen import with_matchers

HOUR_S = 3600.0
MAX_HOURS = 26 * 7 * 24
"""Most hourly rows per series one read takes (26 weeks): bounds memory and answers."""
DEFAULT_BATCH_HOSTS = 250
DEFAULT_CONCURRENCY = 4
FIVE_MIN_S = 300.0
"""The resolution of the hour's peak: its highest 5-minute mean."""
_HOUR = "3599999ms"
_FIVE = "299999ms"

_MEANS = (
    ("util", "finwatt_utilization_ratio"),
    ("sm_active", "finwatt_sm_active_ratio"),
    ("power_w", "finwatt_power_watts"),
    ("mem_used_bytes", "finwatt_memory_used_bytes"),
)
_PEAKS = (("util", "finwatt_utilization_ratio"), ("sm_active", "finwatt_sm_active_ratio"))


@dataclass
class _Device:
    kind: str
    provenance: str | None = None
    capacity: dict[str, float] = field(default_factory=dict)
    means: dict[str, FloatArray] = field(default_factory=dict)
    peaks: dict[str, FloatArray] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetDemand:
    """What `fetch_demand` read: hourly rows per device of every host.

    Attributes:
        hosts: instance -> its devices' hourly means (one entry per observed hour, at
            the hour's end, `interval_s` 3,600).
        peaks: device id -> each entry's highest 5-min mean activity (SM activity for
            a GPU that has it, else utilisation).
        grid: the hour ends of the window (epoch seconds).
        requests: range requests made.
    """

    hosts: dict[str, list[DeviceSeries]]
    peaks: dict[str, FloatArray]
    grid: FloatArray
    requests: int

    @property
    def start(self) -> float:
        """Return where the window starts (the first row's hour start)."""
        return float(self.grid[0] - HOUR_S)

    @property
    def end(self) -> float:
        """Return where the window ends."""
        return float(self.grid[-1])


def hour_grid(since_s: float, end_s: float) -> FloatArray:
    """Return the hour ends of the window of `since_s` ending at `end_s` (whole hours).

    Raises:
        FleetUsageError: the window is shorter than an hour or longer than `MAX_HOURS`.
    """
    hours = math.floor(since_s / HOUR_S)
    if hours < 1:
        raise FleetUsageError(f"--since {since_s:g}s: demand needs at least one hour (use 30d)")
    if hours > MAX_HOURS:
        raise FleetUsageError(
            f"--since {since_s:g}s is {hours:,} hours; demand reads at most "
            f"{MAX_HOURS:,} (26 weeks)"
        )
    end = math.floor(end_s / HOUR_S) * HOUR_S
    grid: FloatArray = end - HOUR_S * np.arange(hours - 1, -1, -1, dtype=np.float64)
    return grid


def _static(
    api: PrometheusApi, match: str, since_s: float, end: float
) -> dict[tuple[str, str], _Device]:
    devices: dict[tuple[str, str], _Device] = {}
    lookback = f"{round(since_s)}s"

    def entry(labels: dict[str, str]) -> _Device | None:
        instance, device = labels.get("instance"), labels.get("device")
        if not instance or not device:
            return None
        kind = labels.get("kind") or device.partition(":")[0]
        return devices.setdefault((instance, device), _Device(kind))

    for labels, _ in api.query(
        f"last_over_time({selector('finwatt_device_info', match)}[{lookback}])", end
    ):
        found = entry(labels)
        if found is not None:
            found.provenance = labels.get("provenance") or found.provenance
    for name, metric, _ in CAPACITY_METRICS:
        for labels, value in api.query(
            f"last_over_time({selector(metric, match)}[{lookback}])", end
        ):
            found = entry(labels)
            if found is not None:
                found.capacity[name] = value
    return devices


def _read_batch(
    api: PrometheusApi, match: str, grid: FloatArray, instances: Sequence[str]
) -> tuple[dict[tuple[str, str], _Device], int]:
    found: dict[tuple[str, str], _Device] = {}
    start, end = float(grid[0]), float(grid[-1])
    chosen = instance_matcher(instances)
    queries = [
        ("means", name, f"avg_over_time({with_matchers(selector(metric, match), chosen)}[{_HOUR}])")
        for name, metric in _MEANS
    ] + [
        (
            "peaks",
            name,
            f"max_over_time(avg_over_time({with_matchers(selector(metric, match), chosen)}"
            f"[{_FIVE}])[{_HOUR}:5m])",
        )
        for name, metric in _PEAKS
    ]
    for table, name, expr in queries:
        for labels, times, values in api.query_range(expr, start, end, HOUR_S):
            instance, device = labels.get("instance"), labels.get("device")
            if not instance or not device:
                continue
            kind = labels.get("kind") or device.partition(":")[0]
            entry = found.setdefault((instance, device), _Device(kind))
            entry.provenance = entry.provenance or labels.get("provenance") or None
            column = getattr(entry, table).setdefault(name, np.full(grid.size, np.nan))
            index = np.rint((times - start) / HOUR_S).astype(np.int64)
            keep = (index >= 0) & (index < grid.size)
            column[index[keep]] = values[keep]
    return found, len(queries)


def _series(
    instance: str, device: str, found: _Device, grid: FloatArray
) -> tuple[DeviceSeries, FloatArray] | None:
    cores, memory = found.capacity.get("logical_cores"), found.capacity.get("mem_total_bytes")
    spec = DeviceInfo(
        device_id=f"{instance}/{device}",
        kind=found.kind,
        logical_cores=int(cores) if cores is not None else None,
        mem_total_bytes=int(memory) if memory is not None else None,
        provenance=found.provenance,
    )
    nan = np.full(grid.size, np.nan)
    columns = {name: found.means.get(name, nan) for name, _ in _MEANS}
    present = np.zeros(grid.size, dtype=bool)
    for column in columns.values():
        present |= ~np.isnan(column)
    if not present.any():
        return None
    sm_peak = found.peaks.get("sm_active", nan)
    use_sm = found.kind == "gpu" and not np.isnan(sm_peak).all()
    peak = sm_peak if use_sm else found.peaks.get("util", nan)
    power = columns["power_w"][present]
    series = DeviceSeries(
        spec,
        grid[present],
        columns["util"][present],
        power,
        power * HOUR_S,
        columns["mem_used_bytes"][present],
        columns["sm_active"][present],
        np.full(int(present.sum()), HOUR_S),
    )
    return series, peak[present]


StepRows = Mapping[str, Sequence[tuple[DeviceSeries, FloatArray]]]
"""instance -> its devices' hourly rows and peaks, built from a read already made."""


def fetch_demand(
    api: PrometheusApi,
    match: str,
    since_s: float,
    end_s: float,
    *,
    batch_hosts: int = DEFAULT_BATCH_HOSTS,
    concurrency: int = DEFAULT_CONCURRENCY,
    known: StepRows | None = None,
) -> FleetDemand:
    """Read every host's hourly rows in the window of `since_s` ending at `end_s`.

    `known`: hosts whose rows the caller already has (`hours_from_steps` of the fleet
    read's 5-minute means): they are not queried again.

    Raises:
        FleetUsageError: a bad window or selector.
        FleetError: Prometheus failed, the deadline passed, or no finwatt series match.
    """
    known = known or {}
    grid = hour_grid(since_s, end_s)
    selector("finwatt_utilization_ratio", match)  # refuses a malformed --match
    static = _static(api, match, since_s, float(grid[-1]))
    instances = sorted({instance for instance, _ in static} - set(known))
    if not instances and not known:
        raise FleetError(
            f"Prometheus at {api.url} holds no finwatt series matching {match} in the last "
            f"{since_s:g} s: is it scraping `finwatt serve`?"
        )
    batches = [instances[i : i + batch_hosts] for i in range(0, len(instances), batch_hosts)]
    requests = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for found, made in pool.map(lambda b: _read_batch(api, match, grid, b), batches):
            requests += made
            for key, read in found.items():
                entry = static.setdefault(key, _Device(read.kind))
                entry.means.update(read.means)
                entry.peaks.update(read.peaks)
                entry.provenance = entry.provenance or read.provenance
    hosts: dict[str, list[DeviceSeries]] = {}
    peaks: dict[str, FloatArray] = {}
    for (instance, device), entry in sorted(static.items()):
        built = None if instance in known else _series(instance, device, entry, grid)
        if built is not None:
            hosts.setdefault(instance, []).append(built[0])
            peaks[built[0].spec.device_id] = built[1]
    for instance, rows in sorted(known.items()):
        for series, peak in rows:
            hosts.setdefault(instance, []).append(series)
            peaks[series.spec.device_id] = peak
    return FleetDemand(dict(sorted(hosts.items())), peaks, grid, requests)


@dataclass(frozen=True)
class _Cells:
    """Where each step mean of one device falls: (hour, slot) of the hour grid."""

    step: np.ndarray
    keep: np.ndarray
    covered: np.ndarray
    per_hour: int

    def hourly(self, values: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return each covered hour's mean and maximum of `values` (NaN elsewhere)."""
        table = np.full((self.covered.size, self.per_hour), np.nan)
        step = self.step[self.keep]
        table[step // self.per_hour, step % self.per_hour] = values[self.keep]
        counted = (~np.isnan(table)).sum(axis=1)
        mean = np.where(counted > 0, np.nansum(table, axis=1) / np.maximum(counted, 1), np.nan)
        peak = np.fmax.reduce(table, axis=1)
        return np.where(self.covered, mean, np.nan), np.where(self.covered, peak, np.nan)


def hours_from_steps(
    devices: Sequence[DeviceSeries], grid: FloatArray, span: tuple[float, float]
) -> list[tuple[DeviceSeries, FloatArray]]:
    """Return each device's hourly rows and peaks from its 5-minute step means.

    The same figures the hourly queries compute, from a read already made: the hour's
    mean is the mean of its twelve step means (`avg_over_time` over the hour when every
    step holds as many samples), its peak the highest of them (exactly the subquery's).
    Only hours whose twelve steps all lie in `span` (the first and last step end read)
    count as observed; memory is left out (the fleet read holds each step's maximum).

    Args:
        devices: one host's devices, points at step ends `FIVE_MIN_S` apart.
        grid: the hour ends of the demand window.
        span: the first and last step end of the read.
    """
    per_hour = round(HOUR_S / FIVE_MIN_S)
    covered = (grid - HOUR_S + FIVE_MIN_S >= span[0]) & (grid <= span[1])
    rows = []
    for device in devices:
        step = np.rint((device.t - (grid[0] - HOUR_S)) / FIVE_MIN_S).astype(np.int64) - 1
        cells = _Cells(step, (step >= 0) & (step < grid.size * per_hour), covered, per_hour)

        util, util_peak = cells.hourly(device.util)
        sm, sm_peak = cells.hourly(device.sm_active)
        power, _ = cells.hourly(device.power_w)
        present = ~(np.isnan(util) & np.isnan(sm) & np.isnan(power))
        if not present.any():
            continue
        use_sm = device.spec.kind == "gpu" and not np.isnan(sm_peak).all()
        n = int(present.sum())
        series = DeviceSeries(
            device.spec,
            grid[present],
            util[present],
            power[present],
            power[present] * HOUR_S,
            np.full(n, np.nan),
            sm[present],
            np.full(n, HOUR_S),
        )
        rows.append((series, (sm_peak if use_sm else util_peak)[present]))
    return rows
