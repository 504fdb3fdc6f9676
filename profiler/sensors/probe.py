"""Probe every sensor family and assemble the devices of this machine.

The probing factory (after Zeus's `get_gpus`): psutil always, RAPL where powercap is
readable, else RAPL through the perf power PMU (`rapl_perf`, no root needed), NVML where
the library and a GPU are present, the CPU power model for every package RAPL cannot
measure, and, with `[bmc]` settings, the node's wall power from Redfish, else IPMI
(`node`). Absent hardware is skipped with the reason kept for
`finwatt doctor`; nothing here touches hardware at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

from profiler.model.device import DeviceInfo
from profiler.sensors.base import Availability, FamilyState, SensorFamily
from profiler.sensors.bmc_config import BmcConfig
from profiler.sensors.bmc_poller import BmcFamily
from profiler.sensors.cpu import CpuSensors
from profiler.sensors.host_curve import HostCurve, HostCurveModel, vm_share
from profiler.sensors.ipmi import IpmiSource
from profiler.sensors.nvml import NvmlSensors
from profiler.sensors.power_model import CpuPowerModel
from profiler.sensors.rapl import RaplSensors
from profiler.sensors.rapl_perf import PerfEvents, RaplPerfSensors
from profiler.sensors.redfish import RedfishSource


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
        cpu_tdp_w: the user's TDP setting for the CPU model, in watts.
        cpu_idle_ratio: P_idle / P_max for the CPU model.
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
    families: list[SensorFamily] = [cpu]
    availability = [cpu.availability()]
    by_id: dict[str, DeviceInfo] = {d.device_id: d for d in cpu.devices()}
    family_devices = {cpu.name: list(by_id)}
    into = _Assembly(families, availability, family_devices, by_id)

    rapl = RaplSensors(sysfs_root)
    availability.append(rapl.availability())
    rapl_devices = rapl.devices() if rapl.availability().state is FamilyState.FOUND else []
    if rapl_devices:
        into.add(rapl, rapl_devices)

    _add_rapl_perf(RaplPerfSensors(sysfs_root, proc_root, perf_events), bool(rapl_devices), into)
    measured = set(family_devices.get(rapl.name, [])) | set(family_devices.get("rapl-perf", []))
    unmeasured = [pkg for pkg in cpu.package_util if f"cpu:{pkg}" not in measured]
    if unmeasured:
        model: CpuPowerModel | HostCurveModel
        if host_curve is not None:
            vm = vm_share(share, len(cpu.packages), host_curve.host_threads, host_curve.source)
            model = HostCurveModel(cpu, host_curve, *vm, packages=unmeasured)
        else:
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

    if bmc is not None:
        _add_bmc(bmc, into)

    devices = sorted(by_id.values(), key=_device_sort_key)
    return SensorSet(families, devices, availability, family_devices, cpu)


@dataclass
class _Assembly:
    """The lists `probe_sensors` is filling, handed to the helpers that add a family."""

    families: list[SensorFamily]
    availability: list[Availability]
    family_devices: dict[str, list[str]]
    by_id: dict[str, DeviceInfo]

    def add(self, family: SensorFamily, devices: list[DeviceInfo]) -> None:
        self.families.append(family)
        self.family_devices[family.name] = [d.device_id for d in devices]
        for device in devices:
            known = self.by_id.get(device.device_id)
            self.by_id[device.device_id] = known.merged(device) if known else device


def _add_rapl_perf(perf: RaplPerfSensors, powercap_read: bool, into: _Assembly) -> None:
    """Use RAPL through perf where powercap gave nothing (docs/decisions.md#bmc-and-perf)."""
    state = perf.availability()
    if powercap_read or state.state is not FamilyState.FOUND:
        if state.state is FamilyState.FOUND:
            state = replace(state, reason=f"{state.reason}; not used: powercap RAPL is read")
        into.availability.append(state)
        perf.close()
        return
    into.availability.append(state)
    into.add(perf, perf.devices())


def _add_bmc(bmc: BmcConfig, into: _Assembly) -> None:
    """Add the `node` device from Redfish when configured and answering, else from IPMI.

    Both are probed so `finwatt doctor` lists both; the one not used says so.
    """
    chosen: BmcFamily | None = None
    for source in (RedfishSource(bmc), IpmiSource(bmc)):
        family = BmcFamily(source, poll_interval_s=bmc.poll_interval_s, timeout_s=bmc.timeout_s)
        state = family.availability()
        devices = family.devices()
        if devices and chosen is None:
            chosen = family
            into.availability.append(state)
            into.add(family, devices)
            continue
        if devices and chosen is not None:
            state = replace(state, reason=f"{state.reason}; not used: {chosen.name} is read")
        into.availability.append(state)
        family.close()
