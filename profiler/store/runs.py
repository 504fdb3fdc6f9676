"""`store.runs`: the `run` table: create, import, finish, read and sweep stale runs.

A run row (`profiler.model.run.RunRecord`) is written when a recording starts
(`create`) or a whole run is imported (`add`, with its devices, samples, phases,
findings, job and inventory in one transaction), and closed by `finish`. A run whose
process died without closing it is marked by the next command's `mark_stale`.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from profiler.files.version import finwatt_version
from profiler.model.device import DeviceRecord
from profiler.model.job import JobRecord
from profiler.model.run import PhaseRecord, RunKind, RunRecord, RunStatus
from profiler.model.units import epoch_s, epoch_to_iso, parse_iso
from profiler.store.failure_notes import FailureNote, read_notes, remove_note
from profiler.store.inventory import insert_inventory
from profiler.store.jobs import insert_job
from profiler.store.opening import StoreError, writable
from profiler.store.rollup import refresh_minutes
from profiler.store.rows import (
    insert_devices,
    insert_findings,
    insert_phases,
    insert_run,
    insert_sample_values,
    run_from_row,
)
from profiler.store.stamps import new_run_id, pid_alive, utc_now_iso
from profiler.store.transactions import Repository

log = logging.getLogger(__name__)


class Runs(Repository):
    """The `run` rows of a `Store` (`store.runs`).

    Args:
        conn: the store's reading connection.
        writer: returns the store's writing connection.
        path: the database file (failure notes are keyed by it; errors name it).
        read_only: the store reads through a `mode=ro` connection.

    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        writer: Callable[[], sqlite3.Connection],
        *,
        path: Path,
        read_only: bool,
    ) -> None:
        super().__init__(conn, writer)
        self._path = path
        self._read_only = read_only

    def create(
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
        with self._transaction() as tx:
            insert_run(tx, record)
        return record

    def add(
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
        with self._transaction() as tx:
            if tx.execute("SELECT 1 FROM run WHERE id = ?", (run.id,)).fetchone():
                if if_taken is None:
                    raise StoreError(f"database {self._path} already has a run {run.id}")
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

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        *,
        ended: str | None = None,
        missed_ticks: int = 0,
        reason: str | None = None,
    ) -> None:
        """Set a run's final status, end time, missed-tick count and why it ended so."""
        with self._transaction() as tx:
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

    def get(self, run_id: str) -> RunRecord | None:
        """Return one run, or None."""
        row = self._conn.execute("SELECT * FROM run WHERE id = ?", (run_id,)).fetchone()
        return run_from_row(row) if row else None

    def all(self, *, limit: int | None = None) -> list[RunRecord]:
        """Return runs newest first."""
        sql = "SELECT * FROM run ORDER BY started DESC, id DESC"
        rows = self._conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""))
        return [run_from_row(r) for r in rows]

    def mark_stale(self, *, alive: Callable[[int], bool] | None = None) -> list[str]:
        """Mark `running` runs of this host whose process is gone as `interrupted`.

        A run killed with SIGKILL stays `running` in the file; the next finwatt command
        notices its pid no longer exists and marks it. A run whose recorder left a
        failure note (`profiler.store.failure_notes`: even closing it failed, e.g. on a
        full disk) is marked `failed` with the note's reason and time instead, even while
        its process lives on (the scheduler daemon, hostile input). Returns the ids marked.
        """
        if self._read_only and not writable(self._path):
            return []  # a database this process cannot write: the next writer marks them
        is_alive = alive or pid_alive
        host = socket.gethostname()
        notes = read_notes(self._path)
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
                if not self._read_only:
                    raise
                log.info("stale runs not marked (%s); the next writer marks them", err)
                return []
            for note in notes.values():
                remove_note(note)
        return stale

    def _mark_stale(self, stale: list[str], notes: dict[str, FailureNote]) -> None:
        """Mark `stale` runs `failed` (those with a note) or `interrupted`, in one transaction."""
        with self._transaction() as tx:
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

    def since(self, since_iso: str, kinds: tuple[str, ...]) -> list[RunRecord]:
        """Return runs of `kinds` ending at or after `since_iso` (or running), oldest first."""
        marks = ", ".join("?" * len(kinds))
        rows = self._conn.execute(
            f"SELECT * FROM run WHERE kind IN ({marks}) AND (ended IS NULL OR ended >= ?) "
            "ORDER BY started, id",
            (*kinds, since_iso),
        )
        return [run_from_row(r) for r in rows]


def _iso_plus(started: str, seconds: float) -> str:
    return epoch_to_iso(epoch_s(started) + seconds, "milliseconds")
