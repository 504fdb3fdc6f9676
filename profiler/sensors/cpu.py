"""CPU and memory utilisation from psutil: `host` and one `cpu:N` device per package.

Utilisation is computed from `psutil.cpu_times(percpu=True)` deltas between two reads,
never from a blocking `cpu_percent(interval=...)`, so a read costs microseconds.
Check by hand: `mpstat -P ALL 1` (sysstat) or `top` then `1`; memory: `free -b`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from profiler.sensors.base import Availability, DeviceInfo, FamilyState, Reading

# Linux counts guest time inside user time (proc(5)); psutil's own total subtracts it too.
_GUEST_FIELDS = ("guest", "guest_nice")
_IDLE_FIELDS = ("idle", "iowait")


def busy_and_total(times: Any) -> tuple[float, float]:
    """Return (busy, total) CPU seconds of one `psutil` cpu_times record."""
    fields = times._fields
    total = sum(getattr(times, f) for f in fields if f not in _GUEST_FIELDS)
    idle = sum(getattr(times, f) for f in _IDLE_FIELDS if f in fields)
    return total - idle, total


def util_between(before: Any, after: Any) -> float | None:
    """Return the busy fraction (0..1) of one CPU between two cpu_times records."""
    busy0, total0 = busy_and_total(before)
    busy1, total1 = busy_and_total(after)
    d_total = total1 - total0
    if d_total <= 0:
        return None
    return min(1.0, max(0.0, (busy1 - busy0) / d_total))


def read_cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """Return the CPU model name from /proc/cpuinfo (`model name` or `Model`), or None."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model") and value.strip():
            return value.strip()
    return None


def read_package_siblings(cpuinfo: Path = Path("/proc/cpuinfo")) -> int | None:
    """Return `siblings` (logical CPUs per package as the kernel reports it), or None."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "siblings" and value.strip().isdigit():
            return int(value.strip())
    return None


def package_map(sysfs_root: Path, n_cpus: int) -> list[int]:
    """Return the package (socket) id of each logical CPU, from sysfs topology.

    Falls back to package 0 for a CPU whose `physical_package_id` is unreadable.
    Check: `cat /sys/devices/system/cpu/cpu0/topology/physical_package_id`.
    """
    packages = []
    for cpu in range(n_cpus):
        path = sysfs_root / f"devices/system/cpu/cpu{cpu}/topology/physical_package_id"
        try:
            packages.append(max(0, int(path.read_text().strip())))
        except (OSError, ValueError):
            packages.append(0)
    return packages


class CpuSensors:
    """psutil CPU and memory sensors: utilisation, frequency and memory per tick.

    Args:
        sysfs_root: root of sysfs, for the CPU-to-package map.
        cpu_times: injectable `psutil.cpu_times(percpu=True)`, for tests.
        virtual_memory: injectable `psutil.virtual_memory`.
        cpu_freq: injectable `psutil.cpu_freq` (None to skip frequency).
        cpu_model: the CPU model name (read from /proc/cpuinfo when None).

    """

    name = "cpu"

    def __init__(
        self,
        sysfs_root: Path = Path("/sys"),
        *,
        cpu_times: Callable[[], Sequence[Any]] | None = None,
        virtual_memory: Callable[[], Any] = psutil.virtual_memory,
        cpu_freq: Callable[[], Any] | None = psutil.cpu_freq,
        cpu_model: str | None = None,
    ) -> None:
        self._cpu_times = cpu_times or (lambda: psutil.cpu_times(percpu=True))
        self._virtual_memory = virtual_memory
        self._cpu_freq = cpu_freq
        first = self._cpu_times()
        self.n_cpus = len(first)
        self.packages = package_map(sysfs_root, self.n_cpus)
        self.cpu_model = cpu_model or read_cpu_model()
        self._mem_total_bytes = int(self._virtual_memory().total)
        self._prev = list(first)
        self.per_core_util: list[float | None] = [None] * self.n_cpus
        self.package_util: dict[int, float | None] = dict.fromkeys(sorted(set(self.packages)))

    def availability(self) -> Availability:
        """Psutil always works on Linux; say how many CPUs and packages it sees."""
        n_pkg = len(self.package_util)
        return Availability(
            "cpu",
            FamilyState.FOUND,
            f"psutil: {self.n_cpus} logical CPUs in {n_pkg} package(s), "
            f"{self._mem_total_bytes / 2**30:.1f} GiB memory",
        )

    def devices(self) -> list[DeviceInfo]:
        """Return `host` and one `cpu:N` per package (power comes from other families)."""
        devices = [
            DeviceInfo(
                "host",
                "host",
                model=self.cpu_model,
                logical_cores=self.n_cpus,
                mem_total_bytes=self._mem_total_bytes,
            )
        ]
        for pkg in self.package_util:
            devices.append(
                DeviceInfo(
                    f"cpu:{pkg}",
                    "cpu",
                    model=self.cpu_model,
                    logical_cores=self.packages.count(pkg),
                )
            )
        return devices

    def start(self, t_mono: float) -> None:
        """Take the baseline cpu_times."""
        self._prev = list(self._cpu_times())

    @property
    def poll_interval_s(self) -> float | None:
        """Any cadence is fine: utilisation is a mean over the interval."""
        return None

    def read(self, t_mono: float) -> list[Reading]:
        """Return utilisation of host and packages over the interval since the last read."""
        now = list(self._cpu_times())
        per_core = [util_between(a, b) for a, b in zip(self._prev, now, strict=False)]
        self._prev = now
        self.per_core_util = per_core
        sums: dict[int, list[float]] = {pkg: [] for pkg in self.package_util}
        for pkg, util in zip(self.packages, per_core, strict=False):
            if util is not None:
                sums[pkg].append(util)
        self.package_util = {
            pkg: (sum(vals) / len(vals) if vals else None) for pkg, vals in sums.items()
        }
        known = [u for u in per_core if u is not None]
        host_util = sum(known) / len(known) if known else None
        mem = self._virtual_memory()
        clock = self._cpu_freq() if self._cpu_freq else None
        clock_mhz = float(clock.current) if clock is not None and clock.current else None
        readings = [
            Reading(
                "host",
                util=host_util,
                mem_used_bytes=int(mem.total - mem.available),
                clock_mhz=clock_mhz,
            )
        ]
        readings += [
            Reading(f"cpu:{pkg}", util=util, clock_mhz=clock_mhz)
            for pkg, util in self.package_util.items()
        ]
        return readings

    def close(self) -> None:
        """Nothing to release."""
