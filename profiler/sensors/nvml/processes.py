"""Per-process GPU figures from NVML: SM utilisation per process, else memory held.

`nvmlDeviceGetProcessUtilization(handle, last_seen_us)` returns the driver's per-process
samples since a timestamp (SM percent per process, as `nvidia-smi pmon -s u` shows);
many drivers and every MIG setup answer "not supported", and then the memory each process
holds (`nvmlDeviceGetComputeRunningProcesses`, `nvidia-smi --query-compute-apps=pid,
used_memory --format=csv`) is the fallback basis. `profiler.analysis.attribution.
share_gpu_energy` says which basis a share used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from profiler.sensors.nvml.library import NvmlError, NvmlFailure, NvmlLibrary

_QUIET = (NvmlFailure.UNSUPPORTED, NvmlFailure.NO_PERMISSION)


@dataclass(frozen=True)
class GpuProcesses:
    """One GPU's processes at one read.

    Attributes:
        sm_util_by_pid: mean SM utilisation (percent) per process over the samples since
            the previous read; empty when none ran.
        mem_bytes_by_pid: GPU memory held per compute process, in bytes.
        util_supported: False when the driver gives no per-process utilisation.
        last_seen_us: the newest sample's timestamp (pass it to the next read).
    """

    sm_util_by_pid: dict[int, float]
    mem_bytes_by_pid: dict[int, int]
    util_supported: bool
    last_seen_us: int


def read_gpu_processes(lib: NvmlLibrary, handle: Any, last_seen_us: int = 0) -> GpuProcesses:
    """Read one GPU's per-process utilisation and memory.

    Raises:
        NvmlError: the GPU failed in another way than "not supported" / "not permitted"
            (lost, unknown): the caller decides what that means for the run.
    """
    util: dict[int, list[float]] = {}
    supported = True
    newest = last_seen_us
    try:
        for sample in lib.call("nvmlDeviceGetProcessUtilization", handle, last_seen_us):
            util.setdefault(int(sample.pid), []).append(float(sample.smUtil))
            newest = max(newest, int(sample.timeStamp))
    except NvmlError as err:
        if err.failure in _QUIET:
            supported = False
        elif err.failure is not NvmlFailure.NOT_FOUND:  # NotFound: no samples since then
            raise
    memory: dict[int, int] = {}
    try:
        for process in lib.call("nvmlDeviceGetComputeRunningProcesses", handle):
            used = getattr(process, "usedGpuMemory", None)
            if used is not None:
                memory[int(process.pid)] = memory.get(int(process.pid), 0) + int(used)
    except NvmlError as err:
        if err.failure not in _QUIET:
            raise
    return GpuProcesses(
        {pid: sum(values) / len(values) for pid, values in util.items()},
        memory,
        supported,
        newest,
    )
