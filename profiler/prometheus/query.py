"""Read a fleet back from Prometheus (`finwatt analyze --prometheus URL`).

Every host runs `finwatt serve` and Prometheus scrapes it; this module reads the fleet
back with Prometheus's HTTP API (`/api/v1/query_range`, `/api/v1/query`; the standard
library's urllib, a timeout on every request, no shell) and turns each host (`instance`
label) into the analyzer's `HostData`: one `DeviceSeries` per device. The metrics read
are those `profiler.model.samples.METRIC_SPECS` gives a fleet aggregate, and the capacity
gauges of `profiler.model.device.CAPACITY_METRICS`: the exporter's own tables. The fleet
rules are `profiler.analysis.fleet_rules`; `profiler.workflows.fleet` joins the two.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from profiler.analysis.fleet_rules import HostData
from profiler.model.device import CAPACITY_METRICS, DeviceInfo
from profiler.model.errors import FinwattInputError, FinwattRuntimeError
from profiler.model.samples import METRIC_SPECS
from profiler.model.series import DeviceSeries, FloatArray
from profiler.model.units import DAY_S

DEFAULT_MATCH = '{job="finwatt"}'
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_SINCE_S = 14 * DAY_S
"""Default window of fleet analysis: two weeks, the high-confidence usage history."""
DEFAULT_STEP_S = 300.0
"""Default resolution: 5-minute means."""
MAX_POINTS_PER_QUERY = 10_000
"""Prometheus refuses a query_range of more than 11,000 points per series."""

UrlOpen = Callable[..., Any]


class FleetError(FinwattRuntimeError):
    """Prometheus is unreachable or answered with an error; the message says which."""


class FleetUsageError(FinwattInputError):
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
    since_s: float = DEFAULT_SINCE_S
    step_s: float = DEFAULT_STEP_S
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


_RANGE_METRICS = tuple(
    (spec.name, spec.fleet_aggregate, spec.prometheus)
    for spec in METRIC_SPECS
    if spec.fleet_aggregate and spec.prometheus
)
"""(DeviceSeries column, PromQL range function, metric) of the series fleet analysis reads."""


def check_options(options: FleetOptions) -> None:
    """Refuse a window shorter than a step, a step <= 0, or a malformed `--match`.

    Raises:
        FleetUsageError: the message names the option.
    """
    if options.step_s <= 0 or options.since_s < options.step_s:
        raise FleetUsageError(
            f"--since {options.since_s:g}s must be at least --step {options.step_s:g}s (> 0)"
        )
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


def _read_ranges(
    api: PrometheusApi,
    options: FleetOptions,
    span: tuple[float, float],
    grid: FloatArray,
    devices: _Devices,
) -> None:
    """Read each metric's step means (or maxima) over `span` onto `grid` (NaN where absent)."""
    step = options.step_s
    start, end = span
    window = f"{round(step * 1000) - 1}ms"
    for name, function, metric in _RANGE_METRICS:
        expr = f"{function}({selector(metric, options.match)}[{window}])"
        for labels, times, values in api.query_range(expr, start, end, step):
            found = devices.entry(labels)
            if found is None:
                continue
            column = found.columns.setdefault(name, np.full(grid.size, np.nan))
            index = np.rint((times - start) / step).astype(np.int64)
            keep = (index >= 0) & (index < grid.size)
            column[index[keep]] = values[keep]
            if found.provenance is None:
                found.provenance = labels.get("provenance") or None


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
    devices = _Devices()
    _read_static(api, options, end, devices)
    grid = np.arange(start, end + step / 2, step)
    _read_ranges(api, options, (start, end), grid, devices)
    if not devices:
        raise FleetError(
            f"Prometheus at {api.url} holds no finwatt series matching {options.match} in "
            f"the last {options.since_s:g} s: is it scraping `finwatt serve`?"
        )
    by_host: dict[str, list[tuple[str, _Found]]] = {}
    for (instance, device), found in sorted(devices.items()):
        by_host.setdefault(instance, []).append((device, found))
    hosts = [_host(instance, items, grid, step) for instance, items in by_host.items()]
    return hosts, start - step, end


def _host(
    instance: str, items: list[tuple[str, _Found]], grid: FloatArray, step: float
) -> HostData:
    series: list[DeviceSeries] = []
    model: str | None = None
    cores: int | None = None
    for device, found in items:
        cores_value = found.capacity.get("logical_cores")
        mem_value = found.capacity.get("mem_total_bytes")
        spec = DeviceInfo(
            device_id=f"{instance}/{device}",
            kind=found.kind,
            logical_cores=int(cores_value) if cores_value is not None else None,
            mem_total_bytes=int(mem_value) if mem_value is not None else None,
            power_limit_w=found.capacity.get("power_limit_w"),
            provenance=found.provenance,
        )
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
    return HostData(instance, series, model, cores)
