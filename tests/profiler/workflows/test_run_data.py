"""`load_run_data`: the one loader of a stored run, raw, by the minute or at its finest."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.store import Store
from profiler.workflows.run_data import load_run_data

HOST = DeviceInfo("host", "host")
CPU = DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")


def three_minutes(path: Path) -> str:
    """A run of two devices sampled every 10 s for three minutes; `cpu:0`'s first raw
    minute pruned (its rollup kept), as retention does."""
    with Store(path) as store:
        run = store.runs.create("monitor", status="complete", interval_s=10.0)
        store.devices.add(run.id, [HOST, CPU])
        store.samples.add(
            run.id,
            [
                SampleRow(d.device_id, t, util=0.5, power_w=5.0, energy_j=5.0 * t)
                for d in (HOST, CPU)
                for t in range(10, 181, 10)
            ],
        )
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM sample WHERE device_id = 'cpu:0' AND t < 60")
    return run.id


def test_finest_reads_only_the_pruned_device_by_the_minute(tmp_path: Path) -> None:
    run_id = three_minutes(tmp_path / "f.db")
    with Store(tmp_path / "f.db") as store:
        run = store.runs.get(run_id)
        assert run is not None
        finest = load_run_data(store, run, source="finest")
        auto = load_run_data(store, run)
    assert finest.rolled_up == {"cpu:0"}
    assert finest.series["host"].n == 18 and finest.series["cpu:0"].n == 4
    assert finest.series["cpu:0"].t.tolist() == [0.0, 60.0, 120.0, 180.0]
    assert auto.rolled_up == {"host", "cpu:0"}  # one source for the run: its rollups


def test_only_reads_the_devices_asked_for(tmp_path: Path) -> None:
    run_id = three_minutes(tmp_path / "f.db")
    with Store(tmp_path / "f.db") as store:
        run = store.runs.get(run_id)
        assert run is not None
        data = load_run_data(store, run, source="raw", only={"host"})
    assert set(data.series) == {"host"} and len(data.devices) == 2
