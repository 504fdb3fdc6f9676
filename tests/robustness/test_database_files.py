"""Other programs' files, old finwatt files, read-only files and folders.

Through the real CLI. A file that is not a finwatt database is refused with one line
(exit 2) and left byte for byte as it was (no tables added, no switch to WAL, no `-wal`
or `-shm` beside it). Commands that only read open the database read-only, so they work
on a read-only file and in a read-only folder (a real tmpfs remounted read-only: even
root cannot write it).
"""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from profiler.model.attribution_rows import AttributionRow
from profiler.store.database import Store
from profiler.store.opening import FINWATT_APPLICATION_ID
from profiler.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.robustness._outputs_support import (
    assert_one_error_line,
    make_database,
    read_only_file,
    read_only_remount,
    run_finwatt,
    sha256,
    table_rows,
    tmpfs,
)

DOCUMENT = {"format": "not-an-interchange-document"}


def _commands(db: Path, tmp_path: Path) -> list[list[str]]:
    """Every command that opens the database, reading or writing."""
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(DOCUMENT))
    return [
        ["runs"],
        ["analyze"],
        ["report", "-o", str(tmp_path / "r.html")],
        ["export", "some-run"],
        ["trend"],
        ["db", "stats"],
        ["db", "prune"],
        ["import", str(doc)],
        ["monitor", "--duration", "1s", "--json"],
    ]


def _other_program_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE ledger (id INTEGER, amount REAL); INSERT INTO ledger VALUES (1, 2.5);"
    )
    conn.commit()
    conn.close()


def _foreign_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "sqlite": tmp_path / "other.db",
        "sqlite-with-id": tmp_path / "other-id.db",
        "text": tmp_path / "notes.txt",
        "binary": tmp_path / "blob.bin",
    }
    _other_program_db(files["sqlite"])
    _other_program_db(files["sqlite-with-id"])
    conn = sqlite3.connect(files["sqlite-with-id"])
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    files["text"].write_text("not a database\n" * 10)
    files["binary"].write_bytes(bytes(range(256)) * 20)
    return files


@pytest.mark.parametrize("kind", ["sqlite", "sqlite-with-id", "text", "binary"])
def test_a_file_that_is_not_finwatts_is_refused_and_unchanged(tmp_path: Path, kind: str) -> None:
    target = _foreign_files(tmp_path)[kind]
    before = sha256(target)
    commands = _commands(target, tmp_path)
    # every command on another program's SQLite file; a reader and writers on the rest
    for command in commands if kind == "sqlite" else commands[:1] + commands[-2:]:
        result = run_finwatt(*command, "--db", str(target))
        line = assert_one_error_line(result, 2)
        assert str(target) in line and "--db" in line, (command, line)
        assert sha256(target) == before, command
        assert not Path(f"{target}-wal").exists() and not Path(f"{target}-shm").exists()


def test_a_new_database_is_private_and_marked_finwatts(tmp_path: Path) -> None:
    db = tmp_path / "new" / "f.db"
    result = run_finwatt("monitor", "--duration", "1s", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for side in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert not side.exists() or stat.S_IMODE(side.stat().st_mode) == 0o600
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == FINWATT_APPLICATION_ID
    conn.close()


def test_an_older_finwatt_database_without_the_mark_is_adopted(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)  # what finwatt's schema version 1 wrote: no application_id
    conn.executescript(f"{MIGRATIONS[0]} PRAGMA user_version = 1;")
    conn.close()
    runs = run_finwatt("runs", "--json", "--db", str(db))
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout)["runs"] == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == FINWATT_APPLICATION_ID
    conn.close()


def test_a_read_command_on_a_missing_database_is_one_line_and_creates_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "none" / "f.db"
    for command in (["runs"], ["analyze"], ["export", "x"], ["trend"], ["db", "stats"]):
        line = assert_one_error_line(run_finwatt(*command, "--db", str(db)), 2)
        assert "no database" in line, (command, line)
    assert not db.parent.exists()


def _reads_work(db: Path, run_id: str, out: Path) -> None:
    before = sha256(db)
    rows = table_rows(db)
    for command in (
        ["runs", "--json"],
        ["analyze", run_id, "--json"],
        ["report", run_id, "-o", str(out / "r.html")],
        ["export", run_id, "-o", str(out / "e.json")],
        ["trend", "--json"],
        ["db", "stats", "--json"],
    ):
        result = run_finwatt(*command, "--db", str(db))
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr
    assert (out / "r.html").exists() and json.loads((out / "e.json").read_text())
    assert sha256(db) == before and table_rows(db) == rows


def test_read_commands_work_in_a_read_only_folder(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", 4096) as mount:
        db = mount / "f.db"
        run_id = make_database(db)
        read_only_remount(mount)
        _reads_work(db, run_id, tmp_path)
        line = assert_one_error_line(
            run_finwatt("monitor", "--duration", "1s", "--json", "--db", str(db)), 2
        )
        assert "read-only" in line and "--db" in line


def test_read_commands_work_on_a_read_only_file(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    run_id = make_database(db)
    with read_only_file(db):
        _reads_work(db, run_id, tmp_path)
        line = assert_one_error_line(
            run_finwatt("monitor", "--duration", "1s", "--json", "--db", str(db)), 2
        )
        assert "read-only" in line


def test_unsaved_pages_in_a_read_only_folder_are_one_line_not_stale_data(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", 4096) as mount:
        db = mount / "f.db"
        make_database(db)
        writer = sqlite3.connect(db)  # holds the WAL open: its pages stay in f.db-wal
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE run SET label = 'changed'")
        writer.commit()
        copy = tmp_path / "copy"
        copy.mkdir()
        for name in ("f.db", "f.db-wal"):
            (copy / name).write_bytes((mount / name).read_bytes())
        writer.close()
    with tmpfs(tmp_path / "ro", 4096) as mount:
        for name in ("f.db", "f.db-wal"):
            (mount / name).write_bytes((copy / name).read_bytes())
        read_only_remount(mount)
        line = assert_one_error_line(run_finwatt("runs", "--db", str(mount / "f.db")), 2)
        assert "f.db-wal" in line and "writable" in line


def _diff_and_chargeback_database(path: Path) -> tuple[str, str]:
    """Two monitor runs with inventories (one with attribution rows); return their ids."""
    before, after = make_database(path), make_database(path)
    with Store(path) as store:
        store.inventory.add(before, {"kernel": "6.1.0"})
        store.inventory.add(after, {"kernel": "6.2.0"})
        store.attribution.add(
            after,
            [AttributionRow(0, "cgroup", "docker:4f", "docker", "/docker/4f", 30.0, 20.0,
                            100.0, 10.0, "attributed:cpu-time(estimated:linear-tdp)")],
        )  # fmt: skip
    return before, after


def _diff_and_chargeback_read(db: Path, before: str, after: str) -> None:
    """`runs --diff` and `chargeback` answer, and the database is not modified."""
    digest, rows = sha256(db), table_rows(db)
    diff = run_finwatt("runs", "--diff", before, after, "--json", "--db", str(db))
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["changed"] == [
        {"item": "kernel", "before": "6.1.0", "after": "6.2.0"}
    ]
    for by in ("command", "cgroup"):
        charged = run_finwatt("chargeback", "--by", by, "--json", "--db", str(db))
        assert charged.returncode == 0, (by, charged.stderr)
        groups = {r["group"] for r in json.loads(charged.stdout)["rows"]}
        assert "idle" in groups and (by != "cgroup" or "docker:4f" in groups), (by, groups)
    assert sha256(db) == digest and table_rows(db) == rows


def test_diff_and_chargeback_on_a_missing_database_are_one_line_and_create_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "none" / "f.db"
    for command in (["runs", "--diff", "a", "b"], ["chargeback"], ["chargeback", "--by", "cgroup"]):
        line = assert_one_error_line(run_finwatt(*command, "--db", str(db)), 2)
        assert "no database" in line and "--db" in line, (command, line)
    assert not db.parent.exists()


def test_diff_and_chargeback_work_on_a_read_only_file(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    before, after = _diff_and_chargeback_database(db)
    with read_only_file(db):
        _diff_and_chargeback_read(db, before, after)


def test_diff_and_chargeback_work_in_a_read_only_folder(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", 4096) as mount:
        db = mount / "f.db"
        before, after = _diff_and_chargeback_database(db)
        read_only_remount(mount)
        _diff_and_chargeback_read(db, before, after)
