"""Per-tick metrics: the one metric table, a device's `Reading`, a stored `SampleRow`, a `Tick`.

`METRIC_SPECS` is the single declaration of the per-tick metrics: their storage order
(the `sample` table's columns), units, and the Prometheus gauge that publishes each
(exporter and fleet query read the same table). Units are in the names: `power_w`,
`energy_j`, `mem_used_bytes`, `util` (0..1).

`SAMPLE_BOUNDS` are the physical bounds of each metric, far beyond any real device: a
reading outside them is dropped where it enters (`Reading.drop_out_of_bounds`, at the
sampler and at the BMC poller), so what finwatt records is what `finwatt import` accepts
(docs/interchange.md's bounds are these figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from profiler.model.device import DeviceStatus


@dataclass(frozen=True)
class MetricSpec:
    """One per-tick metric.

    Attributes:
        name: attribute of `Reading`/`SampleRow` and column of the `sample` table.
        unit: its unit, for people ("W", "J", "bytes", "ratio", "MHz", "C").
        prometheus: the exporter's gauge for it, None when not exported as a gauge.
        fleet_aggregate: the PromQL range function fleet analysis applies to it, if read.
        help: one sentence for the exporter's HELP line and the docs.

    """

    name: str
    unit: str
    prometheus: str | None
    fleet_aggregate: str | None
    help: str


METRIC_SPECS = (
    MetricSpec(
        "util",
        "ratio",
        "finwatt_utilization_ratio",
        "avg_over_time",
        "Share of the device's capacity in use (0..1).",
    ),
    MetricSpec(
        "power_w",
        "W",
        "finwatt_power_watts",
        "avg_over_time",
        "Power drawn by the device, in watts.",
    ),
    MetricSpec("energy_j", "J", None, None, "Energy since run start, in joules."),
    MetricSpec(
        "energy_from_power_j",
        "J",
        None,
        None,
        "Energy integrated from power readings where a counter also exists, in joules.",
    ),
    MetricSpec(
        "mem_used_bytes",
        "bytes",
        "finwatt_memory_used_bytes",
        "max_over_time",
        "Memory in use on the device, in bytes.",
    ),
    MetricSpec("clock_mhz", "MHz", None, None, "Clock frequency, in MHz."),
    MetricSpec(
        "temperature_c",
        "C",
        "finwatt_temperature_celsius",
        None,
        "Device temperature, in degrees Celsius.",
    ),
    MetricSpec(
        "sm_active",
        "ratio",
        "finwatt_sm_active_ratio",
        "avg_over_time",
        "GPU streaming-multiprocessor activity (0..1).",
    ),
)

METRICS = tuple(spec.name for spec in METRIC_SPECS)
"""The per-tick metrics of a `Reading`, in storage order (the `sample` table's columns)."""

MAX_POWER_W = 1e6
"""One device's power: a megawatt."""
MAX_ENERGY_J = 1e16
"""One device's energy since run start: a megawatt for over 300 years."""
SAMPLE_BOUNDS: dict[str, tuple[float, float]] = {
    "util": (0.0, 1.0),
    "power_w": (0.0, MAX_POWER_W),
    "energy_j": (0.0, MAX_ENERGY_J),
    "energy_from_power_j": (0.0, MAX_ENERGY_J),
    "mem_used_bytes": (0, 2**63 - 1),
    "clock_mhz": (0.0, 1e6),
    "temperature_c": (-273.15, 1e4),
    "sm_active": (0.0, 1.0),
}
"""Each metric's closed physical range; NaN and infinities are outside every range."""


def in_bounds(metric: str, value: float) -> bool:
    """Return whether `value` is a finite number within `metric`'s `SAMPLE_BOUNDS`."""
    low, high = SAMPLE_BOUNDS[metric]
    return math.isfinite(value) and low <= value <= high


@dataclass
class Reading:
    """One device's metrics at one tick; every metric is None where not available.

    `energy_j` is cumulative since the family started reading (run start), so the energy
    of any window is a difference of two readings. `energy_from_power_j` is the second
    energy figure kept where a device has both an energy counter and power readings
    (NVML), for the data-quality comparison of docs/methodology.md#nvml.
    """

    device_id: str
    util: float | None = None
    power_w: float | None = None
    energy_j: float | None = None
    energy_from_power_j: float | None = None
    mem_used_bytes: int | None = None
    clock_mhz: float | None = None
    temperature_c: float | None = None
    sm_active: float | None = None
    status: DeviceStatus = DeviceStatus.OK

    def merge(self, other: Reading) -> None:
        """Fill this reading's null metrics from `other` (same device, same tick)."""
        for name in METRICS:
            if getattr(self, name) is None:
                setattr(self, name, getattr(other, name))
        if other.status is not DeviceStatus.OK and self.status is DeviceStatus.OK:
            self.status = other.status

    def drop_out_of_bounds(self) -> list[str]:
        """Null every metric outside `SAMPLE_BOUNDS`; return their names (none: []).

        A reading that lost a metric is `degraded`: the device said something impossible
        (an infinite or negative power), so the figure is not recorded as measured.
        """
        dropped = [
            name
            for name in METRICS
            if (value := getattr(self, name)) is not None and not in_bounds(name, value)
        ]
        for name in dropped:
            setattr(self, name, None)
        if dropped and self.status is DeviceStatus.OK:
            self.status = DeviceStatus.DEGRADED
        return dropped


@dataclass(frozen=True)
class SampleRow:
    """One device's metrics at one tick; `t` is seconds since run start."""

    device_id: str
    t: float
    util: float | None = None
    power_w: float | None = None
    energy_j: float | None = None
    energy_from_power_j: float | None = None
    mem_used_bytes: int | None = None
    clock_mhz: float | None = None
    temperature_c: float | None = None
    sm_active: float | None = None

    @classmethod
    def from_reading(cls, t: float, reading: Reading) -> SampleRow:
        """Build a row from a sensor reading taken `t` seconds after run start."""
        return cls(reading.device_id, t, *(getattr(reading, f) for f in METRICS))


@dataclass(frozen=True)
class Tick:
    """One sampler tick: `t` seconds since start, one merged reading per device."""

    index: int
    t: float
    readings: dict[str, Reading]
    missed_ticks: int


TickSink = Callable[[Tick], None]
"""Receives each `Tick` on the sampler thread; keep it cheap."""
