"""Minute rollups on counters that reset and readings after gaps (docs/analyzer.md#data-truth).

The one definition of interval energy (`profiler.model.energy.interval_energy`) is the oracle:
a counter that goes down was reset (that interval's counter delta dropped and counted),
and a power reading covers at most the run's hold. Every write path (the recorder's
writer, `store.samples.add`, import, the migration that rebuilds old rollups) must give the
rollup of the same samples, and the analyzer must read the same energy from rollups as
from raw samples.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.energy import interval_energy, median_hold_s, run_hold_s
from profiler.model.samples import SampleRow
from profiler.model.savings import Site
from profiler.store import SampleWriter, Store
from profiler.store.interchange import import_run
from profiler.store.rollup import REBUILD_MINUTES_SQL
from profiler.store.schema import MIGRATIONS, SCHEMA_VERSION
from profiler.workflows.analyze import analyze_run
from tests.fakes.history import history_doc
from tests.profiler.store.minute_table import minute_rows

CPU = DeviceInfo("cpu:0", "cpu", power_limit_w=5.0, provenance="measured:rapl")
INTERVAL_S = 1.0


def reset_run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ten minutes at 1 s and 5 W; the counter restarts at 0 at t = 300 (a driver reload)."""
    t = np.arange(1.0, 601.0)
    power = np.full(t.size, 5.0)
    energy = 5.0 * t
    energy[t >= 300] = 5.0 * (t[t >= 300] - 300.0)  # at t = 300 it reads 0 J again
    return t, power, energy


def gap_run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power only: an hour at 120 W every second, a 24-hour outage, one 200 W reading."""
    t = np.concatenate((np.arange(1.0, 3601.0), [3600.0 + 86400.0]))
    power = np.concatenate((np.full(3600, 120.0), [200.0]))
    return t, power, np.full(t.size, np.nan)


def rows_of(t: np.ndarray, power: np.ndarray, energy: np.ndarray) -> list[SampleRow]:
    return [
        SampleRow(
            CPU.device_id,
            float(t[i]),
            power_w=float(power[i]),
            energy_j=None if np.isnan(energy[i]) else float(energy[i]),
        )
        for i in range(t.size)
    ]


def totals(store: Store, run_id: str) -> dict[str, float]:
    rows = minute_rows(store.path, run_id, CPU.device_id)
    return {
        "energy_delta_j": sum(r["energy_delta_j"] or 0.0 for r in rows),
        "energy_s": sum(r["energy_s"] or 0.0 for r in rows),
        "resets": float(sum(r["resets_n"] for r in rows)),
    }


def oracle(t: np.ndarray, power: np.ndarray, energy: np.ndarray, hold: float | None):
    held = median_hold_s(t) if hold is None else hold
    joules, covered = interval_energy(t, energy, power, held)
    known = ~np.isnan(joules)
    prev = np.concatenate(([0.0], energy[:-1]))
    return {
        "energy_delta_j": float(joules[known].sum()),
        "energy_s": float(covered[known].sum()),
        "resets": float(((energy - prev) < 0).sum()),
    }


def write_writer(path: Path, t: np.ndarray, power: np.ndarray, energy: np.ndarray) -> str:
    with Store(path) as store:
        run = store.runs.create("monitor", status="complete", interval_s=INTERVAL_S)
        store.devices.add(run.id, [CPU])
    writer = SampleWriter(path, run.id, flush_interval_s=0.0)
    for row in rows_of(t, power, energy):
        writer.put([row])
    writer.close()
    return run.id


def write_add_samples(path: Path, t: np.ndarray, power: np.ndarray, energy: np.ndarray) -> str:
    with Store(path) as store:
        run = store.runs.create("monitor", status="complete", interval_s=INTERVAL_S)
        store.devices.add(run.id, [CPU])
        rows = rows_of(t, power, energy)
        for lo in range(0, len(rows), 97):  # batches that split minutes and the reset
            store.samples.add(run.id, rows[lo : lo + 97])
    return run.id


def write_import(path: Path, t: np.ndarray, power: np.ndarray, energy: np.ndarray) -> str:
    doc = history_doc(
        [{"id": "cpu:0", "kind": "cpu", "power_limit_w": 5.0, "provenance": "measured:rapl"}],
        t,
        {"cpu:0": {"power_w": power, "energy_j": energy}},
        run_id="imported",
        interval_s=INTERVAL_S,
    )
    with Store(path) as store:
        return import_run(store, doc)


WRITERS = {"writer": write_writer, "samples.add": write_add_samples, "import": write_import}


@pytest.mark.parametrize("path_name", sorted(WRITERS))
def test_a_counter_reset_is_dropped_and_counted_not_negative_energy(
    tmp_path: Path, path_name: str
) -> None:
    t, power, energy = reset_run()
    run_id = WRITERS[path_name](tmp_path / "f.db", t, power, energy)
    with Store(tmp_path / "f.db") as store:
        got = totals(store, run_id)
        assert store.samples.minute_resets(run_id, CPU.device_id) == 1
    # 600 s at 5 W: the reset interval's counter delta (-1495 J) is replaced by 5 W x 1 s
    assert got["energy_delta_j"] == pytest.approx(3000.0, rel=1e-12)
    assert got == pytest.approx(oracle(t, power, energy, run_hold_s(INTERVAL_S)), rel=1e-12)
    assert got["resets"] == 1


@pytest.mark.parametrize("path_name", sorted(WRITERS))
def test_a_reading_after_a_gap_covers_at_most_the_hold(tmp_path: Path, path_name: str) -> None:
    t, power, energy = gap_run()
    run_id = WRITERS[path_name](tmp_path / "f.db", t, power, energy)
    with Store(tmp_path / "f.db") as store:
        got = totals(store, run_id)
    # the 200 W reading stands for 2 s (2 x the 1-s interval), not for the 24-hour gap
    assert got["energy_delta_j"] == pytest.approx(120.0 * 3600 + 200.0 * 2, rel=1e-12)
    assert got["energy_s"] == pytest.approx(3602.0, rel=1e-12)
    assert got == pytest.approx(oracle(t, power, energy, run_hold_s(INTERVAL_S)), rel=1e-12)


def test_a_run_without_a_stated_interval_holds_twice_the_median_step(tmp_path: Path) -> None:
    t, power, energy = gap_run()
    doc = history_doc(["cpu:0"], t, {"cpu:0": {"power_w": power}}, run_id="no-interval")
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, doc)
        got = totals(store, run_id)
    assert got == pytest.approx(oracle(t, power, energy, None), rel=1e-12)
    assert got["energy_s"] == pytest.approx(3602.0, rel=1e-12)


@pytest.mark.parametrize("case", [reset_run, gap_run])
def test_analysis_reads_the_same_energy_from_rollups_as_from_raw_samples(
    tmp_path: Path, case: Any
) -> None:
    t, power, energy = case()
    run_id = write_import(tmp_path / "f.db", t, power, energy)
    figures = {}
    with Store(tmp_path / "f.db") as store:
        run = store.runs.get(run_id)
        assert run is not None
        for source in ("raw", "minute"):
            doc = analyze_run(store, run, Site(), Thresholds(), source=source).as_dict()  # type: ignore[arg-type]
            figures[source] = doc["metrics"]["devices"][CPU.device_id]
    for name in ("energy_j", "mean_power_w"):
        assert figures["minute"][name] == pytest.approx(figures["raw"][name], rel=1e-9), name
    assert figures["raw"]["energy_j"] > 0


def _before_the_rebuild() -> int:
    """Index of the migration that rebuilds the rollups (the lead may renumber it)."""
    return next(i for i, sql in enumerate(MIGRATIONS) if REBUILD_MINUTES_SQL in sql)


_OLD_MINUTE = (
    "INSERT INTO sample_minute (run_id, device_id, minute, n, t_first, t_last, util_n, "
    "power_n, energy_j, energy_s, covered_s, sm_n) "
    "VALUES ('r', 'cpu:0', ?, 60, ?, ?, 0, 60, ?, 60, 60, 0)"
)


def _old_database(
    path: Path, samples: list[SampleRow], minutes: list[tuple[int, float, float, float]]
) -> None:
    """Write a database of the version before the rebuild: run 'r' on cpu:0 at 1 s, its
    raw `samples` and the old definition's rollup rows `minutes` (minute, t_first,
    t_last, energy_j)."""
    version = _before_the_rebuild()
    conn = sqlite3.connect(path)
    for sql in MIGRATIONS[:version]:
        conn.executescript(sql)
    conn.execute(
        "INSERT INTO run (id, kind, host, started, status, version, interval_s) "
        "VALUES ('r', 'monitor', 'h', '2026-01-01T00:00:00Z', 'complete', '0', 1.0)"
    )
    conn.execute("INSERT INTO device (run_id, device_id, kind) VALUES ('r', 'cpu:0', 'cpu')")
    conn.executemany(
        "INSERT INTO sample (run_id, device_id, t, power_w, energy_j) VALUES ('r', ?, ?, ?, ?)",
        [(r.device_id, r.t, r.power_w, r.energy_j) for r in samples],
    )
    conn.executemany(_OLD_MINUTE, minutes)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def test_the_migration_rebuilds_existing_rollups(tmp_path: Path) -> None:
    # a database of the version before the rebuild, holding the old definition's rollup
    # of a reset: a minute of negative energy
    t, power, energy = reset_run()
    path = tmp_path / "old.db"
    _old_database(path, rows_of(t, power, energy), [(5, 300.0, 359.0, -1195.0)])
    with Store(path) as store:
        got = totals(store, "r")
        minute_5 = minute_rows(store.path, "r", "cpu:0")[5]
    assert minute_5["minute"] == 5
    assert minute_5["energy_delta_j"] == pytest.approx(300.0)  # 60 s at 5 W, the reset included
    assert minute_5["resets_n"] == 1
    assert got == pytest.approx(oracle(t, power, energy, run_hold_s(1.0)), rel=1e-12)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_the_migration_keeps_rollups_whose_raw_samples_were_pruned(tmp_path: Path) -> None:
    # retention pruned minutes 0-2 (only their rollups remain): the rebuild keeps them,
    # and the first raw minute left (3: its first sample's predecessor is gone), and
    # rebuilds the minutes after it
    t, power, energy = reset_run()
    raw = t >= 180.0
    path = tmp_path / "pruned.db"
    _old_database(
        path,
        rows_of(t[raw], power[raw], energy[raw]),
        [(m, 60.0 * m, 60.0 * m + 59, 1000.0 + m) for m in (0, 1, 2, 3, 5)],
    )
    with Store(path) as store:
        rows = {r["minute"]: r for r in minute_rows(store.path, "r", "cpu:0")}
    assert sorted(rows) == list(range(11))  # t = 600 s opens minute 10
    assert [rows[m]["energy_delta_j"] for m in (0, 1, 2, 3)] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert rows[5]["energy_delta_j"] == pytest.approx(300.0) and rows[5]["resets_n"] == 1
    assert all(rows[m]["energy_delta_j"] == pytest.approx(300.0) for m in range(4, 10))


def _minute_columns(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute("PRAGMA table_info(sample_minute)")]
    finally:
        conn.close()


def test_the_migration_renames_the_minutes_energy_to_energy_delta_j(tmp_path: Path) -> None:
    # a database of the version before the rename, whose rollup of minute 0 outlived its
    # raw samples (retention): its energy is carried over under the new name
    t, power, energy = reset_run()
    raw = t >= 120.0
    path = tmp_path / "old.db"
    _old_database(path, rows_of(t[raw], power[raw], energy[raw]), [(0, 0.0, 59.0, 123.0)])
    assert "energy_j" in _minute_columns(path)
    with Store(path) as store:
        rows = {r["minute"]: r for r in minute_rows(store.path, "r", "cpu:0")}
    columns = _minute_columns(path)
    assert "energy_delta_j" in columns and "energy_j" not in columns
    assert rows[0]["energy_delta_j"] == 123.0
    assert rows[3]["energy_delta_j"] == pytest.approx(300.0)  # rebuilt: 60 s at 5 W
