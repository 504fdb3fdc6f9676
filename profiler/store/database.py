"""A finwatt SQLite database (WAL mode): one connection and its small repositories.

`Store` opens (and migrates, `profiler.store.schema`) one database file and is the one
way the rest of finwatt reads and writes it. It keeps the connection, the migrations,
transactions and its own lifecycle; the reads and writes are its repositories, one
class per table (or job) sharing its connection: `store.runs` (`runs.Runs`),
`store.devices`, `store.phases`, `store.findings`, `store.jobs`, `store.attribution`,
`store.inventory`, `store.samples` (samples and their minute rollups) and
`store.housekeeping` (pruning and size queries). Writes go through the record <-> row
mapping of `profiler.store.rows`; every write of samples also keeps their minute
rollups up to date (`profiler.store.rollup`). The recorder writes through a
`SampleWriter` (`profiler.store.writer`), which commits at most one second of samples
per transaction, so a crash or SIGKILL loses at most the last second.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from profiler.store.attribution import Attribution
from profiler.store.devices import Devices
from profiler.store.findings import Findings
from profiler.store.housekeeping import Housekeeping
from profiler.store.inventory import Inventory
from profiler.store.jobs import Jobs
from profiler.store.opening import StoreError, connect, mark_finwatt, writable
from profiler.store.phases import Phases
from profiler.store.runs import Runs
from profiler.store.samples import Samples
from profiler.store.schema import MIGRATIONS, SCHEMA_VERSION
from profiler.store.transactions import Snapshot, Transaction

log = logging.getLogger(__name__)


class Store:
    """A finwatt SQLite database. One instance per thread (sqlite3 connections are not shared).

    Only a finwatt database is opened (`profiler.store.opening`: another program's file is
    refused unchanged); a new one is created 0600.

    Args:
        path: database file; its folder is created if missing (not when `read_only`).
        read_only: read through a `mode=ro` connection: the file must exist, is never
            created, migrated or switched to WAL, and may be read-only or in a read-only
            folder. `transaction()` (or a repository's write) then opens a second,
            writing connection, only when the file is writable (`can_write`).

    Attributes:
        runs: the `run` rows (`profiler.store.runs.Runs`).
        devices: each run's devices (`profiler.store.devices.Devices`).
        samples: samples and their minute rollups (`profiler.store.samples.Samples`).
        phases: each run's phases (`profiler.store.phases.Phases`).
        findings: each run's or window's findings (`profiler.store.findings.Findings`).
        jobs: the `job` rows of `finwatt exec` runs (`profiler.store.jobs.Jobs`).
        attribution: `monitor --attribute`'s minutes
            (`profiler.store.attribution.Attribution`).
        inventory: what each run ran on (`profiler.store.inventory.Inventory`).
        housekeeping: pruning and size queries
            (`profiler.store.housekeeping.Housekeeping`).

    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._write_conn: sqlite3.Connection | None = None
        self._conn = connect(path, read_only=read_only)
        self._conn.row_factory = sqlite3.Row
        try:
            if read_only:
                self._check_version(int(self._conn.execute("PRAGMA user_version").fetchone()[0]))
            else:
                self._prepare(self._conn)
        except sqlite3.DatabaseError as err:
            self.close()
            raise StoreError(
                f"cannot use database {path}: {err}; is it a finwatt database?"
            ) from err
        except BaseException:
            self.close()
            raise
        conn, writer = self._conn, self._writer
        self.runs = Runs(conn, writer, path=path, read_only=read_only)
        self.devices = Devices(conn, writer)
        self.samples = Samples(conn, writer)
        self.phases = Phases(conn, writer)
        self.findings = Findings(conn, writer)
        self.jobs = Jobs(conn, writer)
        self.attribution = Attribution(conn, writer)
        self.inventory = Inventory(conn, writer)
        self.housekeeping = Housekeeping(conn, writer)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Set a writing connection's modes, migrate the file and mark it finwatt's."""
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate(conn)
        mark_finwatt(conn)

    def _check_version(self, current: int) -> None:
        """Refuse to read a schema other than this finwatt's (read-only: no migration)."""
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {current}, newer than this "
                f"finwatt ({SCHEMA_VERSION}); upgrade finwatt"
            )
        if current < SCHEMA_VERSION:
            if not writable(self.path):
                raise StoreError(
                    f"database {self.path} has schema version {current}, older than this "
                    f"finwatt's ({SCHEMA_VERSION}), and is read-only here; run any finwatt "
                    "command on it once where it is writable to upgrade it"
                )
            self._prepare(self._writer())  # upgrade in place, then read as usual

    @property
    def can_write(self) -> bool:
        """True when this store may write: opened for writing, or a writable file."""
        return not self.read_only or writable(self.path)

    def _writer(self) -> sqlite3.Connection:
        """The writing connection; a read-only store opens one the first time it writes."""
        if not self.read_only:
            return self._conn
        if self._write_conn is None:
            conn = connect(self.path, read_only=False)
            conn.row_factory = sqlite3.Row
            self._write_conn = conn
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
        return self._write_conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {current}, newer than this "
                f"finwatt ({SCHEMA_VERSION}); upgrade finwatt"
            )
        # A migration may rebuild a table others reference (SQLite's 12-step ALTER): with
        # foreign keys on, dropping the old table would cascade-delete its children.
        conn.execute("PRAGMA foreign_keys=OFF")
        version = current
        while version < SCHEMA_VERSION:
            # executescript commits any open transaction first, so the script carries its
            # own BEGIN/COMMIT: a migration and its version bump land together or not at all.
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;{MIGRATIONS[version]}"
                    f"PRAGMA user_version = {version + 1};COMMIT;"
                )
            except sqlite3.OperationalError:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                # Two finwatt processes opening a new file at once: the other migrated it
                # while this one waited for the write lock (concurrent jobs, docs/attribution.md).
                now = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if now <= version:
                    raise
                version = now
                continue
            version += 1
        conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        """Close the connection (and the writing one a read-only store may have opened)."""
        self._conn.close()
        if self._write_conn is not None:
            self._write_conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> Transaction:
        """Return a context manager running its body in one write transaction."""
        return Transaction(self._writer())

    def snapshot(self) -> Snapshot:
        """Return a context manager making the reads of its body one consistent view.

        An export reads a run's rows and millions of its samples inside one, so a
        recorder committing meanwhile changes nothing it writes out.
        """
        return Snapshot(self._conn)
