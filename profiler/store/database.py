"""A finwatt SQLite database (WAL mode): runs, devices, samples, phases and findings.

`Store` opens (and migrates, `profiler.store.schema`) one database file and is the one
way the rest of finwatt reads and writes it. Its writes go through the record <-> row
mapping of `profiler.store.rows`; every write of samples also keeps their minute
rollups up to date (`profiler.store.rollup`). Sample and rollup reads come from its base
`SampleReads`, pruning and size queries from `Housekeeping`. The recorder writes
through a `SampleWriter` (`profiler.store.writer`), which commits at most one second of
samples per transaction, so a crash or SIGKILL loses at most the last second.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from profiler.files.version import finwatt_version
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.findings import Finding
from profiler.model.job import JobRecord
from profiler.model.run import PhaseRecord, RunKind, RunRecord, RunStatus
from profiler.model.samples import SampleRow
from profiler.model.units import epoch_s, epoch_to_iso, parse_iso
from profiler.store.attribution import AttributionRows
from profiler.store.failure_notes import FailureNote, read_notes, remove_note
from profiler.store.housekeeping import Housekeeping
from profiler.store.inventory import InventoryRows, insert_inventory
from profiler.store.jobs import JobRows, insert_job
from profiler.store.opening import StoreError, connect, mark_finwatt, writable
from profiler.store.rollup import refresh_minutes
from profiler.store.rows import (
    device_from_row,
    finding_from_row,
    insert_devices,
    insert_findings,
    insert_phases,
    insert_run,
    insert_sample_values,
    insert_samples,
    phase_from_row,
    run_from_row,
    update_device_status,
)
from profiler.store.sample_reads import SampleReads
from profiler.store.schema import MIGRATIONS, SCHEMA_VERSION
from profiler.store.stamps import new_run_id, pid_alive, utc_now_iso
from profiler.store.transactions import Snapshot, Transaction

log = logging.getLogger(__name__)


class Store(SampleReads, Housekeeping, JobRows, AttributionRows, InventoryRows):
    """A finwatt SQLite database. One instance per thread (sqlite3 connections are not shared).

    Only a finwatt database is opened (`profiler.store.opening`: another program's file is
    refused unchanged); a new one is created 0600.

    Args:
        path: database file; its folder is created if missing (not when `read_only`).
        read_only: read through a `mode=ro` connection: the file must exist, is never
            created, migrated or switched to WAL, and may be read-only or in a read-only
            folder. `transaction()` then opens a second, writing connection, only when the
            file is writable (`can_write`).

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

    # --- runs -----------------------------------------------------------------------

    def create_run(
        self,
        kind: RunKind,
        *,
        label: str | None = None,
        config: dict[str, Any] | None = None,
        interval_s: float | None = None,
        run_id: str | None = None,
        started: str | None = None,
        host: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        pid: int | None = None,
    ) -> RunRecord:
        """Insert a new run (status `running` by default) and return it."""
        record = RunRecord(
            id=run_id or new_run_id(),
            kind=kind,
            label=label,
            host=host or socket.gethostname(),
            started=parse_iso(started or utc_now_iso()),
            ended=None,
            status=status,
            config=config or {},
            version=finwatt_version(),
            pid=os.getpid() if pid is None and status == RunStatus.RUNNING else pid,
            interval_s=interval_s,
        )
        with self.transaction() as tx:
            insert_run(tx, record)
        return record

    def add_run(
        self,
        run: RunRecord,
        *,
        devices: Iterable[DeviceRecord],
        samples: Iterable[Iterable[Any]],
        phases: Iterable[PhaseRecord] = (),
        findings: Iterable[dict[str, Any]] = (),
        if_taken: Callable[[RunRecord], RunRecord] | None = None,
        job: Callable[[str], JobRecord] | None = None,
        inventory: Mapping[str, str | None] | None = None,
    ) -> RunRecord:
        """Store a whole run (an import) in one transaction; return the record stored.

        Args:
            run: the run row.
            devices: its devices.
            samples: its samples as values in `rows.SAMPLE_COLUMNS` order (device_id, t,
                METRICS), consumed lazily; their rollups are computed in the same
                transaction.
            phases: its phases.
            findings: its findings in the shape of docs/design.md#findings.
            if_taken: when `run.id` is already stored, called with `run` and returns
                the record to store instead (a fresh id); without it a taken id raises.
            job: for a job run, returns its `job` row given the id stored.
            inventory: the run's inventory (audit trail), if it has one.

        Raises:
            StoreError: `run.id` is taken and `if_taken` is None.

        """
        with self.transaction() as tx:
            if tx.execute("SELECT 1 FROM run WHERE id = ?", (run.id,)).fetchone():
                if if_taken is None:
                    raise StoreError(f"database {self.path} already has a run {run.id}")
                run = if_taken(run)
            insert_run(tx, run)
            insert_devices(tx, run.id, devices)
            insert_sample_values(tx, run.id, samples)
            refresh_minutes(tx, run.id)
            insert_phases(tx, run.id, phases)
            insert_findings(tx, run.id, findings)
            if job is not None:
                insert_job(tx, job(run.id))
            if inventory:
                insert_inventory(tx, run.id, inventory)
        return run

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        ended: str | None = None,
        missed_ticks: int = 0,
        reason: str | None = None,
    ) -> None:
        """Set a run's final status, end time, missed-tick count and why it ended so."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE run SET status = ?, ended = ?, missed_ticks = ?, status_reason = ? "
                "WHERE id = ?",
                (status, ended or utc_now_iso(), missed_ticks, reason, run_id),
            )

    def status_reason(self, run_id: str) -> str | None:
        """Return why a run ended `failed` or `interrupted`, where that was recorded."""
        row = self._conn.execute("SELECT status_reason FROM run WHERE id = ?", (run_id,))
        found = row.fetchone()
        return None if found is None else found[0]

    def get_run(self, run_id: str) -> RunRecord | None:
        """Return one run, or None."""
        row = self._conn.execute("SELECT * FROM run WHERE id = ?", (run_id,)).fetchone()
        return run_from_row(row) if row else None

    def list_runs(self, *, limit: int | None = None) -> list[RunRecord]:
        """Return runs newest first."""
        sql = "SELECT * FROM run ORDER BY started DESC, id DESC"
        rows = self._conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""))
        return [run_from_row(r) for r in rows]

    def mark_stale_runs(self, *, alive: Callable[[int], bool] | None = None) -> list[str]:
        """Mark `running` runs of this host whose process is gone as `interrupted`.

        A run killed with SIGKILL stays `running` in the file; the next finwatt command
        notices its pid no longer exists and marks it. A run whose recorder left a
        failure note (`profiler.store.failure_notes`: even closing it failed, e.g. on a
        full disk) is marked `failed` with the note's reason and time instead, even while
        its process lives on (the scheduler daemon, hostile input). Returns the ids marked.
        """
        if not self.can_write:
            return []  # a database this process cannot write: the next writer marks them
        is_alive = alive or pid_alive
        host = socket.gethostname()
        notes = read_notes(self.path)
        stale = [
            row["id"]
            for row in self._conn.execute(
                "SELECT id, pid FROM run WHERE status = 'running' AND host = ?", (host,)
            )
            if row["id"] in notes or row["pid"] is None or not is_alive(int(row["pid"]))
        ]
        if stale:
            try:
                self._mark_stale(stale, notes)
            except sqlite3.OperationalError as err:
                if not self.read_only:
                    raise
                log.info("stale runs not marked (%s); the next writer marks them", err)
                return []
            for note in notes.values():
                remove_note(note)
        return stale

    def _mark_stale(self, stale: list[str], notes: dict[str, FailureNote]) -> None:
        """Mark `stale` runs `failed` (those with a note) or `interrupted`, in one transaction."""
        with self.transaction() as tx:
            for run_id in stale:
                if run_id in notes:
                    note = notes[run_id]
                    tx.execute(
                        "UPDATE run SET status = 'failed', ended = ?, status_reason = ? "
                        "WHERE id = ?",
                        (note.ended, note.reason, run_id),
                    )
                    continue
                last = tx.execute("SELECT max(t) FROM sample WHERE run_id = ?", (run_id,))
                started = tx.execute("SELECT started FROM run WHERE id = ?", (run_id,))
                last, started = last.fetchone()[0], started.fetchone()[0]
                ended = _iso_plus(started, last) if last is not None else started
                tx.execute(
                    "UPDATE run SET status = 'interrupted', ended = ?, status_reason = ? "
                    "WHERE id = ?",
                    (ended, "its process ended without closing the run", run_id),
                )

    # --- devices --------------------------------------------------------------------

    def add_devices(self, run_id: str, devices: Iterable[DeviceInfo]) -> None:
        """Insert the run's device records (status ok)."""
        with self.transaction() as tx:
            insert_devices(tx, run_id, (DeviceRecord(d) for d in devices))

    def set_device_status(
        self, run_id: str, device_id: str, status: str, reason: str | None
    ) -> None:
        """Record a device's health (ok, degraded, lost) and why."""
        with self.transaction() as tx:
            update_device_status(tx, run_id, device_id, status, reason)

    def devices(self, run_id: str) -> list[DeviceRecord]:
        """Return a run's devices in id order."""
        rows = self._conn.execute(
            "SELECT * FROM device WHERE run_id = ? ORDER BY device_id", (run_id,)
        )
        return [device_from_row(r) for r in rows]

    # --- samples (reads: `SampleReads`) ---------------------------------------------

    def add_samples(self, run_id: str, rows: Sequence[SampleRow]) -> None:
        """Insert sample rows and update their minutes' rollups in one transaction."""
        ranges: dict[str, tuple[float, float]] = {}
        for r in rows:
            lo, hi = ranges.get(r.device_id, (r.t, r.t))
            ranges[r.device_id] = (min(lo, r.t), max(hi, r.t))
        with self.transaction() as tx:
            insert_samples(tx, run_id, rows)
            for device_id, t_range in ranges.items():
                refresh_minutes(tx, run_id, device_id, t_range)

    # --- phases ---------------------------------------------------------------------

    def add_phase(self, run_id: str, phase: PhaseRecord) -> None:
        """Insert one phase record."""
        with self.transaction() as tx:
            insert_phases(tx, run_id, [phase])

    def replace_phases(self, run_id: str, phases: Sequence[PhaseRecord]) -> None:
        """Replace all of a run's phases in one transaction (after their figures are added)."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM phase WHERE run_id = ?", (run_id,))
            insert_phases(tx, run_id, phases)

    def phases(self, run_id: str) -> list[PhaseRecord]:
        """Return a run's phases in start order."""
        rows = self._conn.execute(
            "SELECT * FROM phase WHERE run_id = ? ORDER BY t_start, id", (run_id,)
        )
        return [phase_from_row(r) for r in rows]

    # --- findings -------------------------------------------------------------------

    def add_findings(
        self,
        run_id: str | None,
        findings: Sequence[Finding],
        *,
        window_start: str | None = None,
        window_end: str | None = None,
    ) -> None:
        """Replace the findings of a run (or of a `--since` window) in one transaction.

        Each is stored as its JSON shape (`Finding.as_dict`), one column per key.
        """
        with self.transaction() as tx:
            if run_id is not None:
                tx.execute("DELETE FROM finding WHERE run_id = ?", (run_id,))
            else:
                tx.execute(
                    "DELETE FROM finding WHERE run_id IS NULL AND window_start IS ? "
                    "AND window_end IS ?",
                    (window_start, window_end),
                )
            documents = [f.as_dict() for f in findings]
            insert_findings(tx, run_id, documents, window_start, window_end)

    def findings(
        self,
        run_id: str | None,
        *,
        window_start: str | None = None,
        window_end: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return stored findings of a run (or `--since` window) as docs/design.md#findings.

        Objects, not `Finding` records: an imported run's findings keep what the
        interchange format allows and the analyzer never writes (a null device or
        confidence, a savings object of another shape), and export gives them back as
        they came.
        """
        if run_id is not None:
            rows = self._conn.execute(
                "SELECT * FROM finding WHERE run_id = ? ORDER BY id", (run_id,)
            )
        else:
            rows = self._conn.execute(
                "SELECT * FROM finding WHERE run_id IS NULL AND window_start IS ? "
                "AND window_end IS ? ORDER BY id",
                (window_start, window_end),
            )
        return [finding_from_row(r) for r in rows]


def _iso_plus(started: str, seconds: float) -> str:
    return epoch_to_iso(epoch_s(started) + seconds, "milliseconds")
