"""`CpuSensors` fed scripted per-CPU (busy, total) seconds instead of /proc/stat."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from profiler.sensors.cpu import CpuSensors


def scripted_cpu_sensors(
    root: Path,
    ticks: Iterable[Sequence[tuple[float, float]]],
    *,
    memory: tuple[int, int],
    cpu_model: str,
) -> CpuSensors:
    """CPU sensors under `root` whose each read of CPU times takes the next of `ticks`.

    Args:
        root: the sysfs root (CPU topology) the sensors read.
        ticks: per-CPU (busy, total) seconds, one sequence per read.
        memory: the (total, available) bytes every read reports.
        cpu_model: the CPU model name, as /proc/cpuinfo would give it.
    """
    times = iter(ticks)
    return CpuSensors(
        root,
        cpu_times=lambda: next(times),
        memory=lambda: memory,
        cpu_freq=None,
        cpu_model=cpu_model,
    )
