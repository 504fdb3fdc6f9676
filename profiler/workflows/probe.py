"""Probe this machine's sensors as the settings say: the one place that reads them for it.

Every workflow that samples (profile, monitor, serve, the scheduler, `measure()`) and
`finwatt doctor` probe through `probe(settings)`, so the sysfs root and the CPU power
model's TDP and idle ratio come from one `Settings` object the same way everywhere.
"""

from __future__ import annotations

from profiler.sensors.bmc.config import BmcConfig
from profiler.sensors.probe import SensorSet, probe_sensors
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
