"""A fake `pynvml`: the same function names, constants and NVMLError classes, scripted GPUs.

The error classes and constants are the real `pynvml` objects, so the adapter under test
catches the very classes it would catch on a real machine. Each `FakeGpu` is scriptable:
power (averaged and instant), energy counter, GPM SM activity, MIG instances, which
functions are unsupported or denied, calls that hang, and when it falls off the bus.
Every call is appended to `FakeNvml.calls`.

Defaults describe a GPU before Ampere's field values and Hopper's GPM: no instant power,
no GPM, no MIG; tests switch each on.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pynvml

from profiler.sensors.nvml.family import NvmlSensors

GIB = 1024**3
NO_COUNTER = {"nvmlDeviceGetTotalEnergyConsumption"}  # `unsupported` for a GPU with no counter


@dataclass
class Utilization:
    gpu: int
    memory: int


@dataclass
class Memory:
    total: int
    used: int
    free: int


@dataclass
class FakeMigDevice:
    """One MIG device (a compute instance of a GPU instance) of a MIG-enabled `FakeGpu`."""

    gpu_instance_id: int
    compute_instance_id: int = 0
    uuid: str = ""
    name: str = "NVIDIA H100 80GB HBM3 MIG 1g.10gb"
    mem_total_bytes: int = 10 * GIB
    mem_used_bytes: int = 1 * GIB
    #: SM activity of its GPU instance, percent (GPM per instance).
    sm_util_pct: float = 0.0


@dataclass
class FakeGpu:
    """One scripted GPU. Units follow NVML: mW, mJ, percent, bytes, MHz, degrees C."""

    name: str = "NVIDIA H100 80GB HBM3"
    #: None: "GPU-00000000-0000-0000-0000-<index>" from its NVML index.
    uuid: str | None = None
    mem_total_bytes: int = 80 * GIB
    mem_used_bytes: int = 1 * GIB
    power_limit_mw: int = 700_000
    power_mw: int = 100_000
    energy_mj: int = 5_000_000
    util_gpu_pct: int = 0
    util_mem_pct: int = 0
    sm_clock_mhz: int = 1_980
    temperature_c: int = 40
    #: Instant power (NVML_FI_DEV_POWER_INSTANT), mW; None: the field is not supported.
    power_instant_mw: int | None = None
    #: Field id -> nvmlReturn codes of its next reads, one per read, then success.
    field_returns: dict[int, list[int]] = field(default_factory=dict)
    #: GPM: supported (Hopper and later) and the SM activity it reports, percent.
    gpm_supported: bool = False
    sm_util_pct: float = 0.0
    #: MIG mode: None unsupported, else enabled now / after reset (pending None: same).
    mig_enabled: bool | None = None
    mig_pending: bool | None = None
    max_mig_devices: int = 7
    #: MIG slot index -> MIG device; empty slots answer NVMLError_NotFound.
    mig_devices: dict[int, FakeMigDevice] = field(default_factory=dict)
    #: Function names whose calls block until `release` is set (a hung driver).
    hang: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    #: NVML function names that raise NVMLError_NotSupported on this GPU.
    unsupported: set[str] = field(default_factory=set)
    #: NVML function names that raise NVMLError_NoPermission on this GPU.
    denied: set[str] = field(default_factory=set)
    #: Function name -> errors raised by its next calls, one per call, then it works.
    transient: dict[str, list[pynvml.NVMLError]] = field(default_factory=dict)
    #: The Nth device call (1-based) on this GPU and every later one raise `lost_error`.
    lose_at_call: int | None = None
    lost_error: type[pynvml.NVMLError] = pynvml.NVMLError_GpuIsLost
    device_calls: int = 0
    #: Per-process SM utilisation (pid -> percent) reported by the next
    #: nvmlDeviceGetProcessUtilization (empty: NVMLError_NotFound, no samples).
    process_sm_pct: dict[int, float] = field(default_factory=dict)
    #: Compute processes and the GPU memory each holds (pid -> bytes; None: not available).
    process_mem_bytes: dict[int, int | None] = field(default_factory=dict)
    process_sample_us: int = 1_000_000

    def run(self, seconds: float, power_w: float) -> None:
        """Draw `power_w` for `seconds`: set the power reading and advance the counter."""
        self.power_mw = round(power_w * 1000)
        self.energy_mj += round(power_w * seconds * 1000)

    def fall_off_bus(self, error: type[pynvml.NVMLError] = pynvml.NVMLError_GpuIsLost) -> None:
        """Make every call from now on raise `error`."""
        self.lose_at_call = self.device_calls + 1
        self.lost_error = error


@dataclass(frozen=True)
class FakeProcessSample:
    """`c_nvmlProcessUtilizationSample_t`: NVML's names."""

    pid: int
    smUtil: int  # noqa: N815
    memUtil: int  # noqa: N815
    timeStamp: int  # noqa: N815


@dataclass(frozen=True)
class FakeProcessInfo:
    """`c_nvmlProcessInfo_t`: NVML's names (`usedGpuMemory` None when not available)."""

    pid: int
    usedGpuMemory: int | None  # noqa: N815


@dataclass(frozen=True)
class Handle:
    index: int


@dataclass(frozen=True)
class MigHandle:
    index: int
    slot: int


class FakeValue:
    """NVML's value union: every member answers, as the ctypes union does."""

    def __init__(self, number: float) -> None:
        self.dVal = float(number)
        self.uiVal = self.ulVal = self.ullVal = self.sllVal = self.siVal = int(number)


@dataclass
class FakeFieldValue:
    fieldId: int  # noqa: N815 - NVML's names
    scopeId: int = 0  # noqa: N815
    timestamp: int = 0
    latencyUsec: int = 0  # noqa: N815
    valueType: int = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT  # noqa: N815
    nvmlReturn: int = pynvml.NVML_SUCCESS  # noqa: N815
    value: FakeValue = field(default_factory=lambda: FakeValue(0))


@dataclass
class FakeGpmSupport:
    isSupportedDevice: int  # noqa: N815


@dataclass
class FakeGpmSample:
    """One GPM sample: the SM activity (percent) of what was sampled when it was taken."""

    sm_util_pct: float | None = None
    freed: bool = False


@dataclass
class FakeGpmMetric:
    metricId: int = 0  # noqa: N815
    nvmlReturn: int = pynvml.NVML_SUCCESS  # noqa: N815
    value: float = 0.0


class FakeGpmMetricsGet:
    """`c_nvmlGpmMetricsGet_t` with the same fields, holding fake samples."""

    def __init__(self) -> None:
        self.version = 0
        self.numMetrics = 0
        self.sample1: FakeGpmSample | None = None
        self.sample2: FakeGpmSample | None = None
        self.metrics = [FakeGpmMetric() for _ in range(8)]


class FakeNvml(types.ModuleType):
    """A pynvml-shaped module over a list of `FakeGpu`s."""

    def __init__(
        self,
        gpus: Sequence[FakeGpu] = (),
        *,
        init_error: pynvml.NVMLError | None = None,
        driver_version: str = "550.54.15",
        cuda_driver_version: int = 12040,
    ) -> None:
        super().__init__("fake_pynvml")
        for name in dir(pynvml):
            if name.startswith(("NVMLError", "NVML_")):
                setattr(self, name, getattr(pynvml, name))
        self.c_nvmlGpmMetricsGet_t = FakeGpmMetricsGet
        self.samples: list[FakeGpmSample] = []
        self.gpus = list(gpus)
        self.init_error = init_error
        self.driver_version = driver_version
        self.cuda_driver_version = cuda_driver_version
        self.init_count = 0
        self.calls: list[str] = []

    # -- library -----------------------------------------------------------------------

    def nvmlInit(self) -> None:  # noqa: N802
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise self.init_error
        self.init_count += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.calls.append("nvmlShutdown")
        self._check_init()
        self.init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        self.calls.append("nvmlSystemGetDriverVersion")
        self._check_init()
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        self.calls.append("nvmlSystemGetCudaDriverVersion")
        self._check_init()
        return self.cuda_driver_version

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self.calls.append("nvmlDeviceGetCount")
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Handle:  # noqa: N802
        self.calls.append("nvmlDeviceGetHandleByIndex")
        self._check_init()
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError_InvalidArgument()
        return Handle(index)

    # -- per device ----------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: Handle | MigHandle) -> str:  # noqa: N802
        gpu = self._device("nvmlDeviceGetName", handle)
        return self._mig(handle).name if isinstance(handle, MigHandle) else gpu.name

    def nvmlDeviceGetUUID(self, handle: Handle | MigHandle) -> str:  # noqa: N802
        gpu = self._device("nvmlDeviceGetUUID", handle)
        if isinstance(handle, MigHandle):
            return self._mig(handle).uuid
        return gpu.uuid or f"GPU-00000000-0000-0000-0000-{handle.index:012d}"

    def nvmlDeviceGetMemoryInfo(self, handle: Handle | MigHandle) -> Memory:  # noqa: N802
        gpu = self._device("nvmlDeviceGetMemoryInfo", handle)
        total, used = gpu.mem_total_bytes, gpu.mem_used_bytes
        if isinstance(handle, MigHandle):
            total, used = self._mig(handle).mem_total_bytes, self._mig(handle).mem_used_bytes
        return Memory(total=total, used=used, free=total - used)

    def nvmlDeviceGetFieldValues(  # noqa: N802
        self, handle: Handle, field_ids: list[int]
    ) -> list[FakeFieldValue]:
        gpu = self._device("nvmlDeviceGetFieldValues", handle)
        values = []
        for field_id in field_ids:
            value = FakeFieldValue(field_id)
            pending = gpu.field_returns.get(field_id)
            if pending:
                value.nvmlReturn = pending.pop(0)
            elif field_id == pynvml.NVML_FI_DEV_POWER_INSTANT and gpu.power_instant_mw is not None:
                value.value = FakeValue(gpu.power_instant_mw)
            else:
                value.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
            values.append(value)
        return values

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Handle) -> int:  # noqa: N802
        return self._device("nvmlDeviceGetEnforcedPowerLimit", handle).power_limit_mw

    def nvmlDeviceGetPowerManagementLimit(self, handle: Handle) -> int:  # noqa: N802
        return self._device("nvmlDeviceGetPowerManagementLimit", handle).power_limit_mw

    def nvmlDeviceGetPowerUsage(self, handle: Handle) -> int:  # noqa: N802
        return self._device("nvmlDeviceGetPowerUsage", handle).power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Handle) -> int:  # noqa: N802
        return self._device("nvmlDeviceGetTotalEnergyConsumption", handle).energy_mj

    def nvmlDeviceGetUtilizationRates(self, handle: Handle) -> Utilization:  # noqa: N802
        gpu = self._device("nvmlDeviceGetUtilizationRates", handle)
        if gpu.mig_enabled:
            raise pynvml.NVMLError_NotSupported()  # NVML has no busy time under MIG
        return Utilization(gpu=gpu.util_gpu_pct, memory=gpu.util_mem_pct)

    def nvmlDeviceGetClockInfo(self, handle: Handle, clock_type: int) -> int:  # noqa: N802
        gpu = self._device("nvmlDeviceGetClockInfo", handle)
        if clock_type != pynvml.NVML_CLOCK_SM:
            raise pynvml.NVMLError_NotSupported()
        return gpu.sm_clock_mhz

    def nvmlDeviceGetTemperature(self, handle: Handle, sensor: int) -> int:  # noqa: N802
        gpu = self._device("nvmlDeviceGetTemperature", handle)
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError_InvalidArgument()
        return gpu.temperature_c

    # -- per process (attribution) -------------------------------------------------------

    def nvmlDeviceGetProcessUtilization(  # noqa: N802
        self, handle: Handle, last_seen_us: int
    ) -> list[FakeProcessSample]:
        gpu = self._device("nvmlDeviceGetProcessUtilization", handle)
        gpu.process_sample_us += 1_000
        samples = [
            FakeProcessSample(pid, round(pct), 0, gpu.process_sample_us)
            for pid, pct in gpu.process_sm_pct.items()
            if gpu.process_sample_us > last_seen_us
        ]
        if not samples:
            raise pynvml.NVMLError_NotFound()
        return samples

    def nvmlDeviceGetComputeRunningProcesses(  # noqa: N802
        self, handle: Handle
    ) -> list[FakeProcessInfo]:
        gpu = self._device("nvmlDeviceGetComputeRunningProcesses", handle)
        return [FakeProcessInfo(pid, used) for pid, used in gpu.process_mem_bytes.items()]

    # -- MIG ---------------------------------------------------------------------------

    def nvmlDeviceGetMigMode(self, handle: Handle) -> list[int]:  # noqa: N802
        gpu = self._device("nvmlDeviceGetMigMode", handle)
        if gpu.mig_enabled is None:
            raise pynvml.NVMLError_NotSupported()
        pending = gpu.mig_enabled if gpu.mig_pending is None else gpu.mig_pending
        return [int(gpu.mig_enabled), int(pending)]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: Handle) -> int:  # noqa: N802
        gpu = self._device("nvmlDeviceGetMaxMigDeviceCount", handle)
        if gpu.mig_enabled is None:
            raise pynvml.NVMLError_NotSupported()
        return gpu.max_mig_devices

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Handle, slot: int) -> MigHandle:  # noqa: N802
        gpu = self._device("nvmlDeviceGetMigDeviceHandleByIndex", handle)
        if not gpu.mig_enabled or slot not in gpu.mig_devices:
            raise pynvml.NVMLError_NotFound()
        return MigHandle(handle.index, slot)

    def nvmlDeviceGetGpuInstanceId(self, handle: MigHandle) -> int:  # noqa: N802
        self._device("nvmlDeviceGetGpuInstanceId", handle)
        return self._mig(handle).gpu_instance_id

    def nvmlDeviceGetComputeInstanceId(self, handle: MigHandle) -> int:  # noqa: N802
        self._device("nvmlDeviceGetComputeInstanceId", handle)
        return self._mig(handle).compute_instance_id

    # -- GPM -------------------------------------------------------------------------------

    def nvmlGpmQueryDeviceSupport(self, handle: Handle) -> FakeGpmSupport:  # noqa: N802
        gpu = self._device("nvmlGpmQueryDeviceSupport", handle)
        return FakeGpmSupport(int(gpu.gpm_supported))

    def nvmlGpmSampleAlloc(self) -> FakeGpmSample:  # noqa: N802
        self.calls.append("nvmlGpmSampleAlloc")
        self._check_init()
        sample = FakeGpmSample()
        self.samples.append(sample)
        return sample

    def nvmlGpmSampleFree(self, sample: FakeGpmSample) -> None:  # noqa: N802
        self.calls.append("nvmlGpmSampleFree")
        sample.freed = True

    def nvmlGpmSampleGet(self, handle: Handle, sample: FakeGpmSample) -> FakeGpmSample:  # noqa: N802
        gpu = self._device("nvmlGpmSampleGet", handle)
        if not gpu.gpm_supported:
            raise pynvml.NVMLError_NotSupported()
        sample.sm_util_pct = gpu.sm_util_pct
        return sample

    def nvmlGpmMigSampleGet(  # noqa: N802
        self, handle: Handle, gpu_instance_id: int, sample: FakeGpmSample
    ) -> FakeGpmSample:
        gpu = self._device("nvmlGpmMigSampleGet", handle)
        found = [d for d in gpu.mig_devices.values() if d.gpu_instance_id == gpu_instance_id]
        if not gpu.gpm_supported or not found:
            raise pynvml.NVMLError_NotSupported()
        sample.sm_util_pct = found[0].sm_util_pct
        return sample

    def nvmlGpmMetricsGet(self, request: FakeGpmMetricsGet) -> FakeGpmMetricsGet:  # noqa: N802
        self.calls.append("nvmlGpmMetricsGet")
        self._check_init()
        first, second = request.sample1, request.sample2
        if first is None or second is None or first is second or first.sm_util_pct is None:
            raise pynvml.NVMLError_InvalidArgument()
        for metric in request.metrics[: request.numMetrics]:
            if metric.metricId == pynvml.NVML_GPM_METRIC_SM_UTIL:
                # Activity between the two samples: the fake reports the later one's level.
                metric.value = float(second.sm_util_pct or 0.0)
                metric.nvmlReturn = pynvml.NVML_SUCCESS
            else:
                metric.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
        return request

    # -- scripting -----------------------------------------------------------------------

    def _check_init(self) -> None:
        if self.init_count <= 0:
            raise pynvml.NVMLError_Uninitialized()

    def _mig(self, handle: MigHandle) -> FakeMigDevice:
        return self.gpus[handle.index].mig_devices[handle.slot]

    def _device(self, function: str, handle: Any) -> FakeGpu:
        self.calls.append(function)
        self._check_init()
        gpu = self.gpus[handle.index]
        if function in gpu.hang:
            gpu.release.wait()
        gpu.device_calls += 1
        if gpu.lose_at_call is not None and gpu.device_calls >= gpu.lose_at_call:
            raise gpu.lost_error()
        if function in gpu.unsupported:
            raise pynvml.NVMLError_NotSupported()
        if function in gpu.denied:
            raise pynvml.NVMLError_NoPermission()
        pending = gpu.transient.get(function)
        if pending:
            raise pending.pop(0)
        return gpu


def started(*gpus: FakeGpu, t0: float = 100.0) -> tuple[NvmlSensors, FakeNvml]:
    """The NVML family over a `FakeNvml` of `gpus`, started at `t0`, and that fake."""
    fake = FakeNvml(gpus)
    sensors = NvmlSensors(fake)
    sensors.start(t0)
    return sensors, fake
