"""`store.housekeeping`: deleting old samples and rollups, measuring the file.

`profiler.store.retention` decides what to prune and reports sizes; the SQL is here.
"""

from __future__ import annotations

import sqlite3

from profiler.store.transactions import Repository

TABLES = (
    "run",
    "device",
    "sample",
    "sample_minute",
    "phase",
    "finding",
    "attribution_minute",
    "job",
)
"""The finwatt tables, in the order `table_rows` reports them."""


class Housekeeping(Repository):
    """Pruning and size queries on a `Store` (`store.housekeeping`)."""

    def delete_raw_before(self, run_id: str, minute: int) -> int:
        """Delete a run's raw samples in minutes before `minute` that have a rollup row.

        Returns the number of samples deleted. One transaction.
        """
        # here, not at the top: the rollup's numpy stays out of `finwatt runs`
        from profiler.store.rollup import MINUTE_S, minute_of_sql

        with self._transaction() as tx:
            cursor = tx.execute(
                f"DELETE FROM sample WHERE run_id = ? AND t < ? AND {minute_of_sql()} < ? "
                "AND EXISTS (SELECT 1 FROM sample_minute AS m WHERE m.run_id = sample.run_id "
                f"AND m.device_id = sample.device_id AND m.minute = {minute_of_sql('sample.t')})",
                (run_id, minute * MINUTE_S + 1.0, minute),
            )
            return int(cursor.rowcount)

    def delete_minutes_before(self, run_id: str, minute: int) -> int:
        """Delete a run's rollup rows of minutes before `minute`; return how many."""
        with self._transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM sample_minute WHERE run_id = ? AND minute < ?", (run_id, minute)
            )
            return int(cursor.rowcount)

    def table_rows(self) -> dict[str, int]:
        """Return the number of rows of each finwatt table."""
        return {
            name: int(self._conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            for name in TABLES
        }

    def table_bytes(self) -> dict[str, int] | None:
        """Return the bytes of pages each table and index holds (None without `dbstat`)."""
        try:
            rows = self._conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
            return {str(r[0]): int(r[1]) for r in rows}
        except sqlite3.OperationalError:
            return None

    def page_bytes(self) -> tuple[int, int]:
        """Return (bytes of all pages, bytes of free pages) of the main database file."""
        size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(self._conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
        return pages * size, free * size
