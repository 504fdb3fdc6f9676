"""`store.samples.series`: the one read of a device's samples, raw or by the minute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.series import FIELDS, device_series
from profiler.store import Store

CPU = DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")


def stored(path: Path, t: np.ndarray, power: np.ndarray, energy: np.ndarray) -> str:
    with Store(path) as store:
        run = store.runs.create("monitor", status="complete", interval_s=1.0)
        store.devices.add(run.id, [CPU])
        store.samples.add(
            run.id,
            [
                SampleRow(CPU.device_id, float(t[i]), util=0.5, power_w=float(power[i]),
                          energy_j=None if np.isnan(energy[i]) else float(energy[i]))
                for i in range(t.size)
            ],
        )  # fmt: skip
    return run.id


def a_run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three minutes at 1 s and 5 W, a 10-s outage, the counter missing at t = 50."""
    t = np.concatenate((np.arange(1.0, 90.0), np.arange(100.0, 181.0)))
    power = np.full(t.size, 5.0)
    energy = 5.0 * t
    energy[t == 50.0] = np.nan
    return t, power, energy


def test_a_raw_read_is_the_device_series_of_the_samples_with_the_runs_hold(
    tmp_path: Path,
) -> None:
    t, power, energy = a_run()
    run_id = stored(tmp_path / "f.db", t, power, energy)
    with Store(tmp_path / "f.db") as store:
        got = store.samples.series(run_id, CPU)
    want = device_series(
        CPU, t, util=np.full(t.size, 0.5), power_w=power, energy_j=energy, hold=2.0
    )
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def test_a_minute_read_places_each_minute_at_its_start(tmp_path: Path) -> None:
    t, power, energy = a_run()
    run_id = stored(tmp_path / "f.db", t, power, energy)
    with Store(tmp_path / "f.db") as store:
        raw = store.samples.series(run_id, CPU)
        minutes = store.samples.series(run_id, CPU, source="minute")
    assert minutes.t.tolist() == [0.0, 60.0, 120.0, 180.0]
    assert minutes.n_samples.tolist() == [59.0, 50.0, 60.0, 1.0]
    assert float(np.nansum(minutes.energy_delta_j)) == pytest.approx(
        float(np.nansum(raw.energy_delta_j)), rel=1e-12
    )
    assert minutes.util.tolist() == [0.5] * 4


def test_a_read_from_min_t_leaves_its_first_interval_unknown(tmp_path: Path) -> None:
    t, power, energy = a_run()
    run_id = stored(tmp_path / "f.db", t, power, energy)
    with Store(tmp_path / "f.db") as store:
        part = store.samples.series(run_id, CPU, min_t=120.0)
        minutes = store.samples.series(run_id, CPU, source="minute", min_t=120.0)
    assert part.t[0] == 120.0 and np.isnan(part.energy_delta_j[0])
    assert part.energy_delta_j[1] == pytest.approx(5.0)
    assert minutes.t.tolist() == [120.0, 180.0]


def test_counter_disagreement_compares_the_last_reading_of_each(tmp_path: Path) -> None:
    gpu = DeviceInfo("gpu:0", "gpu", provenance="measured:nvml-energy")
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("monitor", status="complete", interval_s=1.0)
        store.devices.add(run.id, [gpu, CPU])
        store.samples.add(
            run.id,
            [
                SampleRow("gpu:0", 1.0, energy_j=100.0, energy_from_power_j=101.0),
                SampleRow("gpu:0", 2.0, energy_j=200.0, energy_from_power_j=210.0),
                SampleRow("gpu:0", 3.0, energy_j=None, energy_from_power_j=None),
                SampleRow("cpu:0", 1.0, energy_j=5.0),
            ],
        )
        assert store.samples.counter_disagreement(run.id, "gpu:0") == pytest.approx(0.05)
        assert store.samples.counter_disagreement(run.id, "cpu:0") is None
