"""SQLite persistence for runs, devices, samples, phases and findings (WAL mode).

Schema per ../shared/design.md ("Data model"). The schema version is SQLite's
`user_version`; `MIGRATIONS[i]` takes a database from version i to i + 1, so opening an
older file upgrades it in place and a newer one is refused with a clear message.

Writers batch samples: `SampleWriter` commits at most one second of samples per
transaction, so a crash or SIGKILL loses at most the last second.

Every write path also keeps `sample_minute` up to date: one row per run, device and
minute of run time (`floor(t / 60)`) with the counts, sums and maxima the analyzer's
rules need (docs/decisions.md, "Rollups and retention"). The rollup is defined once, as
SQL over the raw samples (`_rollup_sql`); migration, `add_samples` and import recompute
the minutes they touched with it. `SampleWriter`, whose CPU time counts against the
sampler's overhead budget, adds each batch's per-minute sums to the rows instead
(`_MinuteSums`, an UPSERT), remembering each device's last sample across batches: the
same rows, up to the order of floating-point additions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseRecord, RunRecord
from profiler.model.samples import METRICS, SampleRow
from profiler.model.units import epoch_s, epoch_to_iso, iso_z

log = logging.getLogger(__name__)

MINUTE_S = 60.0
"""Width of a rollup row: minute index = floor(t / 60) of run time (t since run start)."""

MINUTE_COLUMNS = (
    "minute",
    "n",
    "t_first",
    "t_last",
    "util_n",
    "util_sum",
    "util_max",
    "power_n",
    "power_sum",
    "energy_j",
    "energy_s",
    "covered_s",
    "mem_max_bytes",
    "sm_n",
    "sm_sum",
)


def _rollup_sql(where: str, keep: str) -> str:
    """Return the SELECT that rolls raw samples up into `sample_minute` rows.

    `where` filters the sample rows fed to the window (each device's rows in time order,
    the row before the first kept minute included so its energy delta is known); `keep`
    filters the minutes (`m`) produced. Per sample, as `profiler.analysis.series` does:
    `dt` is the time since the device's previous sample (the first since run start, 0),
    and the energy of that interval is the cumulative counter's delta (the counter is 0
    at run start), else power x dt, else unknown. `energy_s` is the time covered by the
    known energies, so energy_j / energy_s is the minute's mean power.
    """
    return f"""
    SELECT run_id, device_id, m, count(*), min(t), max(t),
        count(util), sum(util), max(util),
        count(power_w), sum(power_w),
        sum(de), sum(CASE WHEN de IS NOT NULL THEN dt END), total(dt),
        max(mem_used_bytes), count(sm_active), sum(sm_active)
    FROM (
        SELECT run_id, device_id, t, util, power_w, mem_used_bytes, sm_active, dt,
            CAST(floor(t / {MINUTE_S!r}) AS INTEGER) AS m,
            COALESCE(energy_j - prev_e, power_w * dt) AS de
        FROM (
            SELECT run_id, device_id, t, util, power_w, energy_j, mem_used_bytes, sm_active,
                max(t - COALESCE(LAG(t) OVER w, 0.0), 0.0) AS dt,
                CASE WHEN LAG(t) OVER w IS NULL THEN 0.0 ELSE LAG(energy_j) OVER w END
                    AS prev_e
            FROM sample WHERE {where}
            WINDOW w AS (PARTITION BY run_id, device_id ORDER BY t, rowid)
        )
    )
    WHERE {keep}
    GROUP BY run_id, device_id, m
    """


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
    starts at the last new sample): one indexed read of about a minute of rows per device
    for a writer batch.
    """
    if device_id is None or t_range is None:
        conn.execute("DELETE FROM sample_minute WHERE run_id = ?", (run_id,))
        conn.execute(f"INSERT INTO sample_minute {_rollup_sql('run_id = ?', '1')}", (run_id,))
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
        "INSERT INTO sample_minute "
        + _rollup_sql("run_id = ? AND device_id = ? AND t >= ? AND t < ?", "m BETWEEN ? AND ?"),
        (
            *key,
            float("-inf") if before is None else before,
            (hi_m + 1) * MINUTE_S + 1.0,
            lo_m,
            hi_m,
        ),
    )


_UPSERT_MINUTE = f"""
    INSERT INTO sample_minute (run_id, device_id, {", ".join(MINUTE_COLUMNS)})
    VALUES ({", ".join("?" * (len(MINUTE_COLUMNS) + 2))})
    ON CONFLICT (run_id, device_id, minute) DO UPDATE SET
        n = n + excluded.n,
        t_first = min(t_first, excluded.t_first),
        t_last = max(t_last, excluded.t_last),
        util_n = util_n + excluded.util_n,
        util_sum = COALESCE(util_sum + excluded.util_sum, util_sum, excluded.util_sum),
        util_max = COALESCE(max(util_max, excluded.util_max), util_max, excluded.util_max),
        power_n = power_n + excluded.power_n,
        power_sum = COALESCE(power_sum + excluded.power_sum, power_sum, excluded.power_sum),
        energy_j = COALESCE(energy_j + excluded.energy_j, energy_j, excluded.energy_j),
        energy_s = COALESCE(energy_s + excluded.energy_s, energy_s, excluded.energy_s),
        covered_s = covered_s + excluded.covered_s,
        mem_max_bytes = COALESCE(
            max(mem_max_bytes, excluded.mem_max_bytes), mem_max_bytes, excluded.mem_max_bytes
        ),
        sm_n = sm_n + excluded.sm_n,
        sm_sum = COALESCE(sm_sum + excluded.sm_sum, sm_sum, excluded.sm_sum)
"""


def _plus(total: float | None, value: float | None) -> float | None:
    if value is None:
        return total
    return value if total is None else total + value


def _peak(top: Any, value: Any) -> Any:
    if value is None:
        return top
    return value if top is None else max(top, value)


class _MinuteSums:
    """The writer's incremental rollup: each batch's per-minute sums, as `_rollup_sql` rows.

    Remembers each device's last (t, energy_j) across batches, so a sample's interval and
    energy delta are those of the SQL definition (the first sample's since run start).
    Samples must arrive in time order per device, as the sampler writes them.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float | None]] = {}

    def rows(self, run_id: str, samples: Sequence[SampleRow]) -> list[list[Any]]:
        """Return one `sample_minute` row (run_id, device_id, MINUTE_COLUMNS) per minute."""
        minutes: dict[tuple[str, int], list[Any]] = {}
        for r in samples:
            prev_t, prev_e = self._last.get(r.device_id, (0.0, 0.0))
            self._last[r.device_id] = (r.t, r.energy_j)
            dt = max(r.t - prev_t, 0.0)
            if r.energy_j is not None and prev_e is not None:
                de: float | None = r.energy_j - prev_e
            else:
                de = None if r.power_w is None else r.power_w * dt
            minute = math.floor(r.t / MINUTE_S)
            row = minutes.get((r.device_id, minute))
            if row is None:
                row = [run_id, r.device_id, minute, 0, r.t, r.t, 0, None, None, 0, None]
                row += [None, None, 0.0, None, 0, None]
                minutes[(r.device_id, minute)] = row
            row[3] += 1
            row[4] = min(row[4], r.t)
            row[5] = max(row[5], r.t)
            if r.util is not None:
                row[6] += 1
                row[7] = _plus(row[7], r.util)
                row[8] = _peak(row[8], r.util)
            if r.power_w is not None:
                row[9] += 1
                row[10] = _plus(row[10], r.power_w)
            if de is not None:
                row[11] = _plus(row[11], de)
                row[12] = _plus(row[12], dt)
            row[13] += dt
            row[14] = _peak(row[14], r.mem_used_bytes)
            if r.sm_active is not None:
                row[15] += 1
                row[16] = _plus(row[16], r.sm_active)
        return list(minutes.values())


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE run (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('profile', 'monitor', 'scheduled')),
        label TEXT,
        host TEXT NOT NULL,
        started TEXT NOT NULL,
        ended TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        config TEXT NOT NULL DEFAULT '{}',
        version TEXT NOT NULL,
        pid INTEGER,
        interval_s REAL,
        missed_ticks INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE device (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT,
        logical_cores INTEGER,
        mem_total_bytes INTEGER,
        power_limit_w REAL,
        provenance TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'ok',
        status_reason TEXT,
        PRIMARY KEY (run_id, device_id)
    );
    CREATE TABLE sample (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        t REAL NOT NULL,
        util REAL,
        power_w REAL,
        energy_j REAL,
        energy_from_power_j REAL,
        mem_used_bytes INTEGER,
        clock_mhz REAL,
        temperature_c REAL,
        sm_active REAL
    );
    CREATE INDEX sample_run_device_t ON sample (run_id, device_id, t);
    CREATE TABLE phase (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        workload TEXT NOT NULL,
        device_id TEXT NOT NULL,
        target_load REAL NOT NULL,
        t_start REAL NOT NULL,
        t_end REAL NOT NULL,
        units REAL,
        unit TEXT,
        achieved_load REAL,
        valid INTEGER,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE finding (
        id INTEGER PRIMARY KEY,
        run_id TEXT REFERENCES run(id) ON DELETE CASCADE,
        window_start TEXT,
        window_end TEXT,
        rule TEXT NOT NULL,
        device_id TEXT,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}',
        recommendation TEXT,
        savings TEXT,
        confidence TEXT,
        assumptions TEXT NOT NULL DEFAULT '[]'
    );
    """,
    f"""
    CREATE TABLE sample_minute (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        minute INTEGER NOT NULL,
        n INTEGER NOT NULL,
        t_first REAL NOT NULL,
        t_last REAL NOT NULL,
        util_n INTEGER NOT NULL,
        util_sum REAL,
        util_max REAL,
        power_n INTEGER NOT NULL,
        power_sum REAL,
        energy_j REAL,
        energy_s REAL,
        covered_s REAL NOT NULL,
        mem_max_bytes INTEGER,
        sm_n INTEGER NOT NULL,
        sm_sum REAL,
        PRIMARY KEY (run_id, device_id, minute)
    ) WITHOUT ROWID;
    INSERT INTO sample_minute {_rollup_sql("1", "1")};
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_RUN_COLUMNS = (
    "id",
    "kind",
    "label",
    "host",
    "started",
    "ended",
    "status",
    "config",
    "version",
    "pid",
    "interval_s",
    "missed_ticks",
)


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message says which file and why."""


def utc_now_iso() -> str:
    """Return the current UTC wall time as ISO 8601 with a `Z` suffix."""
    return iso_z(datetime.now(UTC), "milliseconds")


def new_run_id() -> str:
    """Return a sortable run id: UTC timestamp plus 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def finwatt_version() -> str:
    """Return the installed finwatt version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finwatt")
    except PackageNotFoundError:
        return "0+unknown"


class Store:
    """A finwatt SQLite database. One instance per thread (sqlite3 connections are not shared).

    Args:
        path: database file; its folder is created if missing.

    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(
                f"cannot open database {path}: {err}; pass a writable path with --db"
            ) from err
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(
                f"cannot use database {path}: {err}; is it a finwatt database?"
            ) from err

    def _migrate(self) -> None:
        current = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {current}, newer than this "
                f"finwatt ({SCHEMA_VERSION}); upgrade finwatt"
            )
        for version in range(current, SCHEMA_VERSION):
            # executescript commits any open transaction first, so the script carries its
            # own BEGIN/COMMIT: a migration and its version bump land together or not at all.
            self._conn.executescript(
                f"BEGIN IMMEDIATE;{MIGRATIONS[version]}PRAGMA user_version = {version + 1};COMMIT;"
            )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type: object, *rest: object) -> None:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> Store._Tx:
        """Return a context manager running its body in one write transaction."""
        return Store._Tx(self._conn)

    # --- runs -----------------------------------------------------------------------

    def create_run(
        self,
        kind: str,
        *,
        label: str | None = None,
        config: dict[str, Any] | None = None,
        interval_s: float | None = None,
        run_id: str | None = None,
        started: str | None = None,
        host: str | None = None,
        status: str = "running",
        pid: int | None = None,
    ) -> RunRecord:
        """Insert a new run (status `running` by default) and return it."""
        record = RunRecord(
            id=run_id or new_run_id(),
            kind=kind,
            label=label,
            host=host or socket.gethostname(),
            started=started or utc_now_iso(),
            ended=None,
            status=status,
            config=config or {},
            version=finwatt_version(),
            pid=os.getpid() if pid is None and status == "running" else pid,
            interval_s=interval_s,
        )
        with self.transaction() as tx:
            tx.execute(
                f"INSERT INTO run ({', '.join(_RUN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_RUN_COLUMNS))})",
                (
                    record.id,
                    record.kind,
                    record.label,
                    record.host,
                    record.started,
                    record.ended,
                    record.status,
                    json.dumps(record.config, sort_keys=True),
                    record.version,
                    record.pid,
                    record.interval_s,
                    record.missed_ticks,
                ),
            )
        return record

    def finish_run(
        self, run_id: str, status: str, *, ended: str | None = None, missed_ticks: int = 0
    ) -> None:
        """Set a run's final status, end time and missed-tick count."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE run SET status = ?, ended = ?, missed_ticks = ? WHERE id = ?",
                (status, ended or utc_now_iso(), missed_ticks, run_id),
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        """Return one run, or None."""
        row = self._conn.execute("SELECT * FROM run WHERE id = ?", (run_id,)).fetchone()
        return _run_from_row(row) if row else None

    def list_runs(self, *, limit: int | None = None) -> list[RunRecord]:
        """Return runs newest first."""
        sql = "SELECT * FROM run ORDER BY started DESC, id DESC"
        rows = self._conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""))
        return [_run_from_row(r) for r in rows]

    def mark_stale_runs(self, *, alive: Any = None) -> list[str]:
        """Mark `running` runs of this host whose process is gone as `interrupted`.

        A run killed with SIGKILL stays `running` in the file; the next finwatt command
        notices its pid no longer exists and marks it. Returns the ids marked.
        """
        is_alive = alive or pid_alive
        host = socket.gethostname()
        stale = [
            row["id"]
            for row in self._conn.execute(
                "SELECT id, pid FROM run WHERE status = 'running' AND host = ?", (host,)
            )
            if row["pid"] is None or not is_alive(int(row["pid"]))
        ]
        if stale:
            with self.transaction() as tx:
                for run_id in stale:
                    last = tx.execute(
                        "SELECT max(t) FROM sample WHERE run_id = ?", (run_id,)
                    ).fetchone()[0]
                    started = tx.execute(
                        "SELECT started FROM run WHERE id = ?", (run_id,)
                    ).fetchone()[0]
                    ended = _iso_plus(started, last) if last is not None else started
                    tx.execute(
                        "UPDATE run SET status = 'interrupted', ended = ? WHERE id = ?",
                        (ended, run_id),
                    )
        return stale

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
            tx.execute(
                "UPDATE device SET status = ?, status_reason = ? "
                "WHERE run_id = ? AND device_id = ?",
                (status, reason, run_id, device_id),
            )

    def devices(self, run_id: str) -> list[DeviceRecord]:
        """Return a run's devices in id order."""
        rows = self._conn.execute(
            "SELECT * FROM device WHERE run_id = ? ORDER BY device_id", (run_id,)
        )
        return [
            DeviceRecord(
                DeviceInfo(
                    r["device_id"],
                    r["kind"],
                    model=r["model"],
                    logical_cores=r["logical_cores"],
                    mem_total_bytes=r["mem_total_bytes"],
                    power_limit_w=r["power_limit_w"],
                    provenance=r["provenance"],
                    details=json.loads(r["details"]),
                ),
                status=r["status"],
                status_reason=r["status_reason"],
            )
            for r in rows
        ]

    # --- samples --------------------------------------------------------------------

    def add_samples(self, run_id: str, rows: Sequence[SampleRow]) -> None:
        """Insert sample rows and update their minutes' rollups in one transaction."""
        with self.transaction() as tx:
            self._insert_samples(tx, run_id, rows)
            self._refresh_rows(tx, run_id, rows)

    @staticmethod
    def _refresh_rows(conn: sqlite3.Connection, run_id: str, rows: Sequence[SampleRow]) -> None:
        ranges: dict[str, tuple[float, float]] = {}
        for r in rows:
            lo, hi = ranges.get(r.device_id, (r.t, r.t))
            ranges[r.device_id] = (min(lo, r.t), max(hi, r.t))
        for device_id, t_range in ranges.items():
            refresh_minutes(conn, run_id, device_id, t_range)

    @staticmethod
    def _insert_samples(conn: sqlite3.Connection, run_id: str, rows: Sequence[SampleRow]) -> None:
        conn.executemany(
            f"INSERT INTO sample (run_id, device_id, t, {', '.join(METRICS)}) "
            f"VALUES (?, ?, ?, {', '.join('?' * len(METRICS))})",
            [(run_id, r.device_id, r.t, *(getattr(r, f) for f in METRICS)) for r in rows],
        )

    def samples(self, run_id: str, device_id: str | None = None) -> list[SampleRow]:
        """Return a run's samples ordered by device then time."""
        sql = "SELECT * FROM sample WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if device_id is not None:
            sql += " AND device_id = ?"
            args += (device_id,)
        rows = self._conn.execute(sql + " ORDER BY device_id, t", args)
        return [SampleRow(r["device_id"], r["t"], *(r[f] for f in METRICS)) for r in rows]

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
        return [
            PhaseRecord(
                r["workload"],
                r["device_id"],
                r["target_load"],
                r["t_start"],
                r["t_end"],
                r["units"],
                r["unit"],
                r["achieved_load"],
                None if r["valid"] is None else bool(r["valid"]),
                json.loads(r["details"]),
            )
            for r in rows
        ]

    # --- analysis inputs and findings ---------------------------------------------

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
            (run_id, device_id, float("-inf") if min_t is None else min_t),
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
            "power_sum / power_n, energy_j, energy_s, mem_max_bytes, sm_n, sm_sum / sm_n "
            "FROM sample_minute WHERE run_id = ? AND device_id = ? AND t_first >= ? "
            "ORDER BY minute",
            (run_id, device_id, float("-inf") if min_t is None else min_t),
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
            (run_id, float("-inf") if min_t is None else min_t),
        ).fetchone()
        return row[0], row[1]

    def delete_raw_before(self, run_id: str, minute: int) -> int:
        """Delete a run's raw samples in minutes before `minute` that have a rollup row.

        Returns the number of samples deleted. One transaction.
        """
        with self.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM sample WHERE run_id = ? AND t < ? "
                f"AND CAST(floor(t / {MINUTE_S!r}) AS INTEGER) < ? "
                "AND EXISTS (SELECT 1 FROM sample_minute AS m WHERE m.run_id = sample.run_id "
                "AND m.device_id = sample.device_id "
                f"AND m.minute = CAST(floor(sample.t / {MINUTE_S!r}) AS INTEGER))",
                (run_id, minute * MINUTE_S + 1.0, minute),
            )
            return int(cursor.rowcount)

    def delete_minutes_before(self, run_id: str, minute: int) -> int:
        """Delete a run's rollup rows of minutes before `minute`; return how many."""
        with self.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM sample_minute WHERE run_id = ? AND minute < ?", (run_id, minute)
            )
            return int(cursor.rowcount)

    def table_rows(self) -> dict[str, int]:
        """Return the number of rows of each finwatt table."""
        tables = ("run", "device", "sample", "sample_minute", "phase", "finding")
        return {
            name: int(self._conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            for name in tables
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

    def add_findings(
        self,
        run_id: str | None,
        findings: Sequence[dict[str, Any]],
        *,
        window_start: str | None = None,
        window_end: str | None = None,
    ) -> None:
        """Replace the findings of a run (or of a `--since` window) in one transaction.

        Each finding is design.md's JSON shape (rule, device, severity, message, evidence,
        recommendation, savings, confidence, assumptions).
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
            insert_findings(tx, run_id, findings, window_start, window_end)

    def findings(
        self,
        run_id: str | None,
        *,
        window_start: str | None = None,
        window_end: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return stored findings of a run (or `--since` window) in design.md's JSON shape."""
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


def insert_devices(conn: sqlite3.Connection, run_id: str, records: Iterable[DeviceRecord]) -> None:
    """Insert device rows inside the caller's transaction (store and import share it)."""
    conn.executemany(
        "INSERT INTO device (run_id, device_id, kind, model, logical_cores, "
        "mem_total_bytes, power_limit_w, provenance, details, status, status_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                r.info.device_id,
                r.info.kind,
                r.info.model,
                r.info.logical_cores,
                r.info.mem_total_bytes,
                r.info.power_limit_w,
                r.info.provenance,
                json.dumps(r.info.details, sort_keys=True),
                r.status,
                r.status_reason,
            )
            for r in records
        ],
    )


def insert_phases(conn: sqlite3.Connection, run_id: str, phases: Iterable[PhaseRecord]) -> None:
    """Insert phase rows inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO phase (run_id, workload, device_id, target_load, t_start, t_end, "
        "units, unit, achieved_load, valid, details) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                p.workload,
                p.device_id,
                p.target_load,
                p.t_start,
                p.t_end,
                p.units,
                p.unit,
                p.achieved_load,
                None if p.valid is None else int(p.valid),
                json.dumps(p.details, sort_keys=True),
            )
            for p in phases
        ],
    )


def insert_findings(
    conn: sqlite3.Connection,
    run_id: str | None,
    findings: Iterable[dict[str, Any]],
    window_start: str | None = None,
    window_end: str | None = None,
) -> None:
    """Insert design.md-shaped findings inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO finding (run_id, window_start, window_end, rule, device_id, "
        "severity, message, evidence, recommendation, savings, confidence, assumptions) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                window_start,
                window_end,
                f["rule"],
                f.get("device"),
                f["severity"],
                f["message"],
                json.dumps(f.get("evidence") or {}, sort_keys=True),
                _json_or_null(f.get("recommendation")),
                _json_or_null(f.get("savings")),
                f.get("confidence"),
                json.dumps(list(f.get("assumptions") or [])),
            )
            for f in findings
        ],
    )


def finding_from_row(r: sqlite3.Row) -> dict[str, Any]:
    """Return a `finding` row as design.md's finding object."""
    return {
        "rule": r["rule"],
        "device": r["device_id"],
        "severity": r["severity"],
        "message": r["message"],
        "evidence": json.loads(r["evidence"]),
        "recommendation": _loads_or_null(r["recommendation"]),
        "savings": _loads_or_null(r["savings"]),
        "confidence": r["confidence"],
        "assumptions": json.loads(r["assumptions"]),
    }


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        label=row["label"],
        host=row["host"],
        started=row["started"],
        ended=row["ended"],
        status=row["status"],
        config=json.loads(row["config"]),
        version=row["version"],
        pid=row["pid"],
        interval_s=row["interval_s"],
        missed_ticks=row["missed_ticks"],
    )


def _json_or_null(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _loads_or_null(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def pid_alive(pid: int) -> bool:
    """Return True when process `pid` exists on this host (it may belong to someone else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso_plus(started: str, seconds: float) -> str:
    return epoch_to_iso(epoch_s(started) + seconds, "milliseconds")


@dataclass(frozen=True)
class _StatusChange:
    device_id: str
    status: str
    reason: str | None


class SampleWriter:
    """Background writer: queues samples and commits at most one second of them at a time.

    The writer owns its own connection on its own thread, so the sampler never waits on
    the disk. `close()` flushes everything queued.

    Args:
        path: database file.
        run_id: the run samples belong to.
        flush_interval_s: longest time between commits (design: at most 1 s).

    """

    def __init__(self, path: Path, run_id: str, *, flush_interval_s: float = 1.0) -> None:
        self._path = path
        self._run_id = run_id
        self._flush_interval_s = flush_interval_s
        self._queue: queue.SimpleQueue[list[SampleRow] | _StatusChange | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="finwatt-writer", daemon=True)
        self.error: BaseException | None = None
        self.rows_written = 0
        self._minutes = _MinuteSums()
        self._thread.start()

    def put(self, rows: Iterable[SampleRow]) -> None:
        """Queue rows (one tick's worth) for the next commit."""
        self._queue.put(list(rows))

    def put_status(self, device_id: str, status: str, reason: str | None) -> None:
        """Queue a device-status change."""
        self._queue.put(_StatusChange(device_id, status, reason))

    def close(self) -> None:
        """Flush what is queued and stop the thread; raises if writing failed."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise StoreError(f"writing samples to {self._path} failed: {self.error}")

    def _loop(self) -> None:
        try:
            with closing(Store(self._path)) as store:
                self._drain(store)
        except (sqlite3.Error, StoreError, OSError) as err:
            log.error("sample writer stopped: %s", err)
            self.error = err

    def _drain(self, store: Store) -> None:
        # Block for the first item of a batch, let the batch gather for the flush
        # interval, then take everything queued: two wake-ups per commit, not one per tick.
        while True:
            batch = [self._queue.get()]
            if batch[0] is not None:
                self._closing.wait(self._flush_interval_s)
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [r for item in batch if isinstance(item, list) for r in item]
            changes = [item for item in batch if isinstance(item, _StatusChange)]
            self._commit(store, rows, changes)
            if any(item is None for item in batch):
                return

    def _commit(self, store: Store, rows: list[SampleRow], changes: list[_StatusChange]) -> None:
        if not rows and not changes:
            return
        minute_rows = self._minutes.rows(self._run_id, rows)
        with store.transaction() as tx:
            Store._insert_samples(tx, self._run_id, rows)
            tx.executemany(_UPSERT_MINUTE, minute_rows)
            for change in changes:
                tx.execute(
                    "UPDATE device SET status = ?, status_reason = ? "
                    "WHERE run_id = ? AND device_id = ?",
                    (change.status, change.reason, self._run_id, change.device_id),
                )
        self.rows_written += len(rows)
