"""The BMC poller's arithmetic: held readings integrate into monotone joules; cadence and
staleness follow the BMC's window and the deadline."""

from __future__ import annotations

import pytest

from profiler.model.device import DeviceStatus
from profiler.sensors.bmc.poller import _HISTORY, MAX_CADENCE_S, BmcPoller, PowerSample, cadence_s


def poller(stale_after_s: float = 10.0) -> BmcPoller:
    def never() -> PowerSample:
        raise AssertionError("no thread in these tests")

    return BmcPoller(never, interval_s=1.0, stale_after_s=stale_after_s)


def test_each_reading_is_held_until_the_next() -> None:
    bmc = poller()
    bmc.begin(100.0, PowerSample(200))
    bmc.add(101.0, PowerSample(300))
    bmc.add(102.0, PowerSample(250))
    assert bmc.reading(100.5).energy_j == pytest.approx(100)
    assert bmc.reading(101.0).energy_j == pytest.approx(200)
    assert bmc.reading(101.5).energy_j == pytest.approx(350)
    assert bmc.reading(103.0).energy_j == pytest.approx(200 + 300 + 250)
    assert bmc.reading(103.0).power_w == 250


def test_a_past_time_reads_its_own_energy_after_many_fast_polls() -> None:
    # A 50 ms poller answers 80 times in 4 s: reading back at the start of that window
    # must still give the energy of that time (the history once held only 64 polls).
    bmc = BmcPoller(lambda: PowerSample(0), interval_s=0.05, stale_after_s=10.0)
    bmc.begin(0.0, PowerSample(200))
    for k in range(1, 161):
        bmc.add(k * 0.05, PowerSample(200 if k < 80 else 300))
    assert bmc.reading(2.0).energy_j == pytest.approx(400)
    assert bmc.reading(8.0).energy_j - bmc.reading(4.0).energy_j == pytest.approx(1200)


def test_a_time_older_than_the_history_is_degraded_not_another_times_energy() -> None:
    bmc = BmcPoller(lambda: PowerSample(0), interval_s=1.0, stale_after_s=1e9)
    bmc.begin(0.0, PowerSample(100))
    for k in range(1, _HISTORY + 10):
        bmc.add(float(k), PowerSample(100))
    old = bmc.reading(3.0)
    assert old.status is DeviceStatus.DEGRADED and old.energy_j is None
    assert bmc.reading(float(_HISTORY + 9)).energy_j == pytest.approx(100 * (_HISTORY + 9))


def test_cumulative_energy_never_decreases_whatever_the_readings() -> None:
    bmc = poller()
    bmc.begin(0.0, PowerSample(500))
    previous = 0.0
    for step, watts in enumerate((0, 900, 10, 0, 400), start=1):
        for t in (step - 0.5, step - 0.01):
            energy = bmc.reading(t).energy_j
            assert energy is not None and energy >= previous
            previous = energy
        bmc.add(float(step), PowerSample(watts))


def test_a_stale_bmc_gives_no_figure_never_a_zero() -> None:
    bmc = poller(stale_after_s=3.0)
    bmc.begin(0.0, PowerSample(200))
    reading = bmc.reading(3.5)
    assert reading.status == "degraded"
    assert (reading.power_w, reading.energy_j) == (None, None)


def test_cadence_is_not_faster_than_the_bmc_window_and_capped() -> None:
    assert cadence_s(1.0, None) == 1.0
    assert cadence_s(1.0, 5.0) == 5.0
    assert cadence_s(2.0, 0.1) == 2.0
    assert cadence_s(1.0, 3600.0) == MAX_CADENCE_S


def test_an_outage_adds_no_energy_beyond_the_stale_limit() -> None:
    # 200 W at t=1, no answer until t=600, then 300 W: the 200 W is held for at most the
    # stale limit (10 s), the rest of the gap adds nothing (missing coverage).
    bmc = poller(stale_after_s=10.0)
    bmc.begin(1.0, PowerSample(200))
    assert bmc.reading(300.0).status is DeviceStatus.DEGRADED
    bmc.add(600.0, PowerSample(300))
    after = bmc.reading(601.0)
    assert after.status is DeviceStatus.OK
    assert after.energy_j == pytest.approx(200 * 10 + 300 * 1)
    # A read inside the gap (kept history) never exceeds the energy after it: monotone.
    inside, at_answer = bmc.reading(11.0).energy_j, bmc.reading(600.0).energy_j
    assert inside is not None and at_answer is not None and inside <= at_answer


@pytest.mark.parametrize("watts", [float("inf"), float("nan"), 1e308, -5000.0])
def test_an_out_of_bounds_reading_is_dropped_counted_and_adds_no_energy(watts: float) -> None:
    bmc = poller()
    bmc.begin(100.0, PowerSample(200))
    bmc.add(101.0, PowerSample(watts))
    bmc.add(103.0, PowerSample(250))
    assert bmc.out_of_bounds == 1
    during = bmc.reading(102.0)
    assert (during.status, during.power_w, during.energy_j) == (DeviceStatus.DEGRADED, None, None)
    after = bmc.reading(104.0)
    assert after.status is DeviceStatus.OK
    # 200 W held 100..101, nothing for the bad stretch 101..103, 250 W held 103..104
    assert after.energy_j == pytest.approx(200 + 250)


def test_an_out_of_bounds_first_reading_starts_the_node_degraded() -> None:
    bmc = poller()
    bmc.begin(0.0, PowerSample(float("inf")))
    assert bmc.reading(0.5).status is DeviceStatus.DEGRADED
    bmc.add(1.0, PowerSample(100))
    assert bmc.reading(2.0).energy_j == pytest.approx(100)
