"""The sensor-family interface: probe what exists, then read it cheaply on every tick.

Every family (psutil CPU/memory, RAPL, NVML, power models) implements `SensorFamily`.
The sampler merges the partial readings of all families into one `Reading` per device per
tick: psutil gives `cpu:N` its utilisation, RAPL (or a model) gives the same device its
power and energy.

Units are in the names: `power_w`, `energy_j`, `mem_used_bytes`, `util` (0..1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

#: Provenance strings (design.md, "Sensors and provenance").
MEASURED_RAPL = "measured:rapl"
MEASURED_NVML_ENERGY = "measured:nvml-energy"
MEASURED_NVML_POWER = "measured:nvml-power"
ESTIMATED_LINEAR_TDP = "estimated:linear-tdp"
ESTIMATED_VCPU_AVERAGE = "estimated:vcpu-average"


METRICS = (
    "util",
    "power_w",
    "energy_j",
    "energy_from_power_j",
    "mem_used_bytes",
    "clock_mhz",
    "temperature_c",
    "sm_active",
)
"""The per-tick metrics of a `Reading`, in storage order (the `sample` table's columns)."""


def is_estimate(provenance: str | None) -> bool:
    """Return True when a provenance string names a model rather than a sensor."""
    return provenance is not None and provenance.startswith("estimated:")


class FamilyState(enum.StrEnum):
    """What probing a sensor family found."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    NOT_READABLE = "not_readable"


class DeviceStatus(enum.StrEnum):
    """Health of a device during a run."""

    OK = "ok"
    DEGRADED = "degraded"
    LOST = "lost"


class SensorError(Exception):
    """A sensor could not be read; the message says which file or call and how to fix it."""


@dataclass(frozen=True)
class Availability:
    """The result of probing one sensor family, shown by `finwatt doctor`.

    Attributes:
        family: "cpu", "memory", "rapl", "nvml" or "model".
        state: found / not found / not readable.
        reason: one sentence: what was found or why not.
        fix: what the user can do to get more (None when nothing to do).

    """

    family: str
    state: FamilyState
    reason: str
    fix: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """Static description of one device (the `device` table).

    Attributes:
        device_id: "cpu:N", "dram:N", "gpu:N" or "host".
        kind: "cpu", "dram", "gpu" or "host".
        model: model name where known.
        logical_cores: logical cores (cpu and host).
        mem_total_bytes: installed memory (host) or GPU memory.
        power_limit_w: TDP or power limit in watts.
        provenance: provenance of its power figures, None when it has none.
        details: source notes, e.g. {"tdp_source": "codecarbon cpu_power.csv: ..."}.

    """

    device_id: str
    kind: str
    model: str | None = None
    logical_cores: int | None = None
    mem_total_bytes: int | None = None
    power_limit_w: float | None = None
    provenance: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def merged(self, other: DeviceInfo) -> DeviceInfo:
        """Return this record with the non-null fields of `other` filled in over it."""
        return replace(
            self,
            model=other.model or self.model,
            logical_cores=other.logical_cores or self.logical_cores,
            mem_total_bytes=other.mem_total_bytes or self.mem_total_bytes,
            power_limit_w=other.power_limit_w or self.power_limit_w,
            provenance=other.provenance or self.provenance,
            details={**self.details, **other.details},
        )


@dataclass
class Reading:
    """One device's metrics at one tick; every metric is None where not available.

    `energy_j` is cumulative since the family started reading (run start), so the energy
    of any window is a difference of two readings. `energy_from_power_j` is the second
    energy figure kept where a device has both an energy counter and power readings
    (NVML), for the data-quality comparison of methodology section 1.
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


@runtime_checkable
class SensorFamily(Protocol):
    """One family of sensors: probed once, read on every tick.

    `read` must be cheap (no blocking calls) and may raise; the sampler then marks the
    family's devices degraded and goes on. `poll_interval_s` is the longest time the
    family may go unread (RAPL counters wrap); None means any cadence is fine.
    """

    name: str

    def availability(self) -> Availability:
        """Say what the probe found and, when nothing, why and how to fix it."""
        ...

    def devices(self) -> list[DeviceInfo]:
        """Return the devices this family reports on (empty when unavailable)."""
        ...

    def start(self, t_mono: float) -> None:
        """Take baseline readings at monotonic time `t_mono` (energy counts from here)."""
        ...

    def read(self, t_mono: float) -> list[Reading]:
        """Return one partial reading per device at monotonic time `t_mono`."""
        ...

    @property
    def poll_interval_s(self) -> float | None:
        """Longest allowed gap between reads, or None."""
        ...

    def close(self) -> None:
        """Release handles (NVML shutdown)."""
        ...
