"""The job table and the migration that adds run kind `job` (docs/attribution.md)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.model.job import JobRecord
from profiler.store.database import Store
from profiler.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.profiler.store.job_records import job_record

JOB_MIGRATION = next(i for i, m in enumerate(MIGRATIONS) if "CREATE TABLE job" in m)


def _job(run_id: str) -> JobRecord:
    return job_record(run_id)


def test_a_job_row_round_trips_and_is_listed_with_its_run(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("job", label="var")
        store.jobs.add(_job(run.id))
        assert store.jobs.get(run.id) == _job(run.id)
        [(listed_run, listed_job)] = store.jobs.since("2000-01-01T00:00:00Z")
        assert listed_run.id == run.id and listed_run.kind == "job"
        assert listed_job.energy_j == pytest.approx(80.0)
        assert listed_job.j_per_unit == pytest.approx(0.08)
        assert store.jobs.since("2999-01-01T00:00:00Z") == []


def test_the_migration_keeps_every_run_and_its_samples(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for version in range(JOB_MIGRATION):
        conn.executescript(
            f"BEGIN;{MIGRATIONS[version]}PRAGMA user_version = {version + 1};COMMIT;"
        )
    conn.execute(
        "INSERT INTO run (id, kind, host, started, status, version) "
        "VALUES ('r1', 'monitor', 'h', '2026-11-01T00:00:00.000Z', 'complete', '0')"
    )
    conn.execute("INSERT INTO device (run_id, device_id, kind) VALUES ('r1', 'cpu:0', 'cpu')")
    conn.execute("INSERT INTO sample (run_id, device_id, t, energy_j) VALUES ('r1', 'cpu:0', 1, 5)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO run (id, kind, host, started, status, version) "
            "VALUES ('r2', 'job', 'h', '2026-11-01T00:00:00.000Z', 'complete', '0')"
        )
    conn.close()
    with Store(path) as store:
        assert store.runs.get("r1") is not None
        assert [s.energy_j for s in store.samples.sample_rows("r1")] == [5.0]
        assert [d.info.device_id for d in store.devices.for_run("r1")] == ["cpu:0"]
        assert store.runs.create("job").kind == "job"
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert check.execute("PRAGMA foreign_key_check").fetchall() == []
    check.close()


def test_deleting_a_job_run_deletes_its_job_row(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("job")
        store.jobs.add(_job(run.id))
        with store.transaction() as tx:
            tx.execute("DELETE FROM run WHERE id = ?", (run.id,))
        assert store.jobs.get(run.id) is None


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    # concurrent `finwatt exec` jobs on a fresh file: each open migrates unless another did
    opener = "import sys; from pathlib import Path; from profiler.store.database import Store; "
    opener += "Store(Path(sys.argv[1])).close()"
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.db"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", opener, str(path)], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        for process in processes:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
        with Store(path) as store:
            assert store.runs.all() == []
