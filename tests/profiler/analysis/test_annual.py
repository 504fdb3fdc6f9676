"""One annualisation for every yearly figure: energy over the time that has data x 8,760 h.

Known answers: 7 W whenever measured is 61.32 kWh/yr; the fleet's idle energy and the
analyzer's `metrics.annual` are rates over covered time, not over the window's span.
"""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.annual import covered_tier, series_yearly
from profiler.analysis.fleet_rules import HostData, idle_energy
from profiler.analysis.thresholds import Thresholds
from profiler.model.annual import MIN_COVERED_S, annual_kwh, annualised, rate_kwh_per_year
from profiler.model.device import DeviceInfo
from profiler.model.savings import Site
from profiler.model.series import device_series
from profiler.model.units import DAY_S

MEASURED = Site(pue=1.0, pue_given=True, grid_defaulted=False)


def test_7_w_is_61_3_kwh_a_year_however_long_the_span() -> None:
    assert annual_kwh(7.0) == pytest.approx(61.32)
    for span_s in (3600.0, 30 * DAY_S):
        figure = annualised([(7.0 * 1500, 1500.0)], span_s)
        assert figure is not None and figure.it_kwh_per_year == pytest.approx(61.32)
        assert figure.covered_s == 1500.0 and figure.span_s == span_s


def test_too_little_data_gives_no_figure_but_says_how_much() -> None:
    figure = annualised([(7.0 * 120, 120.0)], 30 * DAY_S)
    assert figure is not None and figure.it_kwh_per_year is None and not figure.enough
    assert figure.covered_s == 120.0 < MIN_COVERED_S
    assert annualised([], 3600.0) is None
    assert rate_kwh_per_year([(7.0 * 120, 120.0)]) == pytest.approx(61.32)  # the rate itself


def test_each_device_is_annualised_over_its_own_covered_time() -> None:
    # a CPU measured for an hour at 7 W and a GPU for ten minutes at 50 W
    figure = annualised([(7.0 * 3600, 3600.0), (50.0 * 600, 600.0)], 3600.0)
    assert figure is not None and figure.it_kwh_per_year == pytest.approx(annual_kwh(57.0))


def test_the_confidence_of_a_yearly_figure_follows_its_data() -> None:
    th = Thresholds()
    assert covered_tier(25 * 60, 30 * DAY_S, th) == "low"
    assert covered_tier(31 * 3600, 7 * DAY_S, th) == "medium"
    assert covered_tier(14 * DAY_S, 14.5 * DAY_S, th) == "high"
    assert covered_tier(14 * DAY_S, 30 * DAY_S, th) == "medium"  # under 90 % of the span


def test_series_with_a_gap_are_annualised_over_the_covered_time() -> None:
    t = np.concatenate([np.arange(1.0, 1801.0), np.arange(5401.0, 7201.0)])  # 1 h of 2
    cpu = device_series(
        DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"),
        t,
        power_w=np.full(t.size, 7.0),
        hold=2.0,
    )
    host = device_series(DeviceInfo("host", "host"), t, util=np.full(t.size, 0.1))
    figure = series_yearly([host, cpu], 2 * 3600.0, MEASURED, Thresholds())
    assert figure is not None
    assert figure.covered_s == pytest.approx(3600.0, abs=2.0)
    assert figure.it_kwh_per_year == pytest.approx(61.32, rel=1e-3)
    assert figure.confidence == "low"  # an hour of data


def test_fleet_idle_energy_is_a_rate_over_covered_time() -> None:
    # one host idle at 50 W, sampled every 60 s for a day with the middle 12 h missing
    t = np.concatenate(
        [np.arange(60.0, 6 * 3600 + 1, 60.0), np.arange(18 * 3600.0, DAY_S + 1, 60.0)]
    )
    host = device_series(
        DeviceInfo("a:9100/host", "host"), t, util=np.full(t.size, 0.01), hold=120.0
    )
    cpu = device_series(
        DeviceInfo("a:9100/cpu:0", "cpu", provenance="measured:rapl"),
        t,
        power_w=np.full(t.size, 50.0),
        hold=120.0,
    )
    finding, figures = idle_energy(
        [HostData("a:9100", [host, cpu], None, 2)], MEASURED, Thresholds()
    )
    assert finding is not None
    assert figures["idle_it_kwh_per_year"] == pytest.approx(annual_kwh(50.0), rel=0.01)
