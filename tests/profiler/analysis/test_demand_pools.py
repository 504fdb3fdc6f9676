"""COMPLEMENTARY_PEAKS with known answers: hosts whose peaks do not coincide share a pool."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.complementary import Demand, complementary_peaks
from profiler.analysis.confidence import Quality
from profiler.analysis.host_rules import IdlePower
from profiler.analysis.thresholds import Thresholds
from profiler.model.findings import Finding
from profiler.model.savings import Estimate, Site
from tests.profiler.analysis.demand_series import LONDON, STEP_S, local_util, sample_times

TH = Thresholds()
QUALITY = Quality()
SITE = Site(pue=1.5, pue_given=True, grid_defaulted=False, grid_label="test grid")


def peaks(demands: list[Demand], kind: str = "host") -> Finding | None:
    """COMPLEMENTARY_PEAKS over `demands` on the test grid, site, quality and thresholds."""
    return complementary_peaks(demands, STEP_S, SITE, QUALITY, TH, kind)


def _idle(watts: float) -> IdlePower:
    return IdlePower(Estimate(watts, watts, watts), "measured", f"{watts:g} W measured")


def _cores(busy, weeks: float = 4, busy_cores: float = 6.0, idle_cores: float = 0.2):  # type: ignore[no-untyped-def]
    t = sample_times(weeks)
    return local_util(t, LONDON, busy, busy_cores, idle_cores)


def _day(d: int, h: int, w: int) -> bool:
    return d < 5 and 9 <= h < 17


def _night(d: int, h: int, w: int) -> bool:
    return h >= 20 or h < 4


def test_two_complementary_hosts_go_into_one_pool() -> None:
    day = Demand("day-app", _cores(_day), 8.0, _idle(90.0))
    night = Demand("night-batch", _cores(_night), 8.0, _idle(110.0))
    finding = peaks([day, night])
    assert finding is not None and finding.rule == "COMPLEMENTARY_PEAKS"
    assert finding.recommendation is not None
    assert finding.recommendation["pools"] == [["day-app", "night-batch"]]
    assert finding.recommendation["free"] == ["night-batch"]  # day-app idles at fewer watts
    pool = finding.evidence["pools"][0]
    # each peaks at 6 cores, never at the same time: 12 by peaks, 6.2 at the summed peak
    assert pool["sum_of_peaks"] == pytest.approx(12.0, abs=0.01)
    assert pool["peak_of_sum"] == pytest.approx(6.2, abs=0.01)
    assert pool["diversity_factor"] == pytest.approx(12.0 / 6.2, rel=0.01)
    assert pool["peak_of_sum"] <= 0.8 * 8.0
    assert finding.savings is not None
    assert finding.savings.it_kwh_per_year.point == pytest.approx(110.0 * 8.76)
    assert finding.savings.facility_kwh_per_year.point == pytest.approx(110.0 * 8.76 * 1.5)
    assert finding.evidence["weeks_of_history"] == pytest.approx(4.0)
    assert finding.confidence == "medium"


def test_coinciding_peaks_are_not_pooled() -> None:
    a = Demand("a", _cores(_day), 8.0, _idle(90.0))
    b = Demand("b", _cores(_day, idle_cores=0.3), 8.0, _idle(90.0))
    assert peaks([a, b]) is None


def test_the_packing_keeps_every_pool_under_target_at_every_step() -> None:
    hosts = [
        Demand("day-1", _cores(_day), 8.0, _idle(90.0)),
        Demand("day-2", _cores(_day), 8.0, _idle(90.0)),
        Demand("night-1", _cores(_night), 8.0, _idle(90.0)),
        Demand("night-2", _cores(_night), 8.0, _idle(90.0)),
    ]
    finding = peaks(hosts)
    assert finding is not None and finding.recommendation is not None
    pools = finding.recommendation["pools"]
    assert len(pools) == 2 and len(finding.recommendation["free"]) == 2
    assert all({p[0][:3], p[1][:3]} == {"day", "nig"} for p in pools)
    for pool in finding.evidence["pools"]:
        assert pool["peak_of_sum"] <= pool["target_capacity"]


def test_under_four_weeks_of_history_lowers_confidence() -> None:
    day = Demand("day-app", _cores(_day, weeks=2), 8.0, _idle(90.0))
    night = Demand("night-batch", _cores(_night, weeks=2), 8.0, _idle(110.0))
    finding = peaks([day, night])
    assert finding is not None and finding.confidence == "low"
    assert any("2.0 weeks of history" in line for line in finding.assumptions)


def test_unobserved_steps_are_left_out_not_counted_as_zero() -> None:
    day = _cores(_day)
    night = _cores(_night)
    night[:288] = np.nan  # the night host missed its first day
    finding = peaks([Demand("d", day, 8.0, _idle(90.0)), Demand("n", night, 8.0, _idle(90.0))])
    assert finding is not None
    assert finding.evidence["weeks_of_history"] == pytest.approx(4.0 - 1 / 7)


def test_gpus_with_complementary_runs_share_one_gpu() -> None:
    eod = _cores(lambda d, h, w: d < 5 and 18 <= h < 21, busy_cores=0.7, idle_cores=0.0)
    train = _cores(lambda d, h, w: 1 <= h < 6, busy_cores=0.7, idle_cores=0.0)
    finding = peaks(
        [Demand("gpu-a", eod, 1.0, _idle(70.0)), Demand("gpu-b", train, 1.0, _idle(60.0))],
        kind="gpu",
    )
    assert finding is not None and finding.recommendation is not None
    assert finding.recommendation["action"] == "time-slice or MIG one GPU"
    assert finding.recommendation["free"] == ["gpu-a"]


def test_series_on_different_grids_are_refused() -> None:
    a = Demand("a", _cores(_day), 8.0, None)
    b = Demand("b", _cores(_night)[:-1], 8.0, None)
    with pytest.raises(ValueError, match="one step grid"):
        peaks([a, b])
