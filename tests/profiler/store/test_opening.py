"""`profiler.store.opening` and `failure_notes`: whose file it is, read-only stores."""

from __future__ import annotations

import sqlite3
import stat
import tempfile
from pathlib import Path

import pytest

from profiler.model.device import DeviceInfo
from profiler.store.database import Store
from profiler.store.failure_notes import leave_note, read_notes
from profiler.store.opening import (
    FINWATT_APPLICATION_ID,
    ForeignDatabaseError,
    MissingDatabaseError,
    connect,
)


def _app_id(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA application_id").fetchone()[0])
    finally:
        conn.close()


def test_a_new_store_is_0600_and_carries_the_finwatt_id(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db"):
        pass
    assert stat.S_IMODE((tmp_path / "f.db").stat().st_mode) == 0o600
    assert _app_id(tmp_path / "f.db") == FINWATT_APPLICATION_ID == 0x46574154


def test_an_empty_file_is_taken_as_a_new_database(tmp_path: Path) -> None:
    (tmp_path / "f.db").touch()
    with Store(tmp_path / "f.db") as store:
        assert store.runs.all() == []


@pytest.mark.parametrize("read_only", [False, True])
def test_other_files_are_refused_unchanged(tmp_path: Path, read_only: bool) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE run (x)")  # a name finwatt uses, without finwatt's others
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(ForeignDatabaseError, match="not finwatt's"):
        connect(other, read_only=read_only)
    assert other.read_bytes() == before


def test_a_read_only_store_never_creates_a_file(tmp_path: Path) -> None:
    with pytest.raises(MissingDatabaseError, match="no database"):
        Store(tmp_path / "missing.db", read_only=True)
    assert not (tmp_path / "missing.db").exists()


def test_a_read_only_store_reads_what_a_writer_commits(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as writer, Store(db, read_only=True) as reader:
        run = writer.runs.create("monitor", pid=0)
        assert [r.id for r in reader.runs.all()] == [run.id]
        assert reader.can_write  # a writable file: the derived writes may go through


def test_the_stale_sweep_marks_a_noted_run_failed_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    db = tmp_path / "f.db"
    with Store(db) as store:
        noted = store.runs.create("monitor", pid=2**22 + 1)
        killed = store.runs.create("monitor", pid=2**22 + 2)
        store.devices.add(noted.id, [DeviceInfo("cpu:0", "cpu")])
    assert leave_note(db, noted.id, "the disk is full", "2026-01-01T00:00:01.000Z")
    with Store(db, read_only=True) as store:
        marked = store.runs.mark_stale(alive=lambda pid: False)
        assert sorted(marked) == sorted([noted.id, killed.id])
        failed, interrupted = store.runs.get(noted.id), store.runs.get(killed.id)
        assert failed is not None and failed.status == "failed"
        assert failed.ended_iso == "2026-01-01T00:00:01.000Z"
        assert store.runs.status_reason(noted.id) == "the disk is full"
        assert interrupted is not None and interrupted.status == "interrupted"
    assert read_notes(db) == {}
