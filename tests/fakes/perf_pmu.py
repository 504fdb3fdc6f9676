"""The perf `power` PMU at its lowest seams: a sysfs tree laid out as the kernel lays it out
(`bus/event_source/devices/power/`), a procfs with `perf_event_paranoid` and `CapEff`, and
a `PerfEvents` that stands in for the `perf_event_open` syscall (no PMU on CI machines)."""

from __future__ import annotations

import os
from pathlib import Path

SCALE_J = 2.3283064365386962890625e-10  # 2^-32 J per count, what Intel parts publish


class FakePerf:
    """The syscall seam: counters advanced by the test, opens optionally refused."""

    def __init__(self, refuse: int | None = None) -> None:
        self.refuse = refuse
        self.opened: list[tuple[int, int, int]] = []
        self.counts: dict[int, int] = {}
        self.closed: set[int] = set()
        self.fd_of: dict[tuple[int, int], int] = {}

    def open(self, pmu_type: int, config: int, cpu: int) -> int:
        if self.refuse is not None:
            raise OSError(self.refuse, os.strerror(self.refuse))
        self.opened.append((pmu_type, config, cpu))
        fd = 100 + len(self.opened)
        self.counts[fd] = 1_000_000
        self.fd_of[(config, cpu)] = fd
        return fd

    def read(self, fd: int) -> int:
        return self.counts[fd]

    def close(self, fd: int) -> None:
        self.closed.add(fd)


def power_pmu(root: Path, *, cpumask: str = "0,2", packages: dict[int, int] | None = None) -> Path:
    """A sysfs tree with the power PMU of a two-package machine (CPUs 0 and 2 lead them)."""
    pmu = root / "bus" / "event_source" / "devices" / "power"
    (pmu / "events").mkdir(parents=True)
    (pmu / "format").mkdir()
    (pmu / "type").write_text("23\n")
    (pmu / "cpumask").write_text(cpumask + "\n")
    (pmu / "format" / "event").write_text("config:0-7\n")
    for name, code in (("energy-pkg", "0x02"), ("energy-ram", "0x03"), ("energy-cores", "0x01")):
        (pmu / "events" / name).write_text(f"event={code}\n")
        (pmu / "events" / f"{name}.scale").write_text(f"{SCALE_J!r}\n")
        (pmu / "events" / f"{name}.unit").write_text("Joules\n")
    for cpu, package in (packages or {0: 0, 2: 1}).items():
        topology = root / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text(f"{package}\n")
    return pmu


def proc_tree(root: Path, *, paranoid: int, cap_eff: int = 0) -> Path:
    (root / "sys" / "kernel").mkdir(parents=True)
    (root / "sys" / "kernel" / "perf_event_paranoid").write_text(f"{paranoid}\n")
    (root / "self").mkdir()
    (root / "self" / "status").write_text(f"Name:\tpython\nCapEff:\t{cap_eff:016x}\n")
    return root
