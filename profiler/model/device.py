"""Devices: what a device is (`DeviceInfo`), how it fared (`DeviceStatus`, `DeviceRecord`).

One record for the `device` table, the sensors' probe results, the interchange format and
the analyzer's input alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from profiler.model.provenance import is_estimate, is_measured


class DeviceStatus(enum.StrEnum):
    """Health of a device during a run."""

    OK = "ok"
    DEGRADED = "degraded"
    LOST = "lost"


_DESCRIBED = ("kind", "model", "logical_cores", "mem_total_bytes", "power_limit_w", "provenance")
"""The fields of `DeviceInfo.described`."""


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
        details: source notes, e.g. {"tdp_source": "codecarbon cpu_power.csv: ..."} or
            the power model's `model_idle_w` and `model_max_w`.

    """

    device_id: str
    kind: str
    model: str | None = None
    logical_cores: int | None = None
    mem_total_bytes: int | None = None
    power_limit_w: float | None = None
    provenance: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def described(self) -> dict[str, Any]:
        """Return what describes the device, `kind` to `provenance` in field order (JSON values).

        The part of a device that `doctor --json` and the interchange document both give.
        """
        return {name: getattr(self, name) for name in _DESCRIBED}

    @property
    def estimated(self) -> bool:
        """True when the power figures come from a model, not a sensor."""
        return is_estimate(self.provenance)

    @property
    def measured(self) -> bool:
        """True when the power figures come from a sensor."""
        return is_measured(self.provenance)

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


CAPACITY_METRICS = (
    ("logical_cores", "finwatt_device_logical_cores", "Logical CPU cores of the device."),
    (
        "mem_total_bytes",
        "finwatt_device_memory_total_bytes",
        "Installed memory of the host, or GPU memory, in bytes.",
    ),
    (
        "power_limit_w",
        "finwatt_device_power_limit_watts",
        "TDP or power limit of the device, in watts.",
    ),
)
"""(DeviceInfo field, Prometheus gauge, HELP text) of the static capacity of a device: the
exporter publishes them, fleet analysis reads them back to right-size and consolidate."""


@dataclass(frozen=True)
class DeviceRecord:
    """One row of the `device` table: the device and how it fared in the run."""

    info: DeviceInfo
    status: str = DeviceStatus.OK.value
    status_reason: str | None = None
