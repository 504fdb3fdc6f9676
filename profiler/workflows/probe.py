"""Probe this machine's sensors as the settings say: the one place that reads them for it.

Every workflow that samples (profile, monitor, serve, the scheduler, `measure()`) and
`finwatt doctor` probe through `probe(settings)`, so the sysfs root and the CPU power
model's TDP and idle ratio come from one `Settings` object the same way everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from profiler.model.device import DeviceInfo
from profiler.sensors.base import Availability
from profiler.sensors.bmc.config import BmcConfig
from profiler.sensors.kube import availability as pod_names_availability
from profiler.sensors.kube import from_environment
from profiler.sensors.probe import SensorSet, probe_sensors
from profiler.sensors.virt import detect_virtualization, virt_availability
from profiler.settings.config import Settings
from profiler.workflows.host_curve import resolve_host_curve
from profiler.workflows.inventory import machine_inventory
from profiler.workflows.provisioned import record_limits


def probe(settings: Settings) -> SensorSet:
    """Probe every sensor family with the settings' sysfs root and CPU model values.

    The caller owns the returned set until it hands it to a `Recording`, which closes it
    when the run ends; otherwise the caller closes it.
    """
    sensors = probe_sensors(
        sysfs_root=settings.sysfs_root,
        cpu_tdp_w=settings.cpu_tdp_w,
        cpu_idle_ratio=settings.cpu_idle_ratio,
        host_curve=resolve_host_curve(settings),
        share=settings.vm_share,
        bmc=BmcConfig.from_values(settings.bmc),  # the node's wall power (docs/permissions.md)
    )
    record_limits(sensors, settings.sysfs_root)  # a container's limits (docs/attribution.md)
    sensors.inventory = machine_inventory(settings, sensors)  # docs/decisions.md#audit-trail
    return sensors


@dataclass(frozen=True)
class Diagnosis:
    """What `finwatt doctor` shows.

    Attributes:
        availability: each sensor family's state, reason and fix; the virtualization
            line (VM or bare metal, which power model applies) last.
        devices: the devices found.
        virtualization: the JSON shape of `finwatt doctor --json` `virtualization`.
    """

    availability: list[Availability]
    devices: list[DeviceInfo]
    virtualization: dict[str, object]


def diagnose(settings: Settings) -> Diagnosis:
    """Probe every sensor family, close them again, and say whether this host is a VM."""
    sensors = probe(settings)
    try:
        availability = list(sensors.availability)
        devices = list(sensors.devices)
    finally:
        sensors.close()
    namer = from_environment(os.environ)  # FINWATT_KUBELET_URL set: can pods be named?
    if namer is not None:
        availability.append(pod_names_availability(namer))
    virt = detect_virtualization()
    availability.append(virt_availability(virt, host_curve=settings.host_curve is not None))
    return Diagnosis(availability, devices, virt.as_dict())
