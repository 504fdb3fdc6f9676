"""A job's share of the devices' energy from ticks (profiler.analysis.job_energy)."""

from __future__ import annotations

import pytest

from profiler.analysis.job_energy import DeviceBasis, GpuWeights, JobTick, attribute_job

CPU = DeviceBasis("cpu:0", "cpu", "measured:rapl", 10.0, "power model idle")


def _ticks(job_cpu_s: list[float], host_busy_s: list[float], power_w: float) -> list[JobTick]:
    return [
        JobTick(float(i), {"cpu:0": power_w * i}, host_busy_s[i], job_cpu_s[i])
        for i in range(len(job_cpu_s))
    ]


def test_the_job_gets_the_dynamic_energy_of_its_cpu_seconds_and_no_idle_by_default() -> None:
    # 30 W each second, 10 W idle: 20 J dynamic per second; the job used half the busy time
    ticks = _ticks([0, 0.5, 1.0, 1.5], [0, 1.0, 2.0, 3.0], 30.0)
    energy = attribute_job(ticks, [CPU], "none")
    assert energy.host_energy_j == pytest.approx(90.0)
    assert energy.dynamic_j == pytest.approx(30.0)
    assert energy.idle_j == 0.0
    assert energy.idle_unallocated_j == pytest.approx(30.0)
    assert energy.provenance == "attributed:cpu-time(measured:rapl)"


def test_cpu_time_idle_share_charges_idle_by_the_same_proportion() -> None:
    ticks = _ticks([0, 0.5, 1.0, 1.5], [0, 1.0, 2.0, 3.0], 30.0)
    energy = attribute_job(ticks, [CPU], "cpu-time")
    assert energy.idle_j == pytest.approx(15.0)
    assert energy.idle_unallocated_j == pytest.approx(15.0)


def test_a_dip_in_the_tree_reading_is_not_counted_twice() -> None:
    # a child's time moves to its parent's reaped-children figure between two reads
    dipped = attribute_job(_ticks([0, 1.0, 0.8, 2.0], [0, 2.0, 4.0, 6.0], 30.0), [CPU], "none")
    smooth = attribute_job(_ticks([0, 1.0, 1.0, 2.0], [0, 2.0, 4.0, 6.0], 30.0), [CPU], "none")
    assert dipped.dynamic_j == pytest.approx(smooth.dynamic_j)


def test_without_an_idle_figure_the_lowest_interval_power_stands_in_and_is_named() -> None:
    device = DeviceBasis("cpu:0", "cpu", "measured:rapl", None, "")
    ticks = [
        JobTick(0.0, {"cpu:0": 0.0}, 0.0, 0.0),
        JobTick(1.0, {"cpu:0": 12.0}, 0.1, 0.0),
        JobTick(2.0, {"cpu:0": 42.0}, 1.1, 1.0),
    ]
    energy = attribute_job(ticks, [device], "none")
    assert energy.by_device["cpu:0"]["idle_source"] == "window minimum"
    assert energy.by_device["cpu:0"]["idle_power_w"] == pytest.approx(12.0)
    assert energy.dynamic_j == pytest.approx(18.0)


def test_gpu_energy_counts_in_the_host_but_is_not_shared_by_cpu_time() -> None:
    gpu = DeviceBasis("gpu:0", "gpu", "measured:nvml-energy", 50.0, "")
    ticks = [
        JobTick(0.0, {"cpu:0": 0.0, "gpu:0": 0.0}, 0.0, 0.0),
        JobTick(1.0, {"cpu:0": 30.0, "gpu:0": 200.0}, 1.0, 1.0),
    ]
    energy = attribute_job(ticks, [CPU, gpu], "none")
    assert energy.host_energy_j == pytest.approx(230.0)
    assert energy.dynamic_j == pytest.approx(20.0)
    assert energy.provenance == "attributed:cpu-time(measured:rapl)"


def test_gpu_energy_is_shared_by_per_process_utilisation_and_named() -> None:
    gpu = DeviceBasis("gpu:0", "gpu", "measured:nvml-energy", 100.0, "")
    ticks = [
        JobTick(0.0, {"gpu:0": 0.0}, 0.0, 0.0),
        JobTick(1.0, {"gpu:0": 300.0}, 0.0, 0.0, {"gpu:0": GpuWeights("gpu-util", 60, 80)}),
        JobTick(2.0, {"gpu:0": 600.0}, 0.0, 0.0, {"gpu:0": GpuWeights("gpu-util", 60, 80)}),
    ]
    energy = attribute_job(ticks, [gpu], "none")
    assert energy.dynamic_j == pytest.approx(0.75 * 400.0)
    assert energy.gpu_s == pytest.approx(1.2)  # 60 % of the SMs' time for 2 s
    assert energy.provenance == "attributed:gpu-util(measured:nvml-energy)"


def test_gpu_memory_stands_in_without_per_process_utilisation_and_says_so() -> None:
    gpu = DeviceBasis("gpu:0", "gpu", "measured:nvml-power", 100.0, "")
    ticks = [
        JobTick(0.0, {"gpu:0": 0.0}, 0.0, 0.0),
        JobTick(1.0, {"gpu:0": 300.0}, 0.0, 0.0, {"gpu:0": GpuWeights("gpu-memory", 3e9, 4e9)}),
    ]
    energy = attribute_job(ticks, [gpu], "cpu-time")
    assert energy.dynamic_j == pytest.approx(150.0)
    assert energy.idle_j == pytest.approx(75.0)  # idle by the same (activity) share
    assert energy.gpu_s is None
    assert energy.provenance == "attributed:gpu-memory(measured:nvml-power)"
