from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.analysis.energy import EnergyCurve, coverage, energy_at, window_energy_j
from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.series import series_of_rows

SERIES: EnergyCurve = (np.array([1.0, 2.0, 4.0]), np.array([10.0, 30.0, 50.0]))
CPU = DeviceInfo("cpu:0", "cpu")


def test_energy_interpolates_between_samples_and_from_zero_at_start() -> None:
    assert energy_at(SERIES, 0.5) == pytest.approx(5.0)
    assert energy_at(SERIES, 1.5) == pytest.approx(20.0)
    assert energy_at(SERIES, 3.0) == pytest.approx(40.0)
    assert energy_at(SERIES, 4.5) is None  # beyond the last sample: unknown
    assert window_energy_j(SERIES, 1.5, 3.0) == pytest.approx(20.0)


@given(
    st.lists(st.floats(min_value=0.01, max_value=100), min_size=2, max_size=30),
    st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5),
)
def test_window_energy_equals_sum_over_any_split(powers: list[float], cuts: list[float]) -> None:
    t, e, points = 0.0, 0.0, []
    for p in powers:
        t += 0.5
        e += p * 0.5
        points.append((t, e))
    series: EnergyCurve = (np.array([a for a, _ in points]), np.array([b for _, b in points]))
    t_end = points[-1][0]
    bounds = sorted({0.0, t_end, *(c * t_end for c in cuts)})
    parts = [window_energy_j(series, a, b) for a, b in pairwise(bounds)]
    total = window_energy_j(series, 0.0, t_end)
    assert total is not None and all(p is not None for p in parts)
    assert sum(p for p in parts if p is not None) == pytest.approx(total, rel=1e-9, abs=1e-9)


def test_coverage_counts_expected_samples() -> None:
    samples = [SampleRow("cpu:0", t / 10, energy_j=1.0) for t in range(1, 101)]
    whole = series_of_rows([CPU], samples)["cpu:0"]
    assert coverage(whole, 0.0, 10.0, 0.1) == pytest.approx(1.0)
    holes = [s for s in samples if not 2.0 < s.t <= 3.0]
    assert coverage(series_of_rows([CPU], holes)["cpu:0"], 0.0, 10.0, 0.1) == pytest.approx(0.9)
