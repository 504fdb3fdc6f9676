"""docs/analyzer.md#data-truth: a figure at a threshold, up to float rounding, counts as at it."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.assess import assess_usage
from profiler.analysis.thresholds import COMPARE_TOLERANCE, above, at_least, at_most, below
from profiler.model.device import DeviceInfo
from profiler.model.series import device_series
from tests.profiler.analysis.examples import idle_host_util
from tests.profiler.analysis.test_worked_examples import SITE_EXAMPLE

# The 30-min mean of a window at exactly 2.0 % as numpy computed it in the case.
TWO_PERCENT_ROUNDED_UP = 0.020000000000000007


def test_a_window_at_2_percent_passes_the_at_most_2_percent_test() -> None:
    t, util = idle_host_util()
    util[-1] = TWO_PERCENT_ROUNDED_UP  # the last 30-min window, inside the recent 3 days
    host = device_series(DeviceInfo("host", "host", logical_cores=16), t, util=util)
    rules = [f.rule for f in assess_usage([host], SITE_EXAMPLE).findings]
    assert "IDLE_HOST" in rules


def test_a_window_just_above_2_percent_still_fails() -> None:
    t, util = idle_host_util()
    util[-1] = 0.0201
    host = device_series(DeviceInfo("host", "host", logical_cores=16), t, util=util)
    rules = [f.rule for f in assess_usage([host], SITE_EXAMPLE).findings]
    assert "IDLE_HOST" not in rules


@pytest.mark.parametrize("bound", [0.02, 0.5, 1.5, 300.0])
def test_comparisons_treat_values_within_tolerance_as_at_the_bound(bound: float) -> None:
    near = bound * (1 + COMPARE_TOLERANCE / 10)
    assert at_most(near, bound) and at_least(near, bound)
    assert not above(near, bound) and not below(near, bound)
    far = bound * 1.001
    assert not at_most(far, bound) and above(far, bound)
    assert below(bound * 0.999, bound)
    assert at_most(float(np.nextafter(bound, 2 * bound)), bound)  # one ulp above
