"""Prometheus exposition of the sampler's latest tick (`finwatt serve`, `monitor --serve`).

A custom collector (prometheus client_python's `Collector` protocol) registered in its own
`CollectorRegistry`, never the process-global default one. The sampler hands every tick
to `FinwattCollector.observe`; a scrape renders the latest tick. Check a figure by hand
with `curl -s http://127.0.0.1:9464/metrics | grep finwatt_power_watts`.

Metrics (Prometheus naming conventions: base units, `_total` for counters, `_info` for
labels-only series):

| metric | type | source |
| --- | --- | --- |
| `finwatt_power_watts` | gauge | `Reading.power_w` |
| `finwatt_energy_joules_total` | counter | sum of non-negative `Reading.energy_j` deltas |
| `finwatt_utilization_ratio` | gauge | `Reading.util` (0..1) |
| `finwatt_sm_active_ratio` | gauge | `Reading.sm_active` (GPUs, 0..1) |
| `finwatt_memory_used_bytes` | gauge | `Reading.mem_used_bytes` |
| `finwatt_temperature_celsius` | gauge | `Reading.temperature_c` |
| `finwatt_device_info` | gauge, 1 | model, kind, provenance of each device |
| `finwatt_device_logical_cores` | gauge | `DeviceInfo.logical_cores` |
| `finwatt_device_memory_total_bytes` | gauge | `DeviceInfo.mem_total_bytes` |
| `finwatt_device_power_limit_watts` | gauge | `DeviceInfo.power_limit_w` |
| `finwatt_sampler_missed_ticks_total` | counter | `Tick.missed_ticks` |
| `finwatt_build_info` | gauge, 1 | finwatt version |
| `finwatt_power_curve_watts` | gauge | the latest valid profiling run's CPU power curve |
| `finwatt_power_curve_run_timestamp_seconds` | gauge | when that run ended |
| `finwatt_attributed_energy_joules_total` | counter | `monitor --attribute` (`attributed.py`) |
| `finwatt_job_energy_joules` | gauge | running `exec` jobs' energy so far (`running.py`) |

The power curve (`profiler.prometheus.curves`) carries `device`, `workload`, `run` and
`provenance`, and `load` (share of the ladder's peak throughput, 0 = active idle) on the
watts; it is absent on a host never profiled.

Per-device metrics carry the labels `device`, `kind` and `provenance` (the provenance of
the device's power figures; empty, which Prometheus treats as absent, for `host`). A metric
the device does not have, or could not read this tick, is not emitted: never a 0
(docs/style.md#evidence). The capacity gauges are what `finwatt analyze --prometheus` needs
to right-size and consolidate hosts (`profiler.prometheus.query`).

Inside a container whose cgroup limits are tighter than the host (`profiler.workflows.
provisioned` records them on the `host` device as `details["cgroup_limits"]`), the `host`
series are the container's, as the analyzer sizes them: `finwatt_device_logical_cores`
is the provisioned cores (CPU quota or cpuset, rounded to whole cores, at least 1),
`finwatt_device_memory_total_bytes` the memory limit, and the host's
`finwatt_utilization_ratio` is rescaled so busy cores stay what /proc measured (host
utilisation x host cores / provisioned cores, at most 1). Fleet analysis then sizes the
container against what it was given, not the host's 64 cores (codecarbon#629).

The energy counter starts at 0 when the exporter starts and adds each tick's increase of
the device's cumulative `energy_j`. The sensors correct RAPL wraps (docs/methodology.md#rapl),
so the increase is never negative; should a family restart and its counter
fall, that tick adds nothing rather than letting the Prometheus counter go backwards.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from wsgiref.simple_server import WSGIServer

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from profiler.model.device import CAPACITY_METRICS, DeviceInfo
from profiler.model.running_job import RunningJob
from profiler.model.samples import METRIC_SPECS, Reading, Tick
from profiler.prometheus.attributed import AttributedEnergy
from profiler.prometheus.curves import CURVE_LABELS, CURVE_METRIC, CURVE_RUN_METRIC, PublishedCurve
from profiler.prometheus.running import job_metrics
from profiler.prometheus.webconfig import WebConfig, start_server

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
"""The port registered for OpenTelemetry's Prometheus exporter; free on most hosts."""

DEVICE_LABELS = ("device", "kind", "provenance")

_GAUGES = tuple((spec.prometheus, spec.name, spec.help) for spec in METRIC_SPECS if spec.prometheus)
"""(metric name, Reading attribute, help text) of the per-device gauges, from the one
metric table (`profiler.model.samples.METRIC_SPECS`)."""


LIMITS_KEY = "cgroup_limits"
"""The `host` device's details key of its cgroup limits (`profiler.workflows.provisioned.
LIMITS_KEY`; the layers keep the exporter from importing it, a test keeps them equal)."""

_CONTAINER_HELP = {
    "finwatt_device_logical_cores": " In a container with tighter cgroup limits, the host "
    "device's figure is the provisioned cores (CPU quota or cpuset).",
    "finwatt_device_memory_total_bytes": " In a container with tighter cgroup limits, the "
    "host device's figure is the cgroup memory limit.",
}
"""Added to the HELP of the capacity gauges: which figure a container's host series has."""


def container_scoped(device: DeviceInfo) -> tuple[DeviceInfo, float]:
    """Return the device sized against its recorded cgroup limits, and its utilisation scale.

    The figures match the analyzer's (`profiler.workflows.provisioned.container_scoped`):
    cores are the limit rounded to whole cores (at least 1), memory the limit; the scale
    (host cores / provisioned cores) turns the host's utilisation into the container's.
    A device without limits comes back unchanged with scale 1.
    """
    limits = device.details.get(LIMITS_KEY)
    if device.kind != "host" or not isinstance(limits, dict):
        return device, 1.0
    scale = 1.0
    cores = limits.get("cores")
    if isinstance(cores, int | float) and device.logical_cores:
        provisioned = max(1, round(float(cores)))
        scale = device.logical_cores / provisioned
        device = replace(device, logical_cores=provisioned)
    memory = limits.get("memory_max_bytes")
    if isinstance(memory, int | float):
        device = replace(device, mem_total_bytes=int(memory))
    return device, scale


@dataclass
class _EnergyState:
    last_j: float
    total_j: float


class FinwattCollector:
    """Collects finwatt's metrics from the latest sampler tick.

    Args:
        devices: the probed devices (their static facts become the info and capacity
            metrics and the label values of every series).
        version: finwatt's version, for `finwatt_build_info`.

    """

    def __init__(self, devices: Sequence[DeviceInfo], version: str) -> None:
        scoped = {d.device_id: container_scoped(d) for d in devices}
        self._devices = {device_id: device for device_id, (device, _) in scoped.items()}
        self._util_scale = {device_id: scale for device_id, (_, scale) in scoped.items()}
        self._version = version
        self._lock = threading.Lock()
        self._readings: dict[str, Reading] = {}
        self._energy: dict[str, _EnergyState] = {}
        self._missed_ticks = 0
        self._curve: PublishedCurve | None = None
        self.attributed = AttributedEnergy()
        """`monitor --attribute`'s per-group energy (`profiler.prometheus.attributed`)."""
        self.running_jobs: Callable[[], Sequence[RunningJob]] | None = None
        """The host's running `exec` jobs so far, read at each scrape (`running.py`)."""

    def publish_curve(self, curve: PublishedCurve | None) -> None:
        """Publish this host's measured power curve (None: withdraw it)."""
        with self._lock:
            self._curve = curve

    def observe(self, tick: Tick) -> None:
        """Keep `tick` as the latest; accumulate each device's energy increase (a sink)."""
        with self._lock:
            self._readings = dict(tick.readings)
            self._missed_ticks = max(self._missed_ticks, tick.missed_ticks)
            for device_id, reading in tick.readings.items():
                if reading.energy_j is None:
                    continue
                state = self._energy.get(device_id)
                if state is None:
                    # The first reading counts from the family's baseline, taken when the
                    # sampler (started with the exporter) began.
                    self._energy[device_id] = _EnergyState(
                        reading.energy_j, max(0.0, reading.energy_j)
                    )
                    continue
                delta = reading.energy_j - state.last_j
                if delta < 0:
                    log.warning(
                        "energy counter of %s fell by %.3f J; the exported counter holds",
                        device_id,
                        -delta,
                    )
                else:
                    state.total_j += delta
                state.last_j = reading.energy_j

    def _labels(self, device_id: str) -> list[str]:
        device = self._devices.get(device_id)
        kind = device.kind if device else device_id.partition(":")[0]
        provenance = device.provenance if device and device.provenance else ""
        return [device_id, kind, provenance]

    def collect(self) -> Iterable[Metric]:
        """Yield every metric family (the prometheus-client `Collector` protocol)."""
        with self._lock:
            readings = dict(self._readings)
            energy = {d: s.total_j for d, s in self._energy.items()}
            missed = self._missed_ticks
            curve = self._curve
        for name, attribute, help_text in _GAUGES:
            gauge = GaugeMetricFamily(name, help_text, labels=DEVICE_LABELS)
            for device_id, reading in sorted(readings.items()):
                value = getattr(reading, attribute)
                if value is not None and attribute == "util":
                    scaled = value * self._util_scale.get(device_id, 1.0)
                    value = 1.0 if scaled > 1.0 else scaled  # NaN stays NaN
                if value is not None:
                    gauge.add_metric(self._labels(device_id), float(value))
            if gauge.samples:
                yield gauge
        counter = CounterMetricFamily(
            "finwatt_energy_joules",
            "Energy used by the device since the exporter started, in joules.",
            labels=DEVICE_LABELS,
        )
        for device_id, total_j in sorted(energy.items()):
            counter.add_metric(self._labels(device_id), total_j)
        if counter.samples:
            yield counter
        yield from self._static_metrics()
        yield from self.attributed.metrics()
        if self.running_jobs is not None:
            yield from job_metrics(self.running_jobs())
        if curve is not None:
            yield from _curve_metrics(curve)
        yield CounterMetricFamily(
            "finwatt_sampler_missed_ticks",
            "Sampler ticks skipped because sampling fell behind.",
            value=missed,
        )
        build = GaugeMetricFamily(
            "finwatt_build_info",
            "finwatt build information; the value is always 1.",
            labels=["version"],
        )
        build.add_metric([self._version], 1.0)
        yield build

    def _static_metrics(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "finwatt_device_info",
            "Static description of a device; the value is always 1.",
            labels=[*DEVICE_LABELS, "model"],
        )
        gauges = [
            GaugeMetricFamily(n, h + _CONTAINER_HELP.get(n, ""), labels=DEVICE_LABELS)
            for _, n, h in CAPACITY_METRICS
        ]
        for device_id, device in sorted(self._devices.items()):
            labels = self._labels(device_id)
            info.add_metric([*labels, device.model or ""], 1.0)
            for gauge, (attribute, _, _) in zip(gauges, CAPACITY_METRICS, strict=True):
                value = getattr(device, attribute)
                if value is not None:
                    gauge.add_metric(labels, float(value))
        yield info
        yield from (g for g in gauges if g.samples)


def _curve_metrics(curve: PublishedCurve) -> Iterable[Metric]:
    labels = [curve.device, curve.workload, curve.run_id, curve.provenance]
    watts = GaugeMetricFamily(
        CURVE_METRIC,
        "Power at each load level of the latest valid profiling run (load: share of peak).",
        labels=[*CURVE_LABELS, "load"],
    )
    for load, power_w in curve.points:
        watts.add_metric([*labels, f"{load:.6g}"], power_w)
    ended = GaugeMetricFamily(
        CURVE_RUN_METRIC,
        "When the profiling run behind finwatt_power_curve_watts ended, epoch seconds.",
        labels=list(CURVE_LABELS),
    )
    ended.add_metric(labels, curve.run_end_s)
    yield watts
    yield ended


def make_registry(collector: FinwattCollector) -> CollectorRegistry:
    """Return a new registry holding only `collector` (never the global default registry)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> str:
    """Return the registry's metrics in the Prometheus text format (what /metrics serves)."""
    return generate_latest(registry).decode("utf-8")


def is_loopback(host: str) -> bool:
    """True when `host` is a loopback address or `localhost` (reachable from here only)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MetricsServer:
    """The HTTP endpoint serving a registry at `/metrics` (prometheus-client's WSGI app).

    A thread per request and a listen queue of 256 (`webconfig.MetricsHTTPServer`): 200
    simultaneous scrapes are all answered (`bench/bench_exporter_burst.py` measures it).

    Args:
        registry: what to serve.
        host: address to bind; loopback by default.
        port: TCP port; 0 picks a free one.
        web: TLS and basic auth (`--web-config`, Prometheus's format); None: plain HTTP.

    Raises:
        OSError: the address cannot be bound (port in use, address not local), or a
            certificate or key cannot be loaded (`ssl.SSLError` is an OSError).

    """

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str = DEFAULT_HOST,
        port: int = 0,
        web: WebConfig | None = None,
    ):
        self._server: WSGIServer
        self._server, self._thread = start_server(registry, host, port, web)
        self.scheme = "https" if web is not None and web.tls else "http"
        self.host = host
        self.port = int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)
