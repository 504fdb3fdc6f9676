from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from profiler.analysis.assess import assess_usage
from profiler.analysis.savings import savings_from_power
from profiler.analysis.stats import nearest_rank
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.savings import Estimate, Site
from profiler.model.series import device_series
from tests.profiler.analysis.examples import idle_host_util, oversized_cpu_util

SHORT = Thresholds(min_span_s=3600.0, min_valid_hours=1.0, cpu_sizes=(8, 16, 32, 64))


def _doc(findings: list) -> list[dict]:
    return [f.as_dict() for f in findings]


@settings(max_examples=25, deadline=None)
@given(
    shift=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    example=st.sampled_from(["idle", "oversized"]),
)
def test_findings_unchanged_when_all_timestamps_shift(shift: float, example: str) -> None:
    t, util = idle_host_util() if example == "idle" else oversized_cpu_util()
    t = np.round(t)  # whole seconds: exact in float64 at any shift we draw
    host = device_series(DeviceInfo("host", "host", logical_cores=64), t, util=util)
    cpu = device_series(
        DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"), t, power_w=np.full(t.size, 90.0)
    )
    shift = float(np.round(shift))
    base = assess_usage([host, cpu], Site(), SHORT)
    moved = assess_usage([host.shifted(shift), cpu.shifted(shift)], Site(), SHORT)
    assert base.findings and _doc(base.findings) == _doc(moved.findings)


@given(
    watts=st.floats(min_value=0, max_value=1e4),
    pue=st.floats(min_value=1.0, max_value=3.0),
    extra_pue=st.floats(min_value=0, max_value=2.0),
    price=st.floats(min_value=0, max_value=1.0),
    extra_price=st.floats(min_value=0, max_value=1.0),
)
def test_savings_monotone_in_pue_and_tariff(
    watts: float, pue: float, extra_pue: float, price: float, extra_price: float
) -> None:
    power = Estimate(watts, watts * 0.8, watts * 1.2)
    low = savings_from_power(power, Site(pue=pue, price_per_kwh=price))
    high = savings_from_power(power, Site(pue=pue + extra_pue, price_per_kwh=price + extra_price))
    for name in ("facility_kwh_per_year", "co2e_kg_per_year", "cost_per_year"):
        a, b = getattr(low, name), getattr(high, name)
        assert b.point >= a.point and b.low >= a.low and b.high >= a.high
    assert low.it_kwh_per_year == high.it_kwh_per_year
    assert savings_from_power(power, Site(pue=pue)).cost_per_year is None


@given(
    st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=200),
    st.floats(min_value=0.001, max_value=1.0),
)
def test_percentiles_within_min_and_max(values: list[float], q: float) -> None:
    array = np.array(values)
    finite = array[~np.isnan(array)]
    result = nearest_rank(array, q)
    if finite.size == 0:
        assert result is None
    else:
        assert result is not None and finite.min() <= result <= finite.max()
        assert result in finite
