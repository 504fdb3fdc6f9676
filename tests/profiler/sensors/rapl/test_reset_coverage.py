"""docs/methodology.md#rapl: a counter reset drops its interval; it is never 0 W covered.

Fake powercap zone at 40 W, read once a second through the real `RaplSensors`; one reset
mid-run. The interval across the reset is unknown, so the device's mean power stays 40 W
and its energy covers less than the whole span.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.analysis.assess import energy_coverage, mean_power_w
from profiler.model.series import device_series
from profiler.sensors.rapl.powercap import RaplSensors
from tests.fakes.powercap import FakePowercap


def no_sleep(_seconds: float) -> None:
    pass


def test_a_reset_interval_is_uncovered_not_measured_at_0_w(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 1_000_000, power_limit_uw=100_000_000)
    rapl = RaplSensors(tmp_path, Path.read_text, probe_sleep=no_sleep)
    (device,) = rapl.devices()
    rapl.start(0.0)
    t, energy, power = [], [], []
    for second in range(1, 41):
        if second == 20:
            fake.set_energy("intel-rapl:0", 2_000_000)  # driver reload: the counter restarts
        else:
            fake.advance("intel-rapl:0", 40_000_000)  # 40 J in 1 s
        (reading,) = rapl.read(float(second))
        t.append(float(second))
        energy.append(reading.energy_j)
        power.append(reading.power_w)
    series = device_series(device, t, energy_j=energy, power_w=power)
    assert mean_power_w(series) == pytest.approx(40.0)
    coverage = energy_coverage(series)
    assert coverage is not None and coverage < 1.0
    assert coverage == pytest.approx(39 / 40)
