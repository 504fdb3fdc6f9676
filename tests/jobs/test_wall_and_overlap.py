"""Review fixes 2 and 3: the wall is never added to its parts; overlapping runs count once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profiler.analysis.job_energy import DeviceBasis, JobTick, attribute_job
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import RunRecord
from profiler.model.samples import METRICS, SampleRow
from profiler.store.database import Store
from profiler.workflows.chargeback import chargeback, host_window, host_windows
from profiler.workflows.job import _device_bases

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _run(run_id: str, start_s: float, end_s: float) -> RunRecord:
    return RunRecord(
        run_id,
        "monitor",
        None,
        "h",
        T0 + timedelta(seconds=start_s),
        T0 + timedelta(seconds=end_s),
        "complete",
        {},
        "test",
    )


def _counter(device_id: str, power_w: float, seconds: int) -> list[SampleRow]:
    return [SampleRow(device_id, float(t), energy_j=power_w * t) for t in range(seconds + 1)]


CPU = DeviceRecord(DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"))
NODE = DeviceRecord(DeviceInfo("node", "node", provenance="measured:ipmi-dcmi"))


def test_a_jobs_host_energy_is_the_parts_never_the_wall_on_top() -> None:
    ticks = [
        JobTick(float(i), {"cpu:0": 5.0 * i, "node": 20.0 * i}, i * 1.0, i * 0.5) for i in range(5)
    ]
    devices = [
        DeviceBasis("cpu:0", "cpu", "measured:rapl", 1.0, "power model idle"),
        DeviceBasis("node", "node", "measured:ipmi-dcmi", None, ""),
    ]
    energy = attribute_job(ticks, devices, "none")
    assert energy.host_energy_j == pytest.approx(20.0)
    assert "node" not in energy.by_device


def test_exec_leaves_the_wall_device_out_of_the_shared_devices() -> None:
    bases = _device_bases([CPU.info, NODE.info])
    assert [b.device_id for b in bases] == ["cpu:0"]


def test_chargeback_host_window_counts_the_parts_not_the_wall() -> None:
    # cpu:0 5 W for 100 s = 500 J; the wall 20 W = 2,000 J: the host used 500 J of parts
    samples = _counter("cpu:0", 5.0, 100) + _counter("node", 20.0, 100)
    window = host_window(_run("r", 0, 100), [CPU, NODE], samples, T0.timestamp())
    assert window.energy_j == pytest.approx(500.0)
    assert window.provenance == "measured:rapl"


def _store_run(store: Store, run: RunRecord, samples: list[SampleRow]) -> None:
    values = [(r.device_id, r.t, *(getattr(r, m) for m in METRICS)) for r in samples]
    store.runs.add(run, devices=[CPU], samples=values)


def test_overlapping_monitor_runs_count_each_stretch_of_time_once(tmp_path: Path) -> None:
    # a scheduled run 0-100 s at 10 W (1,000 J) and a manual monitor 20-60 s (400 J)
    store = Store(tmp_path / "f.db")
    try:
        _store_run(store, _run("s", 0, 100), _counter("cpu:0", 10.0, 100))
        _store_run(store, _run("m", 20, 60), _counter("cpu:0", 10.0, 40))
        result = chargeback(store, T0.timestamp() - 1, "command", None)
    finally:
        store.close()
    assert result.host_energy_j == pytest.approx(1000.0)
    assert result.total_j == pytest.approx(1000.0)


def test_a_run_sticking_out_of_an_earlier_one_counts_only_the_time_outside_it() -> None:
    first = (_run("a", 0, 50), [CPU], _counter("cpu:0", 10.0, 50))
    later = (_run("b", 30, 80), [CPU], _counter("cpu:0", 10.0, 50))
    windows = host_windows([first, later], T0.timestamp())
    assert [w.energy_j for w in windows] == pytest.approx([500.0, 300.0])
