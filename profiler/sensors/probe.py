"""Probe every sensor family and assemble the devices of this machine.

The probing factory (after Zeus's `get_gpus`): psutil always, RAPL where powercap is
readable, NVML where the library and a GPU are present, and the CPU power model for every
package RAPL cannot measure. Absent hardware is skipped with the reason kept for
`finwatt doctor`; nothing here touches hardware at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from profiler.model.device import DeviceInfo
from profiler.sensors.base import Availability, FamilyState, SensorFamily
from profiler.sensors.cpu import CpuSensors
from profiler.sensors.nvml import NvmlSensors
from profiler.sensors.power_model import CpuPowerModel
from profiler.sensors.rapl import RaplSensors


@dataclass
class SensorSet:
    """The families to read, in order, with the devices they cover and the probe report.

    Attributes:
        families: families in read order (psutil first: the model uses its utilisation).
        devices: merged device records, `host` first, then cpu, dram, gpu.
        availability: one probe result per family, for `finwatt doctor`.
        family_devices: family name -> the device ids it reports on.
        cpu: the psutil family (the live view reads its per-core utilisation).

    """

    families: list[SensorFamily]
    devices: list[DeviceInfo]
    availability: list[Availability]
    family_devices: dict[str, list[str]] = field(default_factory=dict)
    cpu: CpuSensors | None = None

    def close(self) -> None:
        """Release every family's handles."""
        for family in self.families:
            family.close()


_KIND_ORDER = {"host": 0, "cpu": 1, "dram": 2, "gpu": 3}


def _device_sort_key(device: DeviceInfo) -> tuple[int, int, int, str]:
    # `gpu:N/mig:G` (a MIG instance) sorts right after its GPU `gpu:N`, by G.
    _, _, rest = device.device_id.partition(":")
    index, _, mig = rest.partition("/mig:")
    return (
        _KIND_ORDER.get(device.kind, 9),
        int(index) if index.isdigit() else 0,
        int(mig) if mig.isdigit() else -1,
        device.device_id,
    )


def probe_sensors(
    *,
    sysfs_root: Path = Path("/sys"),
    cpu_tdp_w: float | None = None,
    cpu_idle_ratio: float | None = None,
    nvml_module: ModuleType | None = None,
    want_gpu: bool = True,
) -> SensorSet:
    """Find every sensor this machine has and return them ready to sample.

    Args:
        sysfs_root: root of sysfs (`FINWATT_SYSFS_ROOT`), for powercap and topology.
        cpu_tdp_w: the user's TDP setting for the CPU model, in watts.
        cpu_idle_ratio: P_idle / P_max for the CPU model.
        nvml_module: an NVML module to use instead of importing `pynvml` (tests).
        want_gpu: probe NVML at all.

    """
    cpu = CpuSensors(sysfs_root)
    families: list[SensorFamily] = [cpu]
    availability = [cpu.availability()]
    by_id: dict[str, DeviceInfo] = {d.device_id: d for d in cpu.devices()}
    family_devices = {cpu.name: list(by_id)}

    rapl = RaplSensors(sysfs_root)
    availability.append(rapl.availability())
    rapl_devices = rapl.devices() if rapl.availability().state is FamilyState.FOUND else []
    if rapl_devices:
        families.append(rapl)
        family_devices[rapl.name] = [d.device_id for d in rapl_devices]
        for device in rapl_devices:
            by_id[device.device_id] = (
                by_id[device.device_id].merged(device) if device.device_id in by_id else device
            )

    measured = set(family_devices.get(rapl.name, []))
    unmeasured = [pkg for pkg in cpu.package_util if f"cpu:{pkg}" not in measured]
    if unmeasured:
        model = CpuPowerModel(
            cpu, cpu_tdp_w=cpu_tdp_w, idle_ratio=cpu_idle_ratio, packages=unmeasured
        )
        families.append(model)
        availability.append(model.availability())
        family_devices[model.name] = [d.device_id for d in model.devices()]
        for device in model.devices():
            by_id[device.device_id] = by_id[device.device_id].merged(device)

    if want_gpu:
        gpus = NvmlSensors(nvml_module)
        availability.append(gpus.availability())
        gpu_devices = gpus.devices()
        if gpu_devices:
            families.append(gpus)
            family_devices[gpus.name] = [d.device_id for d in gpu_devices]
            by_id.update({d.device_id: d for d in gpu_devices})
        else:
            gpus.close()

    devices = sorted(by_id.values(), key=_device_sort_key)
    return SensorSet(families, devices, availability, family_devices, cpu)
