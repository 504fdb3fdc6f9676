from collections import namedtuple
from pathlib import Path

import pytest

from profiler.model.provenance import ESTIMATED_LINEAR_TDP, ESTIMATED_VCPU_AVERAGE
from profiler.sensors.cpu import (
    CpuSensors,
    busy_and_total,
    package_map,
    psutil_cpu_times,
    read_cpu_model,
    util_between,
)
from profiler.sensors.power_model import CpuPowerModel, choose_cpu_model, lookup_tdp
from profiler.sensors.procfs import ProcReader, parse_meminfo, parse_proc_stat
from tests.fakes.cpu import scripted_cpu_sensors

CpuTimes = namedtuple(
    "CpuTimes",
    "user nice system idle iowait irq softirq steal guest guest_nice",
)


def times(busy: float, idle: float, guest: float = 0.0) -> tuple[float, float]:
    return busy_and_total(CpuTimes(busy, 0.0, 0.0, idle, 0.0, 0.0, 0.0, 0.0, guest, 0.0))


def test_util_from_cpu_times_deltas_excludes_guest_time() -> None:
    # guest time is already inside user on Linux; counting it again would overstate load
    before, after = times(10, 90, guest=0), times(13, 97, guest=3)
    assert util_between(before, after) == pytest.approx(0.3)
    assert util_between(after, after) is None  # no time passed: unknown, not 0


def test_cpuinfo_model_and_topology(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n")
    assert read_cpu_model(cpuinfo) == "AMD EPYC 7763 64-Core Processor"
    for cpu, pkg in enumerate([0, 0, 1, 1]):
        topo = tmp_path / f"devices/system/cpu/cpu{cpu}/topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{pkg}\n")
    assert package_map(tmp_path, 5) == [0, 0, 1, 1, 0]  # cpu4 unreadable -> package 0


def scripted_cpu(tmp_path: Path, series: list[list[tuple[float, float]]]) -> CpuSensors:
    for cpu, pkg in enumerate([0, 0, 1, 1]):
        topo = tmp_path / f"devices/system/cpu/cpu{cpu}/topology"
        topo.mkdir(parents=True, exist_ok=True)
        (topo / "physical_package_id").write_text(f"{pkg}\n")
    return scripted_cpu_sensors(
        tmp_path,
        series,
        memory=(64 * 2**30, 48 * 2**30),
        cpu_model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
    )


def test_packages_and_host_utilisation(tmp_path: Path) -> None:
    t0 = [times(0, 0)] * 4
    t1 = [times(1, 0), times(0.5, 0.5), times(0, 1), times(0, 1)]
    cpu = scripted_cpu(tmp_path, [t0, t0, t1])
    assert [d.device_id for d in cpu.devices()] == ["host", "cpu:0", "cpu:1"]
    cpu.start(0.0)
    readings = {r.device_id: r for r in cpu.read(1.0)}
    assert readings["cpu:0"].util == pytest.approx(0.75)
    assert readings["cpu:1"].util == pytest.approx(0.0)
    assert readings["host"].util == pytest.approx(0.375)
    assert readings["host"].mem_used_bytes == 16 * 2**30
    assert readings["host"].clock_mhz is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", ("Intel Xeon Gold 6248", 150.0)),
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", ("Intel Xeon Gold 6248R", 205.0)),
        ("AMD EPYC 7763 64-Core Processor", ("AMD EPYC 7763", 280.0)),
        ("Intel(R) Xeon(R) Processor", None),  # a VM's anonymous CPU matches nothing
        (None, None),
    ],
)
def test_tdp_lookup_in_codecarbon_table(name: str | None, expected: object) -> None:
    assert lookup_tdp(name) == expected


def test_linear_tdp_model_scales_by_visible_share_and_names_its_source() -> None:
    model = choose_cpu_model("AMD EPYC 7763 64-Core Processor", 32, package_threads=128)
    assert model.provenance == ESTIMATED_LINEAR_TDP
    assert model.max_w == pytest.approx(70.0)  # 280 W x 32/128 threads
    assert model.idle_w == pytest.approx(14.0)  # 0.2 x P_max
    assert model.power_w(0.5) == pytest.approx(42.0)
    assert "codecarbon" in model.source and "AMD EPYC 7763" in model.source


def test_cpu_tdp_setting_wins_and_vcpu_average_is_the_fallback() -> None:
    setting = choose_cpu_model("Intel(R) Xeon(R) Processor", 8, cpu_tdp_w=100.0, idle_ratio=0.1)
    assert (setting.provenance, setting.idle_w, setting.max_w) == (
        ESTIMATED_LINEAR_TDP,
        pytest.approx(10.0),
        100.0,
    )
    assert "cpu_tdp_w" in setting.source
    fallback = choose_cpu_model("Intel(R) Xeon(R) Processor", 8)
    assert fallback.provenance == ESTIMATED_VCPU_AVERAGE
    assert (fallback.idle_w, fallback.max_w) == (pytest.approx(0.74 * 8), pytest.approx(3.5 * 8))


def test_model_energy_integrates_interval_mean_utilisation_exactly(tmp_path: Path) -> None:
    z = [times(0, 0)] * 4
    half = [times(0.5, 0.5)] * 4
    full = [times(1.5, 0.5)] * 4
    cpu = scripted_cpu(tmp_path, [z, z, half, full])
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("siblings\t: 2\n")
    model = CpuPowerModel(cpu, cpu_tdp_w=100.0, cpuinfo=cpuinfo)
    assert [d.provenance for d in model.devices()] == [ESTIMATED_LINEAR_TDP] * 2
    cpu.start(0.0)
    model.start(0.0)
    cpu.read(2.0)
    first = {r.device_id: r for r in model.read(2.0)}
    cpu.read(3.0)
    second = {r.device_id: r for r in model.read(3.0)}
    # 2 s at 50 % then 1 s at 100 % of 20..100 W
    assert first["cpu:0"].power_w == pytest.approx(60.0)
    assert second["cpu:0"].energy_j == pytest.approx(2 * 60.0 + 1 * 100.0)


def test_proc_stat_parse_matches_psutil_on_this_machine() -> None:
    reader = ProcReader()
    try:
        ours = reader.cpu_times()
        theirs = psutil_cpu_times()
        total, available = reader.memory()
    finally:
        reader.close()
    assert len(ours) == len(theirs)
    for (busy_a, total_a), (busy_b, total_b) in zip(ours, theirs, strict=True):
        # read a moment apart: allow a few clock ticks of drift
        assert busy_b == pytest.approx(busy_a, abs=0.5)
        assert total_b == pytest.approx(total_a, abs=0.5)
    assert 0 < available <= total


def test_proc_stat_parse_excludes_guest_and_counts_iowait_idle() -> None:
    text = b"cpu  10 0 0 90 0 0 0 0 3 0\ncpu0 50 0 50 300 100 0 0 0 20 0\nintr 1 2 3\n"
    ((busy, total),) = parse_proc_stat(text)
    ticks = __import__("os").sysconf("SC_CLK_TCK")
    assert busy == pytest.approx(100 / ticks)  # user + system; guest already in user
    assert total == pytest.approx(500 / ticks)
    assert parse_meminfo(b"MemTotal: 100 kB\nMemFree: 1 kB\nMemAvailable: 40 kB\n") == (
        102400,
        40960,
    )
