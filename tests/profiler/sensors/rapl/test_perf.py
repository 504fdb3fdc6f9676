"""RAPL through the perf power PMU: a fake PMU tree and a fake syscall (no PMU here), and the
real `perf_event_open` seam exercised on the kernel's software PMU."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from profiler.sensors.base import FamilyState, SensorError
from profiler.sensors.rapl.perf import (
    CAP_PERFMON,
    PERMISSION_FIX,
    RaplPerfSensors,
    SyscallPerfEvents,
    parse_cpu_list,
    perf_permitted,
)
from tests.fakes.perf_pmu import SCALE_J, FakePerf, power_pmu, proc_tree


def test_events_from_the_pmu_files_give_package_and_dram_energy(tmp_path: Path) -> None:
    power_pmu(tmp_path / "sys")
    perf = FakePerf()
    family = RaplPerfSensors(tmp_path / "sys", proc_tree(tmp_path / "proc", paranoid=0), perf)
    state = family.availability()
    assert state.state is FamilyState.FOUND, state
    assert "perf_event_paranoid is 0" in state.reason
    assert [(d.device_id, d.provenance) for d in family.devices()] == [
        ("cpu:0", "measured:rapl-perf"),
        ("cpu:1", "measured:rapl-perf"),
        ("dram:0", "measured:rapl-perf"),
        ("dram:1", "measured:rapl-perf"),
    ]
    # energy-pkg is event 0x02, energy-ram 0x03, each opened CPU-wide on its package's CPU.
    assert sorted(perf.opened) == [(23, 2, 0), (23, 2, 2), (23, 3, 0), (23, 3, 2)]
    family.start(10.0)
    perf.counts[perf.fd_of[(2, 0)]] += int(50 / SCALE_J)  # package 0: 50 J in 2 s
    perf.counts[perf.fd_of[(3, 2)]] += int(8 / SCALE_J)  # DRAM of package 1 (CPU 2)
    readings = {r.device_id: r for r in family.read(12.0)}
    assert readings["cpu:0"].energy_j == pytest.approx(50, rel=1e-9)
    assert readings["cpu:0"].power_w == pytest.approx(25, rel=1e-9)
    assert readings["dram:1"].energy_j == pytest.approx(8, rel=1e-9)
    assert readings["cpu:1"].energy_j == 0
    family.close()
    assert perf.closed == set(perf.counts)


def test_two_dies_of_one_package_are_summed(tmp_path: Path) -> None:
    power_pmu(tmp_path / "sys", cpumask="0,1", packages={0: 0, 1: 0})
    perf = FakePerf()
    family = RaplPerfSensors(tmp_path / "sys", proc_tree(tmp_path / "proc", paranoid=-1), perf)
    assert [d.device_id for d in family.devices()] == ["cpu:0", "dram:0"]
    family.start(0.0)
    for fd in list(perf.counts):
        perf.counts[fd] += int(10 / SCALE_J)
    readings = {r.device_id: r for r in family.read(1.0)}
    assert readings["cpu:0"].energy_j == pytest.approx(20, rel=1e-9)


def test_paranoid_2_without_cap_perfmon_is_not_readable_with_the_fix(tmp_path: Path) -> None:
    power_pmu(tmp_path / "sys")
    perf = FakePerf()
    family = RaplPerfSensors(tmp_path / "sys", proc_tree(tmp_path / "proc", paranoid=2), perf)
    state = family.availability()
    assert state.state is FamilyState.NOT_READABLE
    assert state.reason == "perf_event_paranoid is 2 and CAP_PERFMON is not effective"
    assert state.fix == PERMISSION_FIX and "setcap cap_perfmon=ep" in state.fix
    assert perf.opened == []
    with pytest.raises(SensorError, match="rapl-perf unavailable"):
        family.start(0.0)


def test_cap_perfmon_permits_even_with_paranoid_2(tmp_path: Path) -> None:
    proc = proc_tree(tmp_path, paranoid=2, cap_eff=1 << CAP_PERFMON)
    assert perf_permitted(proc) == (True, "CAP_PERFMON (or CAP_SYS_ADMIN) is effective")


def test_a_refused_open_is_not_readable_and_names_the_errno(tmp_path: Path) -> None:
    power_pmu(tmp_path / "sys")
    family = RaplPerfSensors(
        tmp_path / "sys", proc_tree(tmp_path / "proc", paranoid=0), FakePerf(errno.EACCES)
    )
    state = family.availability()
    assert state.state is FamilyState.NOT_READABLE
    assert "refused: Permission denied" in state.reason
    assert family.devices() == []


def test_no_power_pmu_is_not_found(tmp_path: Path) -> None:
    family = RaplPerfSensors(tmp_path, proc_tree(tmp_path / "proc", paranoid=0), FakePerf())
    state = family.availability()
    assert state.state is FamilyState.NOT_FOUND
    assert str(tmp_path / "bus" / "event_source" / "devices" / "power") in state.reason


def test_cpu_lists() -> None:
    assert parse_cpu_list("0,28\n") == [0, 28]
    assert parse_cpu_list("0-3,8") == [0, 1, 2, 3, 8]


@pytest.mark.skipif(os.geteuid() != 0, reason="CPU-wide perf events need root or CAP_PERFMON")
def test_the_real_syscall_counts_a_software_event() -> None:
    # PERF_TYPE_SOFTWARE (1), PERF_COUNT_SW_CPU_CLOCK (0): nanoseconds of CPU 0's clock.
    perf = SyscallPerfEvents()
    fd = perf.open(1, 0, 0)
    try:
        first = perf.read(fd)
        time.sleep(0.05)
        assert perf.read(fd) - first >= 10_000_000
    finally:
        perf.close(fd)
