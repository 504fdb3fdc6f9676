"""The fleet's devices as read from Prometheus, turned into the analyzer's `HostData`.

`profiler.prometheus.query` fills one `Found` per (instance, device) query by query
(labels, capacity gauges, step-mean columns on the window's grid); `build_hosts` turns
them into `HostData`, one `DeviceSeries` per device with points. The columns a device
lacks (a host device has no power, a CPU package no utilisation) share one read-only
all-NaN array, and a device with a point at every step shares the grid (`SharedGrid`),
so the hosts hold only the columns that were read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from profiler.analysis.fleet_rules import HostData
from profiler.model.device import DeviceInfo
from profiler.model.samples import METRIC_SPECS
from profiler.model.series import DeviceSeries, FloatArray
from profiler.prometheus.curves import HostCurve
from profiler.prometheus.screen import Screen

RANGE_METRICS = tuple(
    (spec.name, spec.fleet_aggregate, spec.prometheus)
    for spec in METRIC_SPECS
    if spec.fleet_aggregate and spec.prometheus
)
"""(DeviceSeries column, PromQL range function, metric) of the series fleet analysis reads."""


@dataclass
class Found:
    """What the queries found of one device of one host, filled query by query."""

    kind: str
    model: str | None = None
    provenance: str | None = None
    capacity: dict[str, float] = field(default_factory=dict)
    columns: dict[str, FloatArray] = field(default_factory=dict)


class Devices(dict[tuple[str, str], Found]):
    """(instance, device) -> what was found of it."""

    def entry(self, labels: Mapping[str, str]) -> Found | None:
        """Return the device a series' labels name, None without instance or device."""
        instance, device = labels.get("instance"), labels.get("device")
        if not instance or not device:
            return None
        return self.setdefault(
            (instance, device), Found(labels.get("kind") or device.partition(":")[0])
        )


@dataclass(frozen=True)
class SharedGrid:
    """The window's grid, and the read-only arrays every fully covered device shares.

    A suspect host's devices lack most columns (a host device has no power, a CPU package
    no utilisation): they all point at one all-NaN array, and a device with a point at
    every step at the grid and one array of step lengths, so a month of 5-minute points
    of 1,000 hosts holds only the columns that were read.
    """

    grid: FloatArray
    step: float
    nan: FloatArray = field(init=False)
    steps: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.grid.flags.writeable = False
        for name, value in (("nan", np.nan), ("steps", self.step)):
            column = np.full(self.grid.size, value)
            column.flags.writeable = False
            object.__setattr__(self, name, column)


def build_hosts(
    devices: Devices,
    static: Devices,
    screens: Mapping[str, Screen],
    clear: set[str],
    curves: Mapping[str, HostCurve],
    shared: SharedGrid,
) -> list[HostData]:
    """Return the hosts of `devices` (read in full) and of `static` in `clear` (screened)."""
    by_host: dict[str, list[tuple[str, Found]]] = {}
    for (instance, device), found in sorted(devices.items()):
        by_host.setdefault(instance, []).append((device, found))
    for (instance, device), found in sorted(static.items()):
        if instance in clear:
            by_host.setdefault(instance, []).append((device, found))
    hosts = []
    for instance, items in sorted(by_host.items()):
        host = _host(instance, items, shared, curves.get(instance))
        if instance in clear:
            screened = screens[instance].as_dict()
            host = HostData(instance, [], host.model, host.cores, host.devices, screened)
        hosts.append(host)
    return hosts


def _spec(instance: str, device: str, found: Found) -> DeviceInfo:
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


def _device_series(spec: DeviceInfo, found: Found, shared: SharedGrid) -> DeviceSeries | None:
    """Return the device's points (NaN where a column is absent), None without any."""
    columns = {name: found.columns.get(name, shared.nan) for name, _, _ in RANGE_METRICS}
    present = np.zeros(shared.grid.size, dtype=bool)
    for column in columns.values():
        present |= ~np.isnan(column)
    if not present.any():
        return None
    if present.all():
        power = columns["power_w"]
        energy = shared.nan if power is shared.nan else power * shared.step
        return DeviceSeries(
            spec,
            shared.grid,
            columns["util"],
            power,
            energy,
            columns["mem_used_bytes"],
            columns["sm_active"],
            shared.steps,
        )
    power = columns["power_w"][present]
    return DeviceSeries(
        spec,
        shared.grid[present],
        columns["util"][present],
        power,
        power * shared.step,
        columns["mem_used_bytes"][present],
        columns["sm_active"][present],
        np.full(int(present.sum()), shared.step),
    )


def _host(
    instance: str,
    items: list[tuple[str, Found]],
    shared: SharedGrid,
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
        built = _device_series(spec, found, shared)
        if built is not None:
            series.append(built)
    return HostData(
        instance,
        series,
        model,
        cores,
        tuple(specs),
        curve=curve.curve if curve else None,
        ladder=curve.ladder if curve else None,
    )
