"""The one definition of interval energy (`profiler.model.energy`)."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.model.energy import (
    counter_resets,
    interval_energy,
    median_hold_s,
    run_hold_s,
)
from profiler.model.hold import HOLD_INTERVALS

NAN = np.nan


def test_a_counter_delta_spans_a_gap_and_a_reset_falls_back_to_power() -> None:
    t = np.array([1.0, 2.0, 10.0, 11.0])
    energy = np.array([5.0, 10.0, 50.0, 2.0])  # the counter went down at t = 11
    power = np.array([5.0, 5.0, 5.0, 7.0])
    delta, covered = interval_energy(t, energy, power, 2.0)
    assert delta.tolist() == [5.0, 5.0, 40.0, 7.0]  # 8 s gap counted; reset: 7 W x 1 s
    assert covered.tolist() == [1.0, 1.0, 8.0, 1.0]
    assert counter_resets(energy).tolist() == [False, False, False, True]


def test_power_covers_at_most_the_hold_and_unknown_stays_nan() -> None:
    t = np.array([1.0, 2.0, 30.0, 31.0])
    power = np.array([100.0, 100.0, 200.0, NAN])
    delta, covered = interval_energy(t, np.full(4, NAN), power, 2.0)
    assert delta[:3].tolist() == [100.0, 100.0, 400.0]  # the 28 s gap: 2 s covered
    assert np.isnan(delta[3])
    assert covered.tolist() == [1.0, 1.0, 2.0, 1.0]


def test_prev_continues_a_device_across_batches() -> None:
    t = np.arange(1.0, 7.0)
    energy = 3.0 * t
    energy[3] = 1.0  # a reset at t = 4
    power = np.full(6, 3.0)
    whole = interval_energy(t, energy, power, 2.0)
    head = interval_energy(t[:3], energy[:3], power[:3], 2.0)
    tail = interval_energy(t[3:], energy[3:], power[3:], 2.0, prev=(t[2], energy[2]))
    assert np.concatenate((head[0], tail[0])).tolist() == whole[0].tolist()
    assert np.concatenate((head[1], tail[1])).tolist() == whole[1].tolist()
    assert counter_resets(energy[3:], energy[2]).tolist() == [True, False, False]


def test_a_missing_counter_reading_is_no_reset() -> None:
    assert counter_resets(np.array([5.0, NAN, 1.0])).tolist() == [False, False, False]


def test_the_hold_is_hold_intervals_times_the_stated_or_median_step() -> None:
    assert run_hold_s(0.5) == pytest.approx(HOLD_INTERVALS * 0.5)
    assert run_hold_s(None) is None
    assert median_hold_s(np.array([0.0, 1.0, 2.0, 10.0])) == pytest.approx(HOLD_INTERVALS)
    assert median_hold_s(np.array([3.0])) == float("inf")
