import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.analysis.proportionality import LadderLevel, proportionality


def test_methodology_worked_example() -> None:
    """docs/methodology.md#ladder-metrics: X_k = 1000k, P_k = 100 + 2k, k = 10..100, P_idle 100."""
    levels = [LadderLevel(1000.0 * k, 100.0 + 2 * k) for k in range(10, 101, 10)]
    result = proportionality(levels, idle_power_w=100.0)
    assert result.overall_units_per_j == pytest.approx(250.0)
    assert result.ipr == pytest.approx(0.3333, abs=1e-4)
    assert result.area == pytest.approx(0.6667, abs=1e-4)
    assert result.ep == pytest.approx(0.6667, abs=1e-4)
    assert result.peak_units_per_s == 100_000.0
    assert result.power_at(0.55) == pytest.approx(210.0)
    assert result.rel_eff(1.0) == pytest.approx(1.0)


def test_perfectly_proportional_and_constant_power_bounds() -> None:
    ideal = proportionality([LadderLevel(x, x) for x in (10.0, 50.0, 100.0)], 0.0)
    assert ideal.ep == pytest.approx(1.0) and ideal.ipr == 0.0
    flat = proportionality([LadderLevel(x, 200.0) for x in (10.0, 50.0, 100.0)], 200.0)
    assert flat.ep == pytest.approx(0.0) and flat.ipr == 1.0


@given(
    st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=10),
    st.floats(min_value=1, max_value=500),
    st.floats(min_value=0, max_value=1),
)
def test_ep_of_linear_power_is_one_minus_ipr(xs: list[float], peak_w: float, ipr: float) -> None:
    peak = max(xs)
    idle = ipr * peak_w
    levels = [LadderLevel(x, idle + (peak_w - idle) * x / peak) for x in xs]
    assert proportionality(levels, idle).ep == pytest.approx(1 - ipr, abs=1e-9)


def test_no_levels_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        proportionality([], 10.0)
