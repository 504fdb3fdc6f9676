"""A fake `pynvml`: the same function names, constants and NVMLError classes, scripted GPUs.

The error classes and constants are the real `pynvml` objects, so the adapter under test
catches the very classes it would catch on a real machine. Each `FakeGpu` is scriptable:
power, energy counter, which functions are unsupported or denied, and when it falls off
the bus. Every call is appended to `FakeNvml.calls`.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass, field

import pynvml

GIB = 1024**3


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
class FakeGpu:
    """One scripted GPU. Units follow NVML: mW, mJ, percent, bytes, MHz, degrees C."""

    name: str = "NVIDIA H100 80GB HBM3"
    mem_total_bytes: int = 80 * GIB
    mem_used_bytes: int = 1 * GIB
    power_limit_mw: int = 700_000
    power_mw: int = 100_000
    energy_mj: int = 5_000_000
    util_gpu_pct: int = 0
    util_mem_pct: int = 0
    sm_clock_mhz: int = 1_980
    temperature_c: int = 40
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

    def run(self, seconds: float, power_w: float) -> None:
        """Draw `power_w` for `seconds`: set the power reading and advance the counter."""
        self.power_mw = round(power_w * 1000)
        self.energy_mj += round(power_w * seconds * 1000)

    def fall_off_bus(self, error: type[pynvml.NVMLError] = pynvml.NVMLError_GpuIsLost) -> None:
        """Make every call from now on raise `error`."""
        self.lose_at_call = self.device_calls + 1
        self.lost_error = error


@dataclass(frozen=True)
class Handle:
    index: int


class FakeNvml(types.ModuleType):
    """A pynvml-shaped module over a list of `FakeGpu`s."""

    def __init__(
        self,
        gpus: Sequence[FakeGpu] = (),
        *,
        init_error: pynvml.NVMLError | None = None,
        driver_version: str = "550.54.15",
    ) -> None:
        super().__init__("fake_pynvml")
        for name in dir(pynvml):
            if name.startswith(("NVMLError", "NVML_")):
                setattr(self, name, getattr(pynvml, name))
        self.gpus = list(gpus)
        self.init_error = init_error
        self.driver_version = driver_version
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

    def nvmlDeviceGetName(self, handle: Handle) -> str:  # noqa: N802
        return self._device("nvmlDeviceGetName", handle).name

    def nvmlDeviceGetMemoryInfo(self, handle: Handle) -> Memory:  # noqa: N802
        gpu = self._device("nvmlDeviceGetMemoryInfo", handle)
        free = gpu.mem_total_bytes - gpu.mem_used_bytes
        return Memory(total=gpu.mem_total_bytes, used=gpu.mem_used_bytes, free=free)

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

    # -- scripting -----------------------------------------------------------------------

    def _check_init(self) -> None:
        if self.init_count <= 0:
            raise pynvml.NVMLError_Uninitialized()

    def _device(self, function: str, handle: Handle) -> FakeGpu:
        self.calls.append(function)
        self._check_init()
        gpu = self.gpus[handle.index]
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
