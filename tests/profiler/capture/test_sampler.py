import logging
import math
from pathlib import Path

import pytest

from profiler.capture.sampler import Sampler
from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.durations import check_interval
from profiler.model.samples import Reading, Tick
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.rapl.powercap import RaplSensors
from tests.fakes.clock import FakeClock
from tests.fakes.powercap import FakePowercap


class ScriptedFamily:
    """A sensor family whose reads are logged and can be slow or fail on cue."""

    def __init__(
        self,
        clock: FakeClock,
        name: str = "fake",
        device: str = "cpu:0",
        *,
        poll_interval_s: float | None = None,
    ) -> None:
        self.name = name
        self.device = device
        self.clock = clock
        self.reads: list[float] = []
        self.slow: dict[int, float] = {}
        self.fail_reads: set[int] = set()
        self._poll = poll_interval_s

    def availability(self) -> Availability:
        return Availability(self.name, FamilyState.FOUND, "scripted")

    def devices(self) -> list[DeviceInfo]:
        return [DeviceInfo(self.device, "cpu")]

    def start(self, t_mono: float) -> None:
        self.t0 = t_mono

    @property
    def poll_interval_s(self) -> float | None:
        return self._poll

    def read(self, t_mono: float) -> list[Reading]:
        index = len(self.reads)
        self.reads.append(t_mono)
        if index in self.slow:
            self.clock.advance(self.slow[index])
        if index in self.fail_reads:
            raise OSError("scripted failure")
        return [Reading(self.device, util=0.5, power_w=10.0, energy_j=10.0 * (t_mono - self.t0))]

    def close(self) -> None:
        pass


def run_sampler(clock: FakeClock, families: list[ScriptedFamily], interval_s: float) -> list[Tick]:
    ticks: list[Tick] = []
    devices = {f.name: [f.device] for f in families}
    sampler = Sampler(families, devices, interval_s, [ticks.append], clock=clock)
    sampler.begin()
    sampler.run()
    return ticks


def test_ticks_land_on_the_grid_without_drift() -> None:
    clock = FakeClock(start=1000.0, end=1000.0 + 100.0)
    family = ScriptedFamily(clock)
    ticks = run_sampler(clock, [family], 0.1)
    assert len(ticks) == 1000
    for tick in ticks:
        # tick k is at start + k * interval, not the sum of k sleeps
        assert tick.t == pytest.approx(tick.index * 0.1, abs=1e-9)
    assert ticks[-1].missed_ticks == 0


def test_late_tick_is_recorded_late_and_skipped_slots_are_counted() -> None:
    clock = FakeClock(start=0.0, end=2.0)
    family = ScriptedFamily(clock)
    family.slow = {4: 0.35}  # the 5th read (tick at 0.5 s) takes 0.35 s
    ticks = run_sampler(clock, [family], 0.1)
    times = [round(t.t, 6) for t in ticks]
    # the tick due at 0.6 runs at 0.85 (late, recorded with its true time); the slots at
    # 0.7 and 0.8 were missed and are counted; then the grid resumes at 0.9
    assert 0.85 in times
    assert 0.6 not in times and 0.7 not in times and 0.8 not in times
    assert 0.9 in times and 1.0 in times
    assert ticks[-1].missed_ticks == 2


def test_polls_between_ticks_keep_within_the_family_poll_interval() -> None:
    clock = FakeClock(start=0.0, end=600.0)
    family = ScriptedFamily(clock, poll_interval_s=7.0)
    ticks = run_sampler(clock, [family], 60.0)
    assert len(ticks) == 10
    gaps = [b - a for a, b in zip(family.reads, family.reads[1:], strict=False)]
    assert max(gaps) <= 7.0 + 1e-9


def test_rapl_wraps_are_never_missed_at_the_longest_interval(tmp_path: Path) -> None:
    """A package at its max power for 10 minutes, sampled once a minute: the sampler's
    wrap-guard polls must catch every wrap, so the energy is exact."""
    tree = FakePowercap(tmp_path)
    max_power_w = 400.0
    range_uj = 1_000_000_000  # wraps every 2.5 s at 400 W
    tree.add_zone(
        "intel-rapl:0",
        "package-0",
        0,
        max_energy_range_uj=range_uj,
        max_power_uw=int(max_power_w * 1e6),
    )
    clock = FakeClock(start=0.0, end=600.0)
    clock.on_advance = lambda before, after: tree.advance(
        "intel-rapl:0", round((after - before) * max_power_w * 1e6)
    )
    rapl = RaplSensors(tmp_path, probe_sleep=lambda s: None)
    assert rapl.availability().state is FamilyState.FOUND
    assert rapl.poll_interval_s is not None
    assert rapl.poll_interval_s * max_power_w * 1e6 < range_uj  # at most half a wrap per poll
    ticks: list[Tick] = []
    sampler = Sampler([rapl], {"rapl": ["cpu:0"]}, 60.0, [ticks.append], clock=clock)
    sampler.begin()
    sampler.run()
    assert len(ticks) == 10
    assert sampler.polls > 200
    energy_j = ticks[-1].readings["cpu:0"].energy_j
    assert energy_j == pytest.approx(600.0 * max_power_w, rel=1e-6)


def test_failing_family_degrades_its_devices_and_sampling_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(start=0.0, end=1.0)
    good = ScriptedFamily(clock, name="good", device="host")
    bad = ScriptedFamily(clock, name="bad", device="gpu:0")
    bad.fail_reads = {2, 3, 4}
    with caplog.at_level(logging.WARNING):
        ticks = run_sampler(clock, [good, bad], 0.1)
    assert len(ticks) == 10
    failed = [t.readings["gpu:0"] for t in ticks[2:5]]
    assert all(r.status is DeviceStatus.DEGRADED for r in failed)
    assert all(r.power_w is None and r.energy_j is None for r in failed)  # null, never 0
    assert ticks[6].readings["gpu:0"].status is DeviceStatus.OK
    assert all(t.readings["host"].power_w == 10.0 for t in ticks)
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not every tick
    assert any("recovered" in r.getMessage() for r in caplog.records)


def test_merges_partial_readings_of_families_for_one_device() -> None:
    clock = FakeClock(start=0.0, end=0.25)

    class UtilOnly(ScriptedFamily):
        def read(self, t_mono: float) -> list[Reading]:
            return [Reading("cpu:0", util=0.25, clock_mhz=2600.0)]

    class PowerOnly(ScriptedFamily):
        def read(self, t_mono: float) -> list[Reading]:
            return [Reading("cpu:0", power_w=42.0, energy_j=1.0)]

    ticks = run_sampler(clock, [UtilOnly(clock, "cpu"), PowerOnly(clock, "model")], 0.1)
    reading = ticks[0].readings["cpu:0"]
    assert (reading.util, reading.clock_mhz, reading.power_w, reading.energy_j) == (
        0.25,
        2600.0,
        42.0,
        1.0,
    )


@pytest.mark.parametrize("bad", [0.0, 0.049, 60.5, math.inf])
def test_interval_out_of_range_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="out of range"):
        check_interval(bad)


def test_stop_takes_a_final_tick_at_the_stop_time() -> None:
    clock = FakeClock(start=0.0)
    family = ScriptedFamily(clock)
    ticks: list[Tick] = []
    sampler = Sampler([family], {"fake": ["cpu:0"]}, 0.05, [ticks.append], clock=clock)
    sampler.begin()
    clock.t = 0.02
    sampler.stop()
    assert len(ticks) == 1 and ticks[0].t == pytest.approx(0.02)


class ImpossibleFamily(ScriptedFamily):
    """Reads an infinite power and a negative energy on its second read."""

    def read(self, t_mono: float) -> list[Reading]:
        [reading] = super().read(t_mono)
        if len(self.reads) == 2:
            reading.power_w, reading.energy_j = math.inf, -5000.0
        return [reading]


def test_a_reading_outside_physical_bounds_is_dropped_counted_and_degraded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(start=0.0, end=0.35)
    with caplog.at_level(logging.WARNING):
        ticks = run_sampler(clock, [ImpossibleFamily(clock)], 0.1)
    first, bad, third = (tick.readings["cpu:0"] for tick in ticks[:3])
    assert first.status is DeviceStatus.OK and first.power_w == 10.0
    assert (bad.power_w, bad.energy_j, bad.util) == (None, None, 0.5)  # only what is impossible
    assert bad.status is DeviceStatus.DEGRADED
    assert third.status is DeviceStatus.OK
    assert "outside physical bounds" in caplog.text
