"""Inside a container, "provisioned" is the container's limits, not the host's.

/proc inside a container shows the host's CPUs and memory; what the container may use is
its cgroup's CPU quota, cpuset and memory limit (`profiler.sensors.cgroups.cgroup_limits`).
Right-sizing against the host's 64 cores when the container holds 2 is codecarbon#629's
failure. So:

- `probe` (`profiler.workflows.probe`) records the limits, when they are tighter than
  the host, in the `host` device's `details["cgroup_limits"]`; `finwatt doctor` shows
  them and says the analyzer uses them.
- the analyzer (`profiler.workflows.analyze`) sizes against them (`container_scoped`):
  the host series' `logical_cores` becomes the provisioned cores (the quota, or the
  cpuset, rounded to whole cores, at least 1) and `mem_total_bytes` the memory limit; its
  utilisation is rescaled so busy cores stay what /proc measured (host utilisation x
  host cores / provisioned cores, at most 1). The assessment says so in an assumption
  line and in `metrics["provisioned"]`.

/proc/stat inside a container counts the whole host's busy time, so the busy cores
measured there are an upper bound on the container's own.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.series import DeviceSeries
from profiler.sensors.cgroups import CgroupLimits, cgroup_limits
from profiler.sensors.probe import SensorSet

if TYPE_CHECKING:
    from profiler.analysis.assess import Assessment

LIMITS_KEY = "cgroup_limits"
"""The `host` device's details key holding the limits (`CgroupLimits.as_dict`)."""


def tighter_than_host(limits: CgroupLimits, host: DeviceInfo) -> bool:
    """True when the limits allow fewer cores or less memory than the host has."""
    cores, memory = limits.cores, limits.memory_max_bytes
    return (
        cores is not None and host.logical_cores is not None and cores < host.logical_cores
    ) or (memory is not None and host.mem_total_bytes is not None and memory < host.mem_total_bytes)


def record_limits(
    sensors: SensorSet, sysfs_root: Path, proc_root: Path = Path("/proc")
) -> CgroupLimits | None:
    """Put this process's cgroup limits on the `host` device when they are tighter.

    Args:
        sensors: the probed set; its `host` record is replaced in place.
        sysfs_root: sysfs (`FINWATT_SYSFS_ROOT`); the cgroup mount is `fs/cgroup` under it.
        proc_root: procfs, for `self/cgroup`.

    Returns:
        The limits recorded, or None (no cgroups, or none tighter than the host).
    """
    limits = cgroup_limits(sysfs_root / "fs" / "cgroup", proc_root)
    for i, device in enumerate(sensors.devices):
        if device.kind == "host" and limits is not None and tighter_than_host(limits, device):
            details = {**device.details, LIMITS_KEY: limits.as_dict()}
            sensors.devices[i] = replace(device, details=details)
            return limits
    return None


def provisioned_line(limits: dict[str, Any], host: DeviceInfo) -> str:
    """One sentence: what was provisioned, from which files, instead of what the host has."""
    parts = []
    if limits.get("cores") is not None:
        parts.append(f"{limits['cores']:g} cores")
    if limits.get("memory_max_bytes") is not None:
        parts.append(f"{limits['memory_max_bytes'] / 2**30:.1f} GiB")
    host_parts = [f"{host.logical_cores} cores" if host.logical_cores else None]
    if host.mem_total_bytes:
        host_parts.append(f"{host.mem_total_bytes / 2**30:.1f} GiB")
    return (
        f"provisioned: {' and '.join(parts)} from the cgroup v{limits.get('cgroup_version')} "
        f"limits ({'; '.join(limits.get('sources', []))}), not the host's "
        f"{' and '.join(p for p in host_parts if p)}; the analyzer sizes against these"
    )


def container_scoped(series: list[DeviceSeries]) -> tuple[list[DeviceSeries], str | None]:
    """Size the `host` series against its recorded cgroup limits (see the module).

    Returns:
        The series (the host's replaced where limits were recorded) and the assumption
        line saying so (None when nothing changed).
    """
    out: list[DeviceSeries] = []
    note: str | None = None
    for s in series:
        limits = s.spec.details.get(LIMITS_KEY)
        if s.spec.kind != "host" or not isinstance(limits, dict):
            out.append(s)
            continue
        spec = s.spec
        util = s.util
        util_peak = s.util_peak
        cores = limits.get("cores")
        if cores is not None and spec.logical_cores:
            provisioned = max(1, round(float(cores)))
            scale = spec.logical_cores / provisioned
            util = np.minimum(s.util * scale, 1.0)
            util_peak = np.minimum(s.util_peak * scale, 1.0)
            spec = replace(spec, logical_cores=provisioned)
        memory = limits.get("memory_max_bytes")
        if memory is not None:
            spec = replace(spec, mem_total_bytes=int(memory))
        note = provisioned_line(limits, s.spec)
        out.append(replace(s, spec=spec, util=util, util_peak=util_peak))
    return out, note


def say_provisioned(assessment: Assessment, note: str | None, series: list[DeviceSeries]) -> None:
    """Add the provisioned line to the assessment's assumptions and metrics (in place)."""
    if note is None:
        return
    assessment.assumptions.append(note)
    host = next((s.spec for s in series if s.spec.kind == "host"), None)
    assessment.metrics["provisioned"] = {
        "source": "cgroup limits",
        "logical_cores": host.logical_cores if host else None,
        "mem_total_bytes": host.mem_total_bytes if host else None,
        "note": note,
    }


def provisioned_note(devices: list[DeviceInfo]) -> str | None:
    """The provisioned line of the `host` device that has recorded limits, else None."""
    for device in devices:
        limits = device.details.get(LIMITS_KEY)
        if device.kind == "host" and isinstance(limits, dict):
            return provisioned_line(limits, device)
    return None
