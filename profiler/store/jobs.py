"""`store.jobs`: the `job` table of `finwatt exec` runs.

A job's run (kind `job`) is an ordinary run with devices and samples; its `job` row holds
the command, exit status, tags, units and the job's attributed energy
(`profiler.model.job.JobRecord`).
"""

from __future__ import annotations

import json
import sqlite3

from profiler.model.job import JobRecord
from profiler.model.run import RunRecord
from profiler.store.rows import run_from_row
from profiler.store.transactions import Repository

_COLUMNS = (
    "run_id",
    "command",
    "exit_status",
    "units",
    "unit",
    "tags",
    "seconds",
    "dynamic_j",
    "idle_j",
    "idle_unallocated_j",
    "host_energy_j",
    "idle_share",
    "provenance",
    "cpu_s",
    "gpu_s",
    "peak_rss_bytes",
    "accounting",
    "details",
)
_JSON_COLUMNS = frozenset({"command", "tags", "details"})


class Jobs(Repository):
    """The `job` rows of a `Store` (`store.jobs`)."""

    def add(self, job: JobRecord) -> None:
        """Insert (or replace) a job run's row; the run must exist."""
        with self._transaction() as tx:
            insert_job(tx, job)

    def get(self, run_id: str) -> JobRecord | None:
        """Return one run's job row, or None when it has none."""
        row = self._conn.execute("SELECT * FROM job WHERE run_id = ?", (run_id,)).fetchone()
        return job_from_row(row) if row else None

    def since(self, since_iso: str) -> list[tuple[RunRecord, JobRecord]]:
        """Return the job runs started at or after `since_iso` with their rows, oldest first."""
        rows = self._conn.execute(
            "SELECT run.*, job.* FROM run JOIN job ON job.run_id = run.id "
            "WHERE run.started >= ? ORDER BY run.started, run.id",
            (since_iso,),
        )
        return [(run_from_row(r), job_from_row(r)) for r in rows]


def job_from_row(row: sqlite3.Row) -> JobRecord:
    """Return a `job` row as its record."""
    values = {c: row[c] for c in _COLUMNS}
    for c in _JSON_COLUMNS:
        values[c] = json.loads(values[c])
    return JobRecord(**values)


def insert_job(tx: sqlite3.Connection, job: JobRecord) -> None:
    """Insert (or replace) a job row inside the caller's transaction."""
    values = [
        json.dumps(getattr(job, c), sort_keys=True) if c in _JSON_COLUMNS else getattr(job, c)
        for c in _COLUMNS
    ]
    tx.execute(
        f"INSERT OR REPLACE INTO job ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_COLUMNS))})",
        values,
    )
