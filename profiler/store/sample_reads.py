"""`Store`'s reads of raw samples and minute rollups (a base class of `Store`).

Analysis, reports, trend and the live view read one `DeviceSeries` per device (`series`,
raw or by the minute); export streams plain row tuples (`sample_values`: millions of rows
without a Python object each).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from profiler.model.samples import SampleRow
from profiler.store.rollup import MINUTE_S
from profiler.store.rows import SAMPLE_COLUMNS, sample_from_row

if TYPE_CHECKING:
    from profiler.model.device import DeviceInfo
    from profiler.model.series import DeviceSeries

# numpy (and the series built on it) is imported in the reads that use it, so a command
# that only lists runs (`finwatt runs`) opens the store without it
_RAW_FIELDS = ("t", "util", "power_w", "energy_j", "mem_used_bytes", "sm_active")
_MINUTE_FIELDS = (
    "t",
    "n",
    "util_n",
    "util",
    "util_peak",
    "power_w",
    "energy_delta_j",
    "energy_s",
    "mem_used_bytes",
    "sm_n",
    "sm_active",
    "resets_n",
)

EXPORT_BATCH_ROWS = 50_000
"""Rows per batch of `sample_values`: enough to amortise calls, a few tens of MB at most."""


def _from(min_t: float | None) -> float:
    return float("-inf") if min_t is None else min_t


class SampleReads:
    """Reads of the `sample` and `sample_minute` tables; `Store` supplies the connection."""

    _conn: sqlite3.Connection

    def sample_rows(self, run_id: str, device_id: str | None = None) -> list[SampleRow]:
        """Return a run's raw sample rows (`SampleRow`), ordered by device then time."""
        sql = "SELECT * FROM sample WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if device_id is not None:
            sql += " AND device_id = ?"
            args += (device_id,)
        rows = self._conn.execute(sql + " ORDER BY device_id, t", args)
        return [sample_from_row(r) for r in rows]

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

    def series(
        self,
        run_id: str,
        device: DeviceInfo,
        *,
        source: Literal["raw", "minute"] = "raw",
        min_t: float | None = None,
    ) -> DeviceSeries:
        """Return one device's samples of a run as one `DeviceSeries`, `t` since run start.

        One indexed query, straight into numpy (no `SampleRow` per sample). `"raw"`: an
        entry per sample, each interval's energy by `interval_energy` with the run's hold
        (`run_hold_s` of its stated interval, as its rollups use; else the median step).
        `"minute"`: an entry per rollup minute, placed at the minute's start
        (`profiler.model.series` states the convention). `min_t` skips samples (minutes
        whose first sample is) before that many seconds after run start; a raw read
        from `min_t` > 0 leaves its first interval's energy unknown (the sample before
        it is not read).
        """
        if source == "minute":
            return self._minute_series(run_id, device, _from(min_t))
        import numpy as np

        from profiler.model.energy import run_hold_s
        from profiler.model.series import device_series

        cursor = self._conn.execute(
            "SELECT t, util, power_w, energy_j, mem_used_bytes, sm_active FROM sample "
            "WHERE run_id = ? AND device_id = ? AND t >= ? ORDER BY t",
            (run_id, device.device_id, _from(min_t)),
        )
        cursor.row_factory = None
        rows = np.fromiter(cursor, dtype=np.dtype([(name, "f8") for name in _RAW_FIELDS]))
        stated = self._conn.execute("SELECT interval_s FROM run WHERE id = ?", (run_id,))
        interval = stated.fetchone()
        series = device_series(
            device,
            rows["t"],
            util=rows["util"],
            power_w=rows["power_w"],
            energy_j=rows["energy_j"],
            mem_used_bytes=rows["mem_used_bytes"],
            sm_active=rows["sm_active"],
            hold=run_hold_s(None if interval is None else interval[0]),
        )
        if min_t is not None and min_t > 0 and series.n:
            series.energy_delta_j[0] = np.nan
        return series

    def _minute_series(self, run_id: str, device: DeviceInfo, min_t: float) -> DeviceSeries:
        import numpy as np

        from profiler.model.series import DeviceSeries

        cursor = self._conn.execute(
            f"SELECT minute * {MINUTE_S!r}, n, util_n, util_sum / util_n, util_max, "
            "power_sum / power_n, energy_delta_j, energy_s, mem_max_bytes, sm_n, "
            "sm_sum / sm_n, resets_n FROM sample_minute "
            "WHERE run_id = ? AND device_id = ? AND t_first >= ? ORDER BY minute",
            (run_id, device.device_id, min_t),
        )
        cursor.row_factory = None
        rows = np.fromiter(cursor, dtype=np.dtype([(name, "f8") for name in _MINUTE_FIELDS]))
        return DeviceSeries(
            device,
            rows["t"],
            rows["util"],
            rows["power_w"],
            rows["energy_delta_j"],
            rows["mem_used_bytes"],
            rows["sm_active"],
            np.nan_to_num(rows["energy_s"], nan=0.0),
            rows["n"],
            np.nan_to_num(rows["util_n"], nan=0.0),
            rows["util_peak"],
            np.nan_to_num(rows["sm_n"], nan=0.0),
            rows["resets_n"],
        )

    def counter_disagreement(self, run_id: str, device_id: str) -> float | None:
        """Return how far a device's power-integrated energy is from its energy counter.

        (integrated - counter) / counter, each at its last raw sample with a reading
        (`energy_from_power_j`, which NVML keeps, against `energy_j`); None without both
        or with a counter at 0.
        """
        last = (
            "SELECT {0} FROM sample WHERE run_id = ? AND device_id = ? AND {0} IS NOT NULL "
            "ORDER BY t DESC LIMIT 1"
        )
        key = (run_id, device_id)
        counter = self._conn.execute(last.format("energy_j"), key).fetchone()
        integrated = self._conn.execute(last.format("energy_from_power_j"), key).fetchone()
        if counter is None or integrated is None or not counter[0] > 0:
            return None
        return float((integrated[0] - counter[0]) / counter[0])

    def minute_resets(self, run_id: str, device_id: str) -> int:
        """Return how many counter resets a device's rollups dropped (docs/analyzer.md)."""
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
