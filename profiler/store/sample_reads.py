"""`Store`'s reads of raw samples and minute rollups (a base class of `Store`).

Analysis, reports, trend and export read samples in the shape they need: records for
small runs, float64 numpy columns or plain row tuples for long histories (millions of
rows without a Python object each), rollup rows for runs read by the minute.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from profiler.model.samples import METRICS, SampleRow
from profiler.store.rollup import MINUTE_COLUMNS, MINUTE_S
from profiler.store.rows import SAMPLE_COLUMNS, sample_from_row

EXPORT_BATCH_ROWS = 50_000
"""Rows per batch of `sample_values`: enough to amortise calls, a few tens of MB at most."""


def _from(min_t: float | None) -> float:
    return float("-inf") if min_t is None else min_t


class SampleReads:
    """Reads of the `sample` and `sample_minute` tables; `Store` supplies the connection."""

    _conn: sqlite3.Connection

    def samples(self, run_id: str, device_id: str | None = None) -> list[SampleRow]:
        """Return a run's samples ordered by device then time."""
        sql = "SELECT * FROM sample WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if device_id is not None:
            sql += " AND device_id = ?"
            args += (device_id,)
        rows = self._conn.execute(sql + " ORDER BY device_id, t", args)
        return [sample_from_row(r) for r in rows]

    def sample_arrays(self, run_id: str, device_id: str) -> dict[str, np.ndarray[Any, Any]]:
        """Return one device's samples as float64 numpy columns (`t` and METRICS).

        Nulls become NaN. One query, no per-row Python objects: for long histories.
        """
        columns = ("t", *METRICS)
        cursor = self._conn.execute(
            f"SELECT {', '.join(columns)} FROM sample WHERE run_id = ? AND device_id = ? "
            "ORDER BY t",
            (run_id, device_id),
        )
        cursor.row_factory = None
        rows = cursor.fetchall()
        data = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
        return {name: data[:, i] for i, name in enumerate(columns)}

    def sample_values(
        self, run_id: str, columns: Sequence[str], *, batch_rows: int = EXPORT_BATCH_ROWS
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Yield a run's samples as lists of value tuples, by device then time (export).

        Args:
            run_id: the run.
            columns: which values, in which order: names of `SAMPLE_COLUMNS`.
            batch_rows: rows per yielded list.

        Raises:
            ValueError: a name is not a sample column.

        """
        unknown = set(columns) - set(SAMPLE_COLUMNS)
        if unknown:
            raise ValueError(f"not sample columns: {sorted(unknown)}")
        cursor = self._conn.cursor()
        cursor.row_factory = None
        cursor.arraysize = batch_rows
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM sample "
            "WHERE run_id = ? ORDER BY device_id, t, rowid",
            (run_id,),
        )
        while rows := cursor.fetchmany():
            yield rows

    def sample_columns(
        self, run_id: str, device_id: str, *, min_t: float | None = None
    ) -> Iterator[tuple[float | None, ...]]:
        """Yield (t, util, power_w, energy_j, mem_used_bytes, sm_active) rows in time order.

        One indexed query per device: the analyzer reads millions of rows straight into
        numpy from this cursor without building a `SampleRow` each. `min_t` skips rows
        before that many seconds after run start.
        """
        cursor = self._conn.execute(
            "SELECT t, util, power_w, energy_j, mem_used_bytes, sm_active FROM sample "
            "WHERE run_id = ? AND device_id = ? AND t >= ? ORDER BY t",
            (run_id, device_id, _from(min_t)),
        )
        cursor.row_factory = None
        return iter(cursor)

    def minute_columns(
        self, run_id: str, device_id: str, *, min_t: float | None = None
    ) -> Iterator[tuple[float | None, ...]]:
        """Yield one device's rollup rows in time order, as the analyzer reads them.

        Each row is (minute start s, samples, util samples, mean util, max util, mean
        power W, energy J, seconds that energy covers, max memory bytes, SM samples, mean
        SM activity); means are NULL where the minute has no such value. `min_t` skips
        minutes with a sample before that many seconds after run start.
        """
        cursor = self._conn.execute(
            f"SELECT minute * {MINUTE_S!r}, n, util_n, util_sum / util_n, util_max, "
            "power_sum / power_n, energy_delta_j, energy_s, mem_max_bytes, sm_n, sm_sum / sm_n "
            "FROM sample_minute WHERE run_id = ? AND device_id = ? AND t_first >= ? "
            "ORDER BY minute",
            (run_id, device_id, _from(min_t)),
        )
        cursor.row_factory = None
        return iter(cursor)

    def minute_rows(self, run_id: str, device_id: str) -> list[dict[str, Any]]:
        """Return one device's `sample_minute` rows (MINUTE_COLUMNS) in minute order."""
        rows = self._conn.execute(
            f"SELECT {', '.join(MINUTE_COLUMNS)} FROM sample_minute "
            "WHERE run_id = ? AND device_id = ? ORDER BY minute",
            (run_id, device_id),
        )
        return [dict(r) for r in rows]

    def minute_resets(self, run_id: str, device_id: str) -> int:
        """Return how many counter resets a device's rollups dropped (issue 13)."""
        row = self._conn.execute(
            "SELECT total(resets_n) FROM sample_minute WHERE run_id = ? AND device_id = ?",
            (run_id, device_id),
        ).fetchone()
        return int(row[0])

    def first_sample_t(self, run_id: str) -> float | None:
        """Return the time of a run's first raw sample (seconds since start), or None."""
        first = self._conn.execute("SELECT min(t) FROM sample WHERE run_id = ?", (run_id,))
        value = first.fetchone()[0]
        return None if value is None else float(value)

    def minute_span(
        self, run_id: str, *, min_t: float | None = None
    ) -> tuple[float | None, float | None]:
        """Return (first, last) sample t of a run's rollups, from `min_t` on if given."""
        row = self._conn.execute(
            "SELECT min(t_first), max(t_last) FROM sample_minute WHERE run_id = ? AND t_first >= ?",
            (run_id, _from(min_t)),
        ).fetchone()
        return row[0], row[1]

    def time_bounds(self, run_id: str, device_id: str) -> dict[str, float | None]:
        """Return the first and last t of a device's raw samples and of its rollups."""
        conn = self._conn
        key = (run_id, device_id)
        one = "SELECT {} FROM {} WHERE run_id = ? AND device_id = ? ORDER BY {} LIMIT 1"

        def first(sql: str) -> float | None:
            row = conn.execute(sql, key).fetchone()
            return None if row is None else float(row[0])

        return {
            "raw_first": first(one.format("t", "sample", "t")),
            "raw_last": first(one.format("t", "sample", "t DESC")),
            "minute_first": first(one.format("t_first", "sample_minute", "minute")),
            "minute_last": first(one.format("t_last", "sample_minute", "minute DESC")),
        }
