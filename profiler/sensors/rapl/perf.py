"""CPU package and DRAM energy without root: RAPL through the kernel's perf `power` PMU.

Source: `<sysfs_root>/bus/event_source/devices/power/` (the `intel_rapl_perf` / AMD
`power` PMU): its `type`, `cpumask` (one CPU per package or die), and per event
`events/energy-pkg` (`event=0x02`), `events/energy-pkg.scale` (joules per count) and
`events/energy-pkg.unit` (`Joules`); `energy-ram` likewise. Each event is opened with
`perf_event_open(attr, pid=-1, cpu, -1, 0)` and read as a 64-bit count the kernel keeps
(so no 32-bit wrap reaches finwatt). Check by hand:
`perf stat -a -e power/energy-pkg/,power/energy-ram/ sleep 1`. Provenance
`measured:rapl-perf`.

Permission: a CPU-wide event needs `kernel.perf_event_paranoid <= 0` or `CAP_PERFMON`
(or `CAP_SYS_ADMIN`), not root and not read access to powercap's `energy_uj` (root-only
since Linux 5.10, CVE-2020-8694). finwatt uses this family only where powercap RAPL is
absent or unreadable (`rapl.get_rapl`).

The syscall sits behind `PerfEvents` so tests inject a fake; `SyscallPerfEvents` is the
real one (ctypes `syscall(__NR_perf_event_open, ...)`).
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from profiler.model.device import DeviceInfo
from profiler.model.provenance import Provenance
from profiler.model.samples import Reading
from profiler.sensors.base import Availability, FamilyState, ProbedFamily, SensorError

MEASURED_RAPL_PERF = Provenance("measured:rapl-perf")
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38

#: The events read and the device kind each one measures.
EVENT_KINDS = {"energy-pkg": "cpu", "energy-ram": "dram"}

#: The fix shown when the PMU exists but this process may not open CPU-wide events.
PERMISSION_FIX = (
    "sudo sysctl kernel.perf_event_paranoid=0 (persist in /etc/sysctl.d/), or give the "
    "interpreter CAP_PERFMON: sudo setcap cap_perfmon=ep <python> (docs/permissions.md)"
)
_NOT_FOUND_FIX = (
    "needs bare metal with RAPL (Intel, or AMD Zen with Linux 5.8+); virtual machines "
    "rarely expose the power PMU"
)
_NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "ppc64le": 319, "s390x": 331}
_EVENT = re.compile(r"event=(0x[0-9a-fA-F]+|\d+)")
_FORMAT = re.compile(r"config:(\d+)(?:-\d+)?")


class PerfEvents(Protocol):
    """Open, read and close perf counters (the syscall seam)."""

    def open(self, pmu_type: int, config: int, cpu: int) -> int:
        """Open a CPU-wide counting event; return its fd; raise `OSError` when refused."""
        ...

    def read(self, fd: int) -> int:
        """Return the event's 64-bit count."""
        ...

    def close(self, fd: int) -> None:
        """Close the event."""
        ...


class _PerfEventAttr(ctypes.Structure):
    """`struct perf_event_attr` up to `config2` (PERF_ATTR_SIZE_VER1, 72 bytes)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
        ("config2", ctypes.c_uint64),
    ]


class SyscallPerfEvents:
    """`perf_event_open(2)` through ctypes (Linux only)."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.syscall.restype = ctypes.c_long

    def open(self, pmu_type: int, config: int, cpu: int) -> int:
        """Open a counting event on `cpu` for every process (`pid = -1`); enabled at once."""
        number = _NR_PERF_EVENT_OPEN.get(platform.machine())
        if number is None:
            raise OSError(0, f"perf_event_open: unknown syscall number on {platform.machine()}")
        attr = _PerfEventAttr(type=pmu_type, size=ctypes.sizeof(_PerfEventAttr), config=config)
        fd = int(
            self._libc.syscall(
                ctypes.c_long(number),
                ctypes.byref(attr),
                ctypes.c_int(-1),
                ctypes.c_int(cpu),
                ctypes.c_int(-1),
                ctypes.c_ulong(0),
            )
        )
        if fd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        return fd

    def read(self, fd: int) -> int:
        """Return the event's count (one native-endian u64)."""
        data = os.read(fd, 8)
        if len(data) != 8:
            raise OSError(0, f"perf read returned {len(data)} bytes")
        return int(struct.unpack("=Q", data)[0])

    def close(self, fd: int) -> None:
        """Close the event's fd."""
        os.close(fd)


@dataclass
class _Counter:
    fd: int
    scale_j: float
    prev: int = 0
    total: int = 0


@dataclass
class _Device:
    info: DeviceInfo
    counters: list[_Counter]
    prev_energy_j: float = 0.0
    t_prev: float | None = None


@dataclass
class _Probe:
    availability: Availability
    devices: list[_Device] = field(default_factory=list)


def parse_cpu_list(text: str) -> list[int]:
    """Parse a kernel CPU list (`0,28` or `0-3,8`) into CPU numbers."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def perf_permitted(proc_root: Path) -> tuple[bool, str]:
    """Return whether CPU-wide perf events are allowed, and the sentence that says why."""
    paranoid_path = proc_root / "sys" / "kernel" / "perf_event_paranoid"
    try:
        paranoid = int(paranoid_path.read_text().strip())
    except (OSError, ValueError):
        paranoid = 2
    caps = 0
    try:
        for line in (proc_root / "self" / "status").read_text().splitlines():
            if line.startswith("CapEff:"):
                caps = int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        caps = 0
    if caps >> CAP_PERFMON & 1 or caps >> CAP_SYS_ADMIN & 1:
        return True, "CAP_PERFMON (or CAP_SYS_ADMIN) is effective"
    if paranoid <= 0:
        return True, f"perf_event_paranoid is {paranoid}"
    return False, f"perf_event_paranoid is {paranoid} and CAP_PERFMON is not effective"


class RaplPerfSensors(ProbedFamily[_Probe]):
    """RAPL energy of each package (`cpu:P`) and its DRAM (`dram:P`) through perf, in joules.

    Args:
        sysfs_root: the sysfs mount (the PMU and the CPU topology).
        proc_root: the proc mount (`perf_event_paranoid`, the capabilities).
        events: the syscall seam; `SyscallPerfEvents()` when None.

    """

    name = "rapl-perf"

    def __init__(
        self,
        sysfs_root: Path,
        proc_root: Path = Path("/proc"),
        events: PerfEvents | None = None,
    ) -> None:
        self._sysfs = sysfs_root
        self._proc = proc_root
        self._events_factory: Callable[[], PerfEvents] = (
            (lambda: events) if events is not None else SyscallPerfEvents
        )
        self._events: PerfEvents | None = None
        self._probed: _Probe | None = None
        self._started = False

    @property
    def pmu_dir(self) -> Path:
        """Where the power PMU is described."""
        return self._sysfs / "bus" / "event_source" / "devices" / "power"

    @property
    def poll_interval_s(self) -> float | None:
        """None: the kernel keeps a 64-bit count, so no wrap to guard against."""
        return None

    def start(self, t_mono: float) -> None:
        """Take each counter's baseline at `t_mono`; energy counts from here.

        Raises:
            SensorError: the family is unavailable or a counter cannot be read.

        """
        probe = self._probe()
        if probe.availability.state is not FamilyState.FOUND:
            raise SensorError(f"rapl-perf unavailable: {probe.availability.reason}")
        for device in probe.devices:
            for counter in device.counters:
                counter.prev, counter.total = self._read(counter), 0
            device.prev_energy_j, device.t_prev = 0.0, t_mono
        self._started = True

    def read(self, t_mono: float) -> list[Reading]:
        """Return each device's cumulative energy since `start` and its mean power.

        Raises:
            SensorError: read before `start()` or a counter read failed.

        """
        if not self._started:
            raise SensorError("rapl-perf read before start()")
        readings: list[Reading] = []
        for device in self._probe().devices:
            energy_j = 0.0
            for counter in device.counters:
                now = self._read(counter)
                counter.total += max(now - counter.prev, 0)
                counter.prev = now
                energy_j += counter.total * counter.scale_j
            power_w = None
            if device.t_prev is not None and t_mono > device.t_prev:
                power_w = (energy_j - device.prev_energy_j) / (t_mono - device.t_prev)
            device.prev_energy_j, device.t_prev = energy_j, t_mono
            readings.append(Reading(device.info.device_id, power_w=power_w, energy_j=energy_j))
        return readings

    def close(self) -> None:
        """Close every perf event."""
        if self._probed is not None and self._events is not None:
            for device in self._probed.devices:
                for counter in device.counters:
                    self._events.close(counter.fd)
            self._probed.devices = []
        self._started = False

    def _read(self, counter: _Counter) -> int:
        assert self._events is not None
        try:
            return self._events.read(counter.fd)
        except OSError as err:
            raise SensorError(f"perf read of the power PMU failed: {err.strerror or err}") from err

    def _discover(self) -> _Probe:
        pmu = self.pmu_dir
        if not (pmu / "type").is_file():
            return _Probe(
                Availability(
                    self.name, FamilyState.NOT_FOUND, f"no perf power PMU at {pmu}", _NOT_FOUND_FIX
                )
            )
        try:
            pmu_type = int((pmu / "type").read_text().strip())
            cpus = parse_cpu_list((pmu / "cpumask").read_text())
            shift = self._config_shift()
            events = {name: self._event(name, shift) for name in EVENT_KINDS}
        except (OSError, ValueError) as err:
            return _Probe(Availability(self.name, FamilyState.NOT_READABLE, f"{pmu}: {err}"))
        events = {name: spec for name, spec in events.items() if spec is not None}
        if "energy-pkg" not in events:
            return _Probe(
                Availability(
                    self.name,
                    FamilyState.NOT_FOUND,
                    f"no energy-pkg event under {pmu}/events",
                    _NOT_FOUND_FIX,
                )
            )
        permitted, why = perf_permitted(self._proc)
        if not permitted:
            return _Probe(Availability(self.name, FamilyState.NOT_READABLE, why, PERMISSION_FIX))
        return self._open_all(pmu_type, cpus, events, why)

    def _open_all(
        self, pmu_type: int, cpus: list[int], events: dict[str, tuple[int, float] | None], why: str
    ) -> _Probe:
        self._events = self._events_factory()
        by_package: dict[int, list[int]] = {}
        for cpu in cpus:
            by_package.setdefault(self._package_of(cpu), []).append(cpu)
        devices: list[_Device] = []
        try:
            for name, spec in events.items():
                assert spec is not None
                config, scale_j = spec
                for package, package_cpus in sorted(by_package.items()):
                    counters = [
                        _Counter(self._events.open(pmu_type, config, cpu), scale_j)
                        for cpu in package_cpus
                    ]
                    info = DeviceInfo(
                        f"{EVENT_KINDS[name]}:{package}",
                        EVENT_KINDS[name],
                        provenance=MEASURED_RAPL_PERF,
                        details={
                            "source": f"perf {self.pmu_dir.name}/{name}/ on CPU(s) {package_cpus}",
                            "scale_j": scale_j,
                        },
                    )
                    devices.append(_Device(info, counters))
        except OSError as err:
            for device in devices:
                for counter in device.counters:
                    self._events.close(counter.fd)
            reason = f"perf_event_open of {self.pmu_dir.name} refused: {err.strerror or err}"
            return _Probe(Availability(self.name, FamilyState.NOT_READABLE, reason, PERMISSION_FIX))
        packages = len(by_package)
        drams = sum(1 for d in devices if d.info.kind == "dram")
        reason = f"{packages} package(s) and {drams} DRAM domain(s) via perf ({why})"
        return _Probe(Availability(self.name, FamilyState.FOUND, reason), devices)

    def _config_shift(self) -> int:
        try:
            match = _FORMAT.match((self.pmu_dir / "format" / "event").read_text().strip())
        except OSError:
            return 0
        return int(match[1]) if match else 0

    def _event(self, name: str, shift: int) -> tuple[int, float] | None:
        """Return (config, joules per count) of an event, or None when it is absent."""
        events = self.pmu_dir / "events"
        if not (events / name).is_file():
            return None
        match = _EVENT.search((events / name).read_text())
        if match is None:
            raise ValueError(f"{events / name} has no event=: {(events / name).read_text()!r}")
        unit = (events / f"{name}.unit").read_text().strip()
        if unit != "Joules":
            raise ValueError(f"{events / name}.unit is {unit!r}, expected Joules")
        scale_j = float((events / f"{name}.scale").read_text().strip())
        return int(match[1], 0) << shift, scale_j

    def _package_of(self, cpu: int) -> int:
        path = (
            self._sysfs
            / "devices"
            / "system"
            / "cpu"
            / f"cpu{cpu}"
            / "topology"
            / "physical_package_id"
        )
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return 0
