"""Probe every sensor family and assemble the devices of this machine.

The probing factory (after Zeus's `get_gpus`): psutil always, then each family folder's
own factory: RAPL where powercap is readable, else RAPL through the perf power PMU
(`rapl.get_rapl`, no root needed), the CPU power model for every package RAPL cannot
measure, NVML where the library and a GPU are present (`nvml.get_gpus`), and, with
`[bmc]` settings, the node's wall power from Redfish, else IPMI (`bmc.get_bmc`, the
`node` device). Absent hardware is skipped with the reason kept for `finwatt doctor`;
nothing here touches hardware at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from profiler.model.device import DeviceInfo
from profiler.sensors.base import Availability, SensorFamily
from profiler.sensors.bmc import get_bmc
from profiler.sensors.bmc.config import BmcConfig
from profiler.sensors.cpu import CpuSensors
from profiler.sensors.host_curve import HostCurve, HostCurveModel, vm_share
from profiler.sensors.nvml import get_gpus
from profiler.sensors.power_model import CpuPowerModel
from profiler.sensors.rapl import get_rapl
from profiler.sensors.rapl.perf import PerfEvents
from profiler.sensors.specpower.curve import SpecpowerCurveModel


@dataclass
class SensorSet:
    """The families to read, in order, with the devices they cover and the probe report.

    Attributes:
        families: families in read order (psutil first: the model uses its utilisation).
        devices: merged device records, `host` first, then cpu, dram, gpu.
        availability: one probe result per family, for `finwatt doctor`.
        family_devices: family name -> the device ids it reports on.
        cpu: the psutil family (the live view reads its per-core utilisation).
        inventory: what the machine runs (`sensors.inventory`), stored with each run
            recorded from this set; filled by `profiler.workflows.probe`.

    """

    families: list[SensorFamily]
    devices: list[DeviceInfo]
    availability: list[Availability]
    family_devices: dict[str, list[str]] = field(default_factory=dict)
    cpu: CpuSensors | None = None
    inventory: dict[str, str | None] = field(default_factory=dict)

    def close(self) -> None:
        """Release every family's handles."""
        for family in self.families:
            family.close()


_KIND_ORDER = {"host": 0, "node": 0, "cpu": 1, "dram": 2, "gpu": 3}


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
    host_curve: HostCurve | None = None,
    share: float | None = None,
    proc_root: Path = Path("/proc"),
    perf_events: PerfEvents | None = None,
    bmc: BmcConfig | None = None,
) -> SensorSet:
    """Find every sensor this machine has and return them ready to sample.

    Args:
        sysfs_root: root of sysfs (`FINWATT_SYSFS_ROOT`), for powercap and topology.
        cpu_tdp_w: the user's TDP setting for the CPU model, in watts. With it (or
            `cpu_idle_ratio`) unmeasured packages get `estimated:linear-tdp`; without
            either, `estimated:specpower-curve` (the CPU group's SPECpower curve).
        cpu_idle_ratio: P_idle / P_max for the linear CPU model.
        nvml_module: an NVML module to use instead of importing `pynvml` (tests).
        want_gpu: probe NVML at all.
        host_curve: in a VM, the host's power curve: the packages RAPL cannot measure
            get `estimated:host-curve` instead of the TDP or per-vCPU model.
        share: the VM's share of the host (`vm_share`), else vCPUs / the curve's
            host threads.
        proc_root: root of procfs (`perf_event_paranoid`, capabilities) for rapl-perf.
        perf_events: the perf_event_open seam for rapl-perf (tests).
        bmc: the `[bmc]` settings; None probes no BMC (no `node` device).

    """
    cpu = CpuSensors(sysfs_root)
    into = _Assembly()
    into.take(cpu, [cpu.availability()])
    rapl, rapl_states = get_rapl(sysfs_root, proc_root, perf_events)
    into.take(rapl, rapl_states)
    measured = {d.device_id for d in rapl.devices()} if rapl is not None else set()
    unmeasured = [pkg for pkg in cpu.package_util if f"cpu:{pkg}" not in measured]
    if unmeasured:
        model: CpuPowerModel | HostCurveModel | SpecpowerCurveModel
        if host_curve is not None:
            vm = vm_share(share, len(cpu.packages), host_curve.host_threads, host_curve.source)
            model = HostCurveModel(cpu, host_curve, *vm, packages=unmeasured)
        elif cpu_tdp_w is None and cpu_idle_ratio is None:
            model = SpecpowerCurveModel(cpu, packages=unmeasured)
        else:
            model = CpuPowerModel(
                cpu, cpu_tdp_w=cpu_tdp_w, idle_ratio=cpu_idle_ratio, packages=unmeasured
            )
        into.take(model, [model.availability()])
    if want_gpu:
        into.take(*get_gpus(nvml_module))
    if bmc is not None:
        into.take(*get_bmc(bmc))
    devices = sorted(into.by_id.values(), key=_device_sort_key)
    return SensorSet(into.families, devices, into.availability, into.family_devices, cpu)


@dataclass
class _Assembly:
    """The lists `probe_sensors` is filling, one family at a time."""

    families: list[SensorFamily] = field(default_factory=list)
    availability: list[Availability] = field(default_factory=list)
    family_devices: dict[str, list[str]] = field(default_factory=dict)
    by_id: dict[str, DeviceInfo] = field(default_factory=dict)

    def take(self, family: SensorFamily | None, states: list[Availability]) -> None:
        """Record a family's probe results and, when it is read, the family and its devices.

        A device another family already reports (`cpu:P` from psutil) is merged with it.
        """
        self.availability.extend(states)
        if family is None:
            return
        devices = family.devices()
        self.families.append(family)
        self.family_devices[family.name] = [d.device_id for d in devices]
        for device in devices:
            known = self.by_id.get(device.device_id)
            self.by_id[device.device_id] = known.merged(device) if known else device
