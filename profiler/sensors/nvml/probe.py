"""Probing one GPU through NVML: its static facts and which tick fields it supports.

Decided once, at probe: the UUID (the name CUDA and `CUDA_VISIBLE_DEVICES` know it by),
model, memory, power limit, whether power is instant or a 1-s average, whether GPM gives
SM activity, MIG mode and instances. Fields a GPU does not support are never asked for
per tick; `details["nvml_absent"]` says why each is absent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from profiler.model.device import DeviceInfo
from profiler.model.provenance import MEASURED_NVML_ENERGY, MEASURED_NVML_POWER
from profiler.sensors.nvml.deadline import DeadlineCaller
from profiler.sensors.nvml.fields import PowerSource, average_power_w, instant_power_w
from profiler.sensors.nvml.gpm import SOURCE as GPM_SOURCE
from profiler.sensors.nvml.gpm import GpmSmActivity, gpm_supported
from profiler.sensors.nvml.library import NvmlError, NvmlFailure, NvmlLibrary, text
from profiler.sensors.nvml.mig import MigMode, mig_instances, mig_mode
from profiler.sensors.nvml.tick import (
    CLOCK,
    ENERGY,
    MEMORY,
    POWER,
    SM,
    TEMPERATURE,
    TICK_FIELDS,
    UTIL,
    GpuState,
    MigState,
)

log = logging.getLogger(__name__)

Query = Callable[[GpuState, float], Any]
"""Reads one tick field of a GPU at a monotonic time, in finwatt's units."""

_MW_PER_W = 1000.0


@dataclass
class ProbedGpu:
    """One GPU as probed: its state and the problems worth a line in `finwatt doctor`."""

    gpu: GpuState
    notes: list[str] = field(default_factory=list)


def tick_queries(lib: NvmlLibrary) -> dict[str, Query]:
    """Return one reader per tick field: (GPU, t_mono) -> value in finwatt's units."""

    def power_w(gpu: GpuState, _t: float) -> float:
        if gpu.power_source is PowerSource.INSTANT:
            return instant_power_w(lib, gpu.handle)
        return average_power_w(lib, gpu.handle)

    def sm_active(gpu: GpuState, t_mono: float) -> float | None:
        if gpu.gpm is None:
            gpu.gpm = GpmSmActivity(lib, gpu.handle)
        return gpu.gpm.read(t_mono)

    def clock_mhz(gpu: GpuState, _t: float) -> float:
        return float(lib.call("nvmlDeviceGetClockInfo", gpu.handle, lib.constant("NVML_CLOCK_SM")))

    def temperature_c(gpu: GpuState, _t: float) -> float:
        sensor = lib.constant("NVML_TEMPERATURE_GPU")
        return float(lib.call("nvmlDeviceGetTemperature", gpu.handle, sensor))

    return {
        POWER: power_w,
        ENERGY: lambda g, _t: int(lib.call("nvmlDeviceGetTotalEnergyConsumption", g.handle)),
        UTIL: lambda g, _t: lib.call("nvmlDeviceGetUtilizationRates", g.handle).gpu / 100.0,
        SM: sm_active,
        MEMORY: lambda g, _t: int(lib.call("nvmlDeviceGetMemoryInfo", g.handle).used),
        CLOCK: clock_mhz,
        TEMPERATURE: temperature_c,
    }


def probe_gpu(
    lib: NvmlLibrary, index: int, queries: dict[str, Query], timeout_s: float | None
) -> ProbedGpu:
    """Read a GPU's static facts and decide once which tick fields it supports.

    Args:
        lib: the NVML boundary.
        index: NVML's index of the GPU.
        queries: the tick readers (`tick_queries`).
        timeout_s: the deadline of the GPU's calls while sampling.

    Raises:
        NvmlError: the GPU cannot be opened or is lost.

    """
    handle = lib.call("nvmlDeviceGetHandleByIndex", index)
    gpu = GpuState(
        index=index,
        handle=handle,
        info=DeviceInfo(device_id=f"gpu:{index}", kind="gpu"),
        fields=set(),
        deadline=DeadlineCaller(timeout_s, f"nvml-gpu:{index}"),
    )
    details: dict[str, Any] = {"nvml_index": index}
    uuid = static(lambda: text(lib.call("nvmlDeviceGetUUID", handle)))
    if uuid is not None:
        details["uuid"] = uuid
    limit_mw = static(lambda: lib.call("nvmlDeviceGetEnforcedPowerLimit", handle))
    if limit_mw is None:
        limit_mw = static(lambda: lib.call("nvmlDeviceGetPowerManagementLimit", handle))
    absent = _probe_fields(lib, gpu, queries)
    if absent:
        details["nvml_absent"] = absent
    if POWER in gpu.fields:
        details["power_source"] = gpu.power_source.value
    details["sm_active_source"] = GPM_SOURCE if SM in gpu.fields else None
    notes = _probe_mig(lib, gpu, mig_mode(lib, handle), details)
    provenance = None
    if ENERGY in gpu.fields:
        provenance = MEASURED_NVML_ENERGY
    elif POWER in gpu.fields:
        provenance = MEASURED_NVML_POWER
    gpu.info = DeviceInfo(
        device_id=f"gpu:{index}",
        kind="gpu",
        model=static(lambda: text(lib.call("nvmlDeviceGetName", handle))),
        mem_total_bytes=static(lambda: int(lib.call("nvmlDeviceGetMemoryInfo", handle).total)),
        power_limit_w=None if limit_mw is None else limit_mw / _MW_PER_W,
        provenance=provenance,
        details=details,
    )
    return ProbedGpu(gpu, notes)


def describe(gpu: GpuState) -> str:
    """One GPU for `finwatt doctor`: id, model, provenance and MIG instances."""
    facts = str(gpu.info.provenance)
    if gpu.migs:
        facts += f", MIG enabled: {', '.join(m.device_id for m in gpu.migs)}"
    return f"{gpu.device_id} {gpu.info.model or 'unknown model'} ({facts})"


def static(query: Callable[[], Any]) -> Any:
    """Run a one-off probe query; None when the GPU does not support it.

    Raises:
        NvmlError: the GPU is lost.

    """
    try:
        return query()
    except NvmlError as err:
        if err.failure is NvmlFailure.LOST:
            raise
        log.info("nvml: %s", err)
        return None


def _probe_fields(lib: NvmlLibrary, gpu: GpuState, queries: dict[str, Query]) -> dict[str, str]:
    """Decide which tick fields the GPU supports; return why each absent one is absent."""
    absent: dict[str, str] = {}
    for name in TICK_FIELDS:
        if name == SM:
            # Before Hopper GPM does not exist: no SM activity, and `sm_active_source` None
            # says so (not an NVML failure worth listing in `nvml_absent`).
            if gpm_supported(lib, gpu.handle):
                gpu.fields.add(SM)
            continue
        if name == POWER and _has_instant_power(gpu, queries[POWER]):
            gpu.fields.add(POWER)
            continue
        try:
            queries[name](gpu, 0.0)
        except NvmlError as err:
            if err.failure is NvmlFailure.LOST:
                raise
            if err.failure in (NvmlFailure.UNSUPPORTED, NvmlFailure.NO_PERMISSION):
                absent[name] = str(err)
                continue
        gpu.fields.add(name)
    return absent


def _has_instant_power(gpu: GpuState, power: Query) -> bool:
    """True when instant power reads; else the GPU falls back to the 1-s average."""
    gpu.power_source = PowerSource.INSTANT
    try:
        power(gpu, 0.0)
    except NvmlError as err:
        if err.failure is NvmlFailure.LOST:
            raise
        gpu.power_source = PowerSource.AVERAGE
        return False
    return True


def _probe_mig(
    lib: NvmlLibrary, gpu: GpuState, mode: MigMode, details: dict[str, Any]
) -> list[str]:
    """Record the MIG mode and list the GPU instances as devices; notes for doctor."""
    if mode.current is None:
        return []
    details["mig"] = {"mode": mode.describe()}
    if not mode.current:
        return []
    try:
        instances = mig_instances(lib, gpu.handle)
    except NvmlError as err:
        if err.failure is NvmlFailure.LOST:
            raise
        return [f"{gpu.device_id}: MIG enabled but its instances are not listed ({err})"]
    # GPM per GPU instance needs a GPU with GPM (Hopper and later), MIG or not.
    gpm = gpm_supported(lib, gpu.handle)
    gpu.migs = [MigState.probed(gpu, instance, gpm=gpm) for instance in instances]
    details["mig"]["instances"] = [m.device_id for m in gpu.migs]
    details["mig"]["energy"] = (
        "whole GPU: every MIG instance and tenant together; instances have no power "
        "reading of their own"
    )
    return []
