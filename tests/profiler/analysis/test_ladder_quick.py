"""Why a clean `--quick` phase could still come out invalid, one test per cause.

A quick phase is 4 s sampled at 0.25 s: 16 ticks, so the 95 % sample rule left no
sample to spare, and one sample interval is 6 % of the phase
(docs/methodology.md#ladder-and-validity).

- A phase is a little longer than 4 s (its last batch ends after the phase's 4 s), so
  it expected round(4.2 / 0.25) = 17 samples where its window held 16: 94 %, invalid.
- A tick the sampler ran a few milliseconds late falls after the phase's end: 15 of 16
  samples, invalid, although no reading was missing.
- The host's utilisation sample just after a phase starts measured mostly the phase
  before: after the 100 % level, an idle level's "other processes" came out at 6 % of the
  host (limit 5 %), disturbed, on a machine nothing else ran on.

The calibration's noise and the 100 % level's overshoot have their own tests
(tests/workloads/test_load.py, tests/profiler/analysis/test_ladder_levels.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from profiler.analysis.phases import MAX_FOREIGN_CPU_SHARE, MIN_COVERAGE, evaluated
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import SampleRow
from profiler.model.series import DeviceSeries, series_of_rows

INTERVAL_S = 0.25
DEVICES = [
    DeviceRecord(DeviceInfo("host", "host", logical_cores=2)),
    DeviceRecord(DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")),
]


def ticks(offset_s: float, until_s: float) -> list[float]:
    """The sampler's ticks: every 0.25 s from `offset_s`."""
    return [round(float(t), 6) for t in np.arange(offset_s, until_s, INTERVAL_S)]


def recorded(
    times: list[float], load: Callable[[float], float], power_w: float = 30.0
) -> dict[str, DeviceSeries]:
    """RAPL energy at `power_w` and the host's utilisation at each tick.

    `load(t)` is the host's busy share at time t; a utilisation sample is its mean over
    the interval since the tick before, as /proc/stat deltas are.
    """
    rows = []
    for prev, t in zip([times[0] - INTERVAL_S, *times[:-1]], times, strict=True):
        grid = np.linspace(prev, t, 201)
        util = float(np.mean([load(x) for x in grid]))
        rows.append(SampleRow("cpu:0", t, power_w=power_w, energy_j=power_w * t))
        rows.append(SampleRow("host", t, util=util))
    return series_of_rows([d.info for d in DEVICES], rows)


def phase(target: float, t_start: float, t_end: float, worker_cpu_s: float) -> PhaseRecord:
    units = 40_000.0 * target
    metrics = PhaseMetrics.of(worker_cpu_seconds=worker_cpu_s)
    return PhaseRecord(
        "risk", "cpu:0", target, t_start, t_end, units, "scenario", target, None, metrics
    )


def test_a_phase_longer_than_its_whole_ticks_is_not_short_of_a_sample() -> None:
    # 4.2 s: the last batch ended 0.2 s after the phase's 4 s; its window holds 16 ticks
    series = recorded(ticks(0.21, 20.0), lambda t: 0.5)
    result = evaluated(phase(0.5, 4.0, 8.2, 4.2), DEVICES, series, INTERVAL_S)
    assert result.metrics.coverage == pytest.approx(1.0)
    assert result.metrics.invalid_reasons == ()
    assert result.valid is True


def test_a_tick_the_sampler_ran_late_is_not_a_missing_sample() -> None:
    times = ticks(0.24, 20.0)
    due = times.index(7.99)  # the phase's last tick before its end at 8.0
    times[due] = 8.03  # run 40 ms late, after the phase's end
    series = recorded(times, lambda t: 0.5)
    result = evaluated(phase(0.5, 4.0, 8.0, 4.0), DEVICES, series, INTERVAL_S)
    assert result.metrics.coverage == pytest.approx(1.0)
    assert result.valid is True


def test_missing_samples_still_make_a_phase_invalid() -> None:
    # two readings of 16 lost (a degraded family): 87.5 % of the phase covered
    times = [t for t in ticks(0.1, 20.0) if t not in (5.1, 6.6)]
    series = recorded(times, lambda t: 0.5)
    result = evaluated(phase(0.5, 4.0, 8.0, 4.0), DEVICES, series, INTERVAL_S)
    assert result.metrics.coverage == pytest.approx(14 / 16)
    assert result.metrics.coverage < MIN_COVERAGE
    assert result.valid is False


def test_the_level_before_does_not_leak_into_a_phases_foreign_share() -> None:
    # the 100 % level busy on both cores to 4.0 s, then active idle; ticks at 0.01 + k/4
    series = recorded(ticks(0.01, 20.0), lambda t: 1.0 if t < 4.0 else 0.0)
    idle = evaluated(phase(0.0, 4.0, 8.0, 0.0), DEVICES, series, INTERVAL_S)
    assert idle.metrics.foreign_cpu_share == pytest.approx(0.0, abs=0.005)
    assert idle.metrics.disturbed is False
    assert idle.valid is True


def test_foreign_load_inside_a_phase_is_still_caught() -> None:
    # another process busy on one core from 5 s to 6 s of an idle level: 1 of 8 CPU s
    series = recorded(ticks(0.01, 20.0), lambda t: 0.5 if 5.0 <= t < 6.0 else 0.0)
    idle = evaluated(phase(0.0, 4.0, 8.0, 0.0), DEVICES, series, INTERVAL_S)
    assert idle.metrics.foreign_cpu_share == pytest.approx(1.0 / 8.0, abs=0.01)
    assert idle.metrics.foreign_cpu_share > MAX_FOREIGN_CPU_SHARE
    assert idle.metrics.disturbed is True
