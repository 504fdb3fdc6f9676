"""The minute rollup (`sample_minute`): one definition, in SQL and in the writer's Python.

One row per run, device and minute of run time (`minute = floor(t / 60)`) holds the
counts, sums and maxima the analyzer's rules need (docs/decisions.md, "Rollups and
retention"). `ROLLUP_COLUMNS` is the definition: each column folds one per-sample value
(`count`, `sum`, `total`, `min` or `max`). Per sample, `dt` is the time since the device's
previous sample (the first sample's since run start) and `de`, `de_dt` the energy of that
interval and the seconds it covers, as `profiler.model.energy.interval_energy` defines
them (counter delta, else power x held interval, else unknown; a counter that went down
is a reset, counted in `resets_n`; the hold is `run_hold_s` of the run's stated interval,
else `median_hold_s` of the device's samples), so energy_delta_j / energy_s is the
minute's mean power.

The definition has two forms, side by side below, built from that one column list:

- SQL (`rollup_sql`, `refresh_minutes`): a window query over the raw samples. Migration,
  `store.samples.add` and import recompute the minutes they touched with it
  (tests/profiler/store/test_rollup*.py check it against `interval_energy`).
- Python (`MinuteSums`): the `SampleWriter`, whose CPU time counts against the
  sampler's overhead budget, folds each batch into per-minute partial rows and adds them
  to the stored rows (`UPSERT_MINUTE_SQL`), calling `interval_energy` on each device's
  part of the batch and remembering each device's last sample across batches instead of
  re-reading it.

Both give the same rows for the same samples, up to the order of floating-point
additions (tests/profiler/store/test_rollup.py checks them against numpy and each other).
"""

from __future__ import annotations

import enum
import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from profiler.model.hold import HOLD_INTERVALS
from profiler.model.samples import SampleRow

MINUTE_S = 60.0
"""Width of a rollup row: minute index = floor(t / 60) of run time (t since run start)."""


def minute_of_sql(t: str = "t") -> str:
    """Return SQL for the minute a time column falls in, floor(t / 60) (retention uses it too)."""
    return f"CAST(floor({t} / {MINUTE_S!r}) AS INTEGER)"


EVERY_SAMPLE = "*"
"""`RollupColumn.of` for a column that counts every sample (SQL `count(*)`)."""


class Fold(enum.Enum):
    """How a rollup column folds its per-sample values, and merges two partial rows."""

    COUNT = "count"
    """Samples whose value is not null; 0 when none."""
    SUM = "sum"
    """Sum of the non-null values; null when none."""
    TOTAL = "total"
    """Sum of the values; 0.0 when none (for values that are never null)."""
    MIN = "min"
    """Smallest non-null value; null when none."""
    MAX = "max"
    """Largest non-null value; null when none."""


@dataclass(frozen=True)
class RollupColumn:
    """One column of `sample_minute` after (run_id, device_id, minute).

    Attributes:
        name: the column.
        fold: how it folds the per-sample values.
        of: the per-sample value folded (a column of the per-sample query and a key of
            `MinuteSums`' per-sample values), or `EVERY_SAMPLE`.

    """

    name: str
    fold: Fold
    of: str


ROLLUP_COLUMNS: tuple[RollupColumn, ...] = (
    RollupColumn("n", Fold.COUNT, EVERY_SAMPLE),
    RollupColumn("t_first", Fold.MIN, "t"),
    RollupColumn("t_last", Fold.MAX, "t"),
    RollupColumn("util_n", Fold.COUNT, "util"),
    RollupColumn("util_sum", Fold.SUM, "util"),
    RollupColumn("util_max", Fold.MAX, "util"),
    RollupColumn("power_n", Fold.COUNT, "power_w"),
    RollupColumn("power_sum", Fold.SUM, "power_w"),
    RollupColumn("energy_delta_j", Fold.SUM, "de"),
    RollupColumn("energy_s", Fold.SUM, "de_dt"),
    RollupColumn("covered_s", Fold.TOTAL, "dt"),
    RollupColumn("mem_max_bytes", Fold.MAX, "mem_used_bytes"),
    RollupColumn("sm_n", Fold.COUNT, "sm_active"),
    RollupColumn("sm_sum", Fold.SUM, "sm_active"),
    RollupColumn("resets_n", Fold.COUNT, "reset"),
)
"""The rollup: what each `sample_minute` column folds, and how."""

MINUTE_COLUMNS = ("minute", *(c.name for c in ROLLUP_COLUMNS))
"""Columns of a `sample_minute` row after (run_id, device_id), in table order."""

_KEY_AND_COLUMNS = ", ".join(("run_id", "device_id", *MINUTE_COLUMNS))


# --- the SQL form -----------------------------------------------------------------------


def _fold_sql(column: RollupColumn) -> str:
    return f"{column.fold.value}({column.of})"


def _merge_sql(column: RollupColumn) -> str:
    """Return the UPSERT assignment adding a partial row's value to the stored one."""
    name, fold = column.name, column.fold
    if fold in (Fold.COUNT, Fold.TOTAL):
        return f"{name} = {name} + excluded.{name}"
    # SQLite's scalar min/max and + give null when either side is null: keep the other.
    both = (
        f"{name} + excluded.{name}"
        if fold is Fold.SUM
        else f"{fold.value}({name}, excluded.{name})"
    )
    return f"{name} = COALESCE({both}, {name}, excluded.{name})"


_H = repr(HOLD_INTERVALS)


def rollup_sql(where: str, keep: str, scope: str) -> str:
    """Return the SELECT that rolls raw samples up into `sample_minute` rows.

    Its columns are (run_id, device_id, `MINUTE_COLUMNS`). `where` filters the sample
    rows fed to the window (each device's rows in time order, the row before the first
    kept minute included so its energy delta is known); `keep` filters the minutes (`m`)
    produced (`x.run_id`, `x.device_id` name the row's run and device); `scope` selects the
    sample rows whose steps give the median hold of runs that state no interval (all of
    each selected device's samples in the run).
    """
    folds = ", ".join(_fold_sql(c) for c in ROLLUP_COLUMNS)
    return f"""
    WITH med AS (
        SELECT run_id, device_id, avg(step) AS step FROM (
            SELECT run_id, device_id, step,
                row_number() OVER (PARTITION BY run_id, device_id ORDER BY step) AS k,
                count(*) OVER (PARTITION BY run_id, device_id) AS c
            FROM (
                SELECT run_id, device_id,
                    t - LAG(t) OVER (PARTITION BY run_id, device_id ORDER BY t, rowid)
                        AS step
                FROM sample
                WHERE ({scope}) AND run_id IN (SELECT id FROM run WHERE interval_s IS NULL)
            )
            WHERE step IS NOT NULL
        )
        WHERE k IN ((c + 1) / 2, (c + 2) / 2)
        GROUP BY run_id, device_id
    )
    SELECT run_id, device_id, m, {folds}
    FROM (
        SELECT run_id, device_id, t, util, power_w, mem_used_bytes, sm_active, dt, m,
            CASE WHEN delta >= 0 THEN delta ELSE power_w * held END AS de,
            CASE WHEN delta >= 0 THEN dt WHEN power_w IS NOT NULL THEN held END AS de_dt,
            CASE WHEN delta < 0 THEN 1 END AS reset
        FROM (
            SELECT s.run_id, s.device_id, t, util, power_w, mem_used_bytes, sm_active, dt,
                {minute_of_sql()} AS m,
                energy_j - prev_e AS delta,
                min(dt, COALESCE({_H} * r.interval_s, {_H} * med.step, dt)) AS held
            FROM (
                SELECT run_id, device_id, t, util, power_w, energy_j, mem_used_bytes,
                    sm_active,
                    max(t - COALESCE(LAG(t) OVER w, 0.0), 0.0) AS dt,
                    CASE WHEN LAG(t) OVER w IS NULL THEN 0.0 ELSE LAG(energy_j) OVER w END
                        AS prev_e
                FROM sample WHERE {where}
                WINDOW w AS (PARTITION BY run_id, device_id ORDER BY t, rowid)
            ) AS s
            JOIN run AS r ON r.id = s.run_id
            LEFT JOIN med ON med.run_id = s.run_id AND med.device_id = s.device_id
        )
    ) AS x
    WHERE {keep}
    GROUP BY run_id, device_id, m
    """


def insert_rollup_sql(where: str, keep: str, scope: str = "1") -> str:
    """Return the INSERT of `rollup_sql(where, keep, scope)`'s rows into `sample_minute`."""
    return f"INSERT INTO sample_minute ({_KEY_AND_COLUMNS}) {rollup_sql(where, keep, scope)}"


def refresh_minutes(
    conn: sqlite3.Connection,
    run_id: str,
    device_id: str | None = None,
    t_range: tuple[float, float] | None = None,
) -> None:
    """Recompute the `sample_minute` rows of a run (or of one device's samples in a range).

    Call inside the write transaction that inserted the samples. With `device_id` and
    `t_range` (the lowest and highest `t` written), only the minutes those samples fall
    in are rebuilt, plus the minute of the next sample after them (its energy delta
    starts at the last new sample): one indexed read of about a minute of rows per device.
    A run that states no interval has its device rebuilt whole instead: its hold is the
    median step of all the device's samples, which new samples may move.
    """
    stated = conn.execute("SELECT interval_s FROM run WHERE id = ?", (run_id,)).fetchone()
    if device_id is not None and (t_range is None or stated is None or stated[0] is None):
        device = "run_id = :run AND device_id = :device"
        params = {"run": run_id, "device": device_id}
        conn.execute(f"DELETE FROM sample_minute WHERE {device}", params)
        conn.execute(insert_rollup_sql(device, "1", device), params)
        return
    if device_id is None or t_range is None:
        conn.execute("DELETE FROM sample_minute WHERE run_id = ?", (run_id,))
        conn.execute(insert_rollup_sql("run_id = :run", "1", "run_id = :run"), {"run": run_id})
        return
    lo_t, hi_t = t_range
    key = (run_id, device_id)
    following = conn.execute(
        "SELECT min(t) FROM sample WHERE run_id = ? AND device_id = ? AND t > ?", (*key, hi_t)
    ).fetchone()[0]
    lo_m = math.floor(lo_t / MINUTE_S)
    hi_m = math.floor((hi_t if following is None else following) / MINUTE_S)
    # One second of slack either side: floor(t / 60) of a t just below a minute boundary
    # may round up into the next minute.
    before = conn.execute(
        "SELECT max(t) FROM sample WHERE run_id = ? AND device_id = ? AND t < ?",
        (*key, lo_m * MINUTE_S - 1.0),
    ).fetchone()[0]
    conn.execute(
        "DELETE FROM sample_minute WHERE run_id = ? AND device_id = ? AND minute BETWEEN ? AND ?",
        (*key, lo_m, hi_m),
    )
    conn.execute(
        insert_rollup_sql(
            "run_id = :run AND device_id = :device AND t >= :lo AND t < :hi",
            "m BETWEEN :lo_m AND :hi_m",
            "run_id = :run AND device_id = :device",
        ),
        {
            "run": run_id,
            "device": device_id,
            "lo": float("-inf") if before is None else before,
            "hi": (hi_m + 1) * MINUTE_S + 1.0,
            "lo_m": lo_m,
            "hi_m": hi_m,
        },
    )


REBUILD_MINUTES_SQL = f"""
    CREATE TEMP TABLE rollup_rebuild (run_id TEXT, device_id TEXT, from_m INTEGER);
    INSERT INTO rollup_rebuild
        SELECT b.run_id, b.device_id,
            CASE WHEN EXISTS (
                SELECT 1 FROM sample_minute AS old
                WHERE old.run_id = b.run_id AND old.device_id = b.device_id
                    AND old.minute < b.first_m
            ) THEN b.first_m + 1 ELSE -9223372036854775808 END
        FROM (
            SELECT run_id, device_id, {minute_of_sql("min(t)")} AS first_m
            FROM sample GROUP BY run_id, device_id
        ) AS b;
    DELETE FROM sample_minute WHERE minute >= (
        SELECT r.from_m FROM rollup_rebuild AS r
        WHERE r.run_id = sample_minute.run_id AND r.device_id = sample_minute.device_id
    );
    {
    insert_rollup_sql(
        "1",
        "x.m >= (SELECT r.from_m FROM rollup_rebuild AS r "
        "WHERE r.run_id = x.run_id AND r.device_id = x.device_id)",
    )
};
    DROP TABLE rollup_rebuild;
"""
"""Rebuild every stored rollup from the raw samples with the current definition (a
migration's body). Minutes whose raw samples retention pruned keep their rows, and so
does a pruned device's first remaining raw minute (the sample before it is gone, so its
first interval cannot be recomputed); every later minute is rebuilt."""


UPSERT_MINUTE_SQL = f"""
    INSERT INTO sample_minute ({_KEY_AND_COLUMNS})
    VALUES ({", ".join("?" * (len(MINUTE_COLUMNS) + 2))})
    ON CONFLICT (run_id, device_id, minute) DO UPDATE SET
        {", ".join(_merge_sql(c) for c in ROLLUP_COLUMNS)}
"""
"""Add a partial row (run_id, device_id, `MINUTE_COLUMNS`) to the stored minute."""


# --- the Python form --------------------------------------------------------------------


def _count(acc: Any, value: Any) -> Any:
    return acc if value is None else acc + 1


def _sum(acc: Any, value: Any) -> Any:
    if value is None:
        return acc
    return value if acc is None else acc + value


def _least(acc: Any, value: Any) -> Any:
    if value is None:
        return acc
    return value if acc is None else min(acc, value)


def _greatest(acc: Any, value: Any) -> Any:
    if value is None:
        return acc
    return value if acc is None else max(acc, value)


# Each fold as (start value, step), the Python twins of SQL's aggregates.
_PY_FOLDS: dict[Fold, tuple[Any, Callable[[Any, Any], Any]]] = {
    Fold.COUNT: (0, _count),
    Fold.SUM: (None, _sum),
    Fold.TOTAL: (0.0, _sum),
    Fold.MIN: (None, _least),
    Fold.MAX: (None, _greatest),
}
_STEPS = [(c.of, _PY_FOLDS[c.fold][1]) for c in ROLLUP_COLUMNS]
_STARTS = [_PY_FOLDS[c.fold][0] for c in ROLLUP_COLUMNS]


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class MinuteSums:
    """The writer's incremental rollup: each batch folded into partial `sample_minute` rows.

    Remembers each device's last (t, energy_j) across batches, so a sample's `dt`, `de`
    and `de_dt` are those of the SQL form (`interval_energy` from the previous sample, the
    first sample's from run start). Samples must arrive in time order per device, as the
    sampler writes them.

    Args:
        hold_s: the run's hold (`run_hold_s` of its stated interval); None clips nothing.

    """

    def __init__(self, hold_s: float | None = None) -> None:
        self._last: dict[str, tuple[float, float]] = {}
        self._hold_s = math.inf if hold_s is None else hold_s

    def _device_values(self, device_id: str, rows: Sequence[SampleRow]) -> list[dict[str, Any]]:
        """Return the per-sample values `ROLLUP_COLUMNS` fold (the SQL form's inner query)."""
        # here, not at the top: the store's readers (`finwatt runs`) load without numpy
        import numpy as np

        from profiler.model.energy import counter_resets, interval_energy, intervals

        t = np.array([r.t for r in rows], dtype=np.float64)
        energy = np.array([_nan(r.energy_j) for r in rows], dtype=np.float64)
        power = np.array([_nan(r.power_w) for r in rows], dtype=np.float64)
        prev = self._last.get(device_id, (0.0, 0.0))
        self._last[device_id] = (float(t[-1]), float(energy[-1]))
        de, de_dt = interval_energy(t, energy, power, self._hold_s, prev=prev)
        dt = intervals(t, prev[0])
        resets = counter_resets(energy, prev[1])
        return [
            {
                EVERY_SAMPLE: True,
                "t": r.t,
                "util": r.util,
                "power_w": r.power_w,
                "mem_used_bytes": r.mem_used_bytes,
                "sm_active": r.sm_active,
                "dt": float(dt[i]),
                "de": _none(de[i]),
                "de_dt": None if math.isnan(de[i]) else float(de_dt[i]),
                "reset": 1 if resets[i] else None,
            }
            for i, r in enumerate(rows)
        ]

    def rows(self, run_id: str, samples: Iterable[SampleRow]) -> list[tuple[Any, ...]]:
        """Return one partial row (run_id, device_id, `MINUTE_COLUMNS`) per device and minute."""
        by_device: dict[str, list[SampleRow]] = {}
        for r in samples:
            by_device.setdefault(r.device_id, []).append(r)
        minutes: dict[tuple[str, int], list[Any]] = {}
        for device_id, rows in by_device.items():
            for r, values in zip(rows, self._device_values(device_id, rows), strict=True):
                key = (device_id, math.floor(r.t / MINUTE_S))
                acc = minutes.setdefault(key, list(_STARTS))
                for i, (of, step) in enumerate(_STEPS):
                    acc[i] = step(acc[i], values[of])
        return [(run_id, device_id, minute, *acc) for (device_id, minute), acc in minutes.items()]


def upsert_minutes(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Add `MinuteSums.rows` to the stored minutes, inside the caller's transaction."""
    conn.executemany(UPSERT_MINUTE_SQL, rows)
