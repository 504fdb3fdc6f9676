"""`estimated:host-curve`: a VM's power apportioned from its host's curve, by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.sensors.cpu import CpuSensors
from profiler.sensors.host_curve import (
    HostCurve,
    HostCurveError,
    HostCurveModel,
    parse_curve_csv,
    read_curve_csv,
    vm_share,
)
from profiler.sensors.probe import probe_sensors
from tests.fakes.cpu import scripted_cpu_sensors

SPECPOWER_CSV = """Target Load,Average Active Power (W)
100%,300
90%,276
80%,252
70%,228
60%,204
50%,180
40%,156
30%,132
20%,108
10%,84
Active Idle,60
"""


def _vm_cpu(root: Path, busy_per_s: float, n_cpus: int = 4) -> CpuSensors:
    """A 4-vCPU VM each of whose vCPUs is busy `busy_per_s` of every second."""
    return scripted_cpu_sensors(
        root,
        [[(busy_per_s * k, float(k))] * n_cpus for k in range(100)],
        memory=(16 * 2**30, 8 * 2**30),
        cpu_model="Intel Xeon Processor (Cascadelake)",
    )


def test_specpower_csv_reads_percent_loads_and_active_idle() -> None:
    curve = parse_curve_csv(SPECPOWER_CSV, "ssj.csv")
    assert curve.points[0] == (0.0, 60.0)
    assert curve.points[-1] == (1.0, 300.0)
    assert len(curve.points) == 11
    assert curve.power_w(0.25) == pytest.approx(120.0)  # between 20 % (108) and 30 % (132)
    assert curve.source == "CSV ssj.csv"


def test_fractional_loads_are_read_as_fractions() -> None:
    curve = parse_curve_csv("load,watts\n0,100\n0.5,200\n1,260\n", "f.csv")
    assert curve.points == ((0.0, 100.0), (0.5, 200.0), (1.0, 260.0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("load,watts\n50,100\n", "at least two"),
        ("0,100\n0.5,abc\n", "watts 'abc' is not a number"),
        ("0,100\n150%,300\n", "load above 100 %"),
        ("0,100\nhalf,200\n", "load 'half' is not a number"),
        ("0,100\n-5,200\n", "is not a load"),
    ],
)
def test_bad_curves_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(HostCurveError, match=message):
        parse_curve_csv(text, "bad.csv")


def test_a_missing_csv_is_a_one_line_input_error(tmp_path: Path) -> None:
    with pytest.raises(HostCurveError, match="cannot read it"):
        read_curve_csv(tmp_path / "nope.csv")


def test_share_is_vcpus_over_host_threads_unless_set() -> None:
    assert vm_share(None, 4, 32, "x") == (0.125, "4 vCPUs / 32 host threads")
    assert vm_share(0.2, 4, 32, "x") == (0.2, "vm_share setting 0.2")
    with pytest.raises(HostCurveError, match="set vm_share"):
        vm_share(None, 4, None, "x")
    with pytest.raises(HostCurveError, match="exceed the host's 2 threads"):
        vm_share(None, 4, 2, "x")


def test_vm_at_25_pct_on_a_specpower_host_draws_15_w_by_hand(tmp_path: Path) -> None:
    # Hand computation: P_host(0.25) = 108 + (132 - 108) x 0.5 = 120 W; a 4-vCPU VM of a
    # 32-thread host has share 4/32 = 0.125, so P_vm = 0.125 x 120 = 15 W; 10 s -> 150 J.
    curve = HostCurve(parse_curve_csv(SPECPOWER_CSV, "ssj.csv").points, "CSV ssj.csv", 32)
    cpu = _vm_cpu(tmp_path, busy_per_s=0.25)
    share, why = vm_share(None, cpu.n_cpus, curve.host_threads, curve.source)
    model = HostCurveModel(cpu, curve, share, why)
    cpu.start(0.0)
    model.start(0.0)
    for t in range(1, 11):
        cpu.read(float(t))
        (reading,) = model.read(float(t))
    assert reading.power_w == pytest.approx(15.0)
    assert reading.energy_j == pytest.approx(150.0)
    (device,) = model.devices()
    assert device.provenance == "estimated:host-curve"
    assert device.estimated
    assert device.details["host_curve_source"] == "CSV ssj.csv"
    assert device.details["model_idle_w"] == pytest.approx(7.5)
    assert device.power_limit_w == pytest.approx(37.5)
    assert "4 vCPUs / 32 host threads" in model.availability().reason


def test_probe_uses_the_host_curve_for_the_vm_cpu(tmp_path: Path) -> None:
    curve = parse_curve_csv(SPECPOWER_CSV, "ssj.csv")
    sensors = probe_sensors(sysfs_root=tmp_path, want_gpu=False, host_curve=curve, share=0.25)
    try:
        cpu0 = next(d for d in sensors.devices if d.device_id == "cpu:0")
        assert cpu0.provenance == "estimated:host-curve"
        assert cpu0.details["vm_share"] == pytest.approx(0.25)
        model = next(a for a in sensors.availability if a.family == "model")
        assert model.reason.startswith("estimated:host-curve: host curve from CSV ssj.csv")
    finally:
        sensors.close()
