"""CPU and memory utilisation from psutil: `host` and one `cpu:N` device per package.

Utilisation is computed from per-CPU busy/total time deltas between two reads (the
fields of `psutil.cpu_times(percpu=True)`, read from /proc/stat through a held descriptor
where possible: see procfs.py), never from a blocking `cpu_percent(interval=...)`.
Check by hand: `mpstat -P ALL 1` (sysstat) or `top` then `1`; memory: `free -b`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading
from profiler.model.units import GIB
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.procfs import ProcReader

# Linux counts guest time inside user time (proc(5)); psutil's own total subtracts it too.
_GUEST_FIELDS = ("guest", "guest_nice")
_IDLE_FIELDS = ("idle", "iowait")


def busy_and_total(times: Any) -> tuple[float, float]:
    """Return (busy, total) CPU seconds of one `psutil` cpu_times record."""
    fields = times._fields
    total = sum(getattr(times, f) for f in fields if f not in _GUEST_FIELDS)
    idle = sum(getattr(times, f) for f in _IDLE_FIELDS if f in fields)
    return total - idle, total


def util_between(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """Return the busy fraction (0..1) of one CPU between two (busy, total) readings."""
    d_total = after[1] - before[1]
    if d_total <= 0:
        return None
    return min(1.0, max(0.0, (after[0] - before[0]) / d_total))


def psutil_cpu_times() -> list[tuple[float, float]]:
    """Return (busy, total) seconds per logical CPU from psutil (the portable fallback)."""
    return [busy_and_total(t) for t in psutil.cpu_times(percpu=True)]


def psutil_memory() -> tuple[int, int]:
    """Return (total, available) memory bytes from psutil."""
    mem = psutil.virtual_memory()
    return int(mem.total), int(mem.available)


def _cpuinfo_value(
    cpuinfo: Path, keys: tuple[str, ...], wanted: Callable[[str], bool]
) -> str | None:
    """Return the first value of one of `keys` in `cpuinfo` that is `wanted`, or None."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys and wanted(value.strip()):
            return value.strip()
    return None


def read_cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """Return the CPU model name from /proc/cpuinfo (`model name` or `Model`), or None."""
    return _cpuinfo_value(cpuinfo, ("model name", "Model"), bool)


def read_package_siblings(cpuinfo: Path = Path("/proc/cpuinfo")) -> int | None:
    """Return `siblings` (logical CPUs per package as the kernel reports it), or None."""
    siblings = _cpuinfo_value(cpuinfo, ("siblings",), str.isdigit)
    return None if siblings is None else int(siblings)


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
        cpu_times: injectable source of per-CPU (busy, total) seconds; default /proc/stat
            through a held descriptor (see procfs.py for why), else psutil.
        memory: injectable source of (total, available) memory bytes.
        cpu_freq: injectable `psutil.cpu_freq` (None to skip frequency).
        cpu_model: the CPU model name (read from /proc/cpuinfo when None).
    """

    name = "cpu"

    def __init__(
        self,
        sysfs_root: Path = Path("/sys"),
        *,
        cpu_times: Callable[[], Sequence[tuple[float, float]]] | None = None,
        memory: Callable[[], tuple[int, int]] | None = None,
        cpu_freq: Callable[[], Any] | None = psutil.cpu_freq,
        cpu_model: str | None = None,
    ) -> None:
        self._proc: ProcReader | None = None
        if cpu_times is None or memory is None:
            try:
                self._proc = ProcReader()
            except OSError:
                self._proc = None
        self._cpu_times = cpu_times or (self._proc.cpu_times if self._proc else psutil_cpu_times)
        self._memory = memory or (self._proc.memory if self._proc else psutil_memory)
        self._cpu_freq = cpu_freq
        first = list(self._cpu_times())
        self.n_cpus = len(first)
        self.packages = package_map(sysfs_root, self.n_cpus)
        self.cpu_model = cpu_model or read_cpu_model()
        self._mem_total_bytes = self._memory()[0]
        self._prev = first
        self.per_core_util: list[float | None] = [None] * self.n_cpus
        self.package_util: dict[int, float | None] = dict.fromkeys(sorted(set(self.packages)))
        self._freq_at: float | None = None
        self._freq_mhz: float | None = None

    def availability(self) -> Availability:
        """Psutil always works on Linux; say how many CPUs and packages it sees."""
        n_pkg = len(self.package_util)
        return Availability(
            "cpu",
            FamilyState.FOUND,
            f"psutil: {self.n_cpus} logical CPUs in {n_pkg} package(s), "
            f"{self._mem_total_bytes / GIB:.1f} GiB memory",
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
        mem_total, mem_available = self._memory()
        clock_mhz = self._clock_mhz(t_mono)
        readings = [
            Reading(
                "host",
                util=host_util,
                mem_used_bytes=mem_total - mem_available,
                clock_mhz=clock_mhz,
            )
        ]
        readings += [
            Reading(f"cpu:{pkg}", util=util, clock_mhz=clock_mhz)
            for pkg, util in self.package_util.items()
        ]
        return readings

    def _clock_mhz(self, t_mono: float) -> float | None:
        # psutil.cpu_freq parses /proc/cpuinfo on VMs (~25 us): refresh once a second.
        if self._cpu_freq is None:
            return None
        if self._freq_at is None or t_mono - self._freq_at >= 1.0:
            freq = self._cpu_freq()
            self._freq_mhz = float(freq.current) if freq is not None and freq.current else None
            self._freq_at = t_mono
        return self._freq_mhz

    def close(self) -> None:
        """Close the held /proc descriptors."""
        if self._proc is not None:
            self._proc.close()
            self._proc = None
