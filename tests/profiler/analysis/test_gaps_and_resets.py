"""docs/analyzer.md#data-truth on monitoring data: gaps are not stretched, resets are not wraps."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.assess import assess_usage, energy_coverage, energy_j, mean_power_w
from profiler.model.device import DeviceInfo
from profiler.model.energy import interval_energy
from profiler.model.series import device_series
from profiler.model.units import DAY_S
from tests.profiler.analysis.test_worked_examples import SITE_EXAMPLE

CPU = DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")
GPU = DeviceInfo("gpu:0", "gpu", provenance="measured:nvml-energy")


def test_one_reading_after_an_outage_is_not_stretched_over_it() -> None:
    """120 W for a day, 24 h without data, then one 200 W reading: still about 120 W."""
    t = np.append(np.arange(60.0, DAY_S + 1, 60.0), 2 * DAY_S + 60.0)
    power = np.append(np.full(t.size - 1, 120.0), 200.0)
    series = device_series(CPU, t, power_w=power)
    mean_w = mean_power_w(series)
    assert mean_w is not None
    assert mean_w == pytest.approx((120.0 * (t.size - 1) + 200.0 * 2) / (t.size + 1), rel=1e-9)
    assert mean_w < 120.2  # the old stretch gave 160 W here
    coverage = energy_coverage(series)
    assert coverage is not None and coverage == pytest.approx(0.5, abs=0.01)


def test_shifting_samples_within_a_run_does_not_change_the_energy_rate() -> None:
    """The same readings, one of them after a 1-h hole, give (almost) the same mean."""
    t = np.arange(60.0, 3 * DAY_S, 60.0)
    power = np.full(t.size, 100.0)
    half = t.size // 2
    power[half] = 300.0  # the reading right after the hole
    even = device_series(CPU, t, power_w=power)
    shifted = np.concatenate([t[:half], t[half:] + 3600.0])
    gapped = device_series(CPU, shifted, power_w=power)
    assert mean_power_w(gapped) == pytest.approx(mean_power_w(even), rel=1e-3)


def test_a_gpu_counter_that_restarts_at_zero_does_not_halve_its_energy() -> None:
    t = np.arange(1.0, 2001.0)
    energy = 100.0 * t
    energy[1000:] = 100.0 * (t[1000:] - t[1000])  # restart at 0 half-way through
    series = device_series(GPU, t, energy_j=energy)
    total = energy_j(series)
    assert total == pytest.approx(100.0 * 1999, rel=1e-9)  # one interval dropped, not half
    assert mean_power_w(series) == pytest.approx(100.0)


def test_interval_energy_counts_a_reset_interval_as_unknown() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0])
    energy, covered = interval_energy(
        t, np.array([10.0, 20.0, 5.0, 15.0]), np.full(4, np.nan), float("inf")
    )
    assert np.isnan(energy[2])
    assert energy[[0, 1, 3]].tolist() == [10.0, 10.0, 10.0]
    assert covered.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_energy_coverage_is_reported_in_usage_metrics() -> None:
    t = np.append(np.arange(60.0, DAY_S + 1, 60.0), 2 * DAY_S + 60.0)
    cpu = device_series(CPU, t, power_w=np.full(t.size, 120.0))
    host = device_series(DeviceInfo("host", "host", logical_cores=4), t, util=np.full(t.size, 0.5))
    result = assess_usage([host, cpu], SITE_EXAMPLE)
    assert result.metrics["data_quality"]["energy_coverage"]["cpu:0"] == pytest.approx(
        0.5, abs=0.01
    )
