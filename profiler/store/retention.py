"""Bounded history: prune old raw samples and rollups; report what the database holds.

The retention policy (docs/schedule.md#retention): raw samples are kept `keep_raw_days` (14
by default); older samples survive as their minute rollups (`sample_minute`, see
`profiler.store.rollup`), kept `keep_rollup_days` (default 400). Age is absolute: a sample's
time is its run's `started` plus its `t`. Only whole minutes are pruned, and a raw sample
only when its minute's rollup row exists, so the analyzer can always read the run from its
rollups. Runs, devices, phases and findings are never deleted.

Each run is pruned in its own short transactions (`PRUNE_CHUNK_S` of run time each) so
a recorder writing to the same database waits at most a moment. This module decides what
to prune and reports; the deletes and size queries are `Store` methods
(`profiler.store.housekeeping`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from profiler.model.units import DAY_S, epoch_to_iso
from profiler.store.database import Store
from profiler.store.rollup import MINUTE_S
from profiler.store.schema import SCHEMA_VERSION

PRUNE_CHUNK_S = 6 * 3600.0
"""Run time deleted per transaction (about 86,000 raw rows for 4 devices at 1 Hz)."""


@dataclass(frozen=True)
class PruneResult:
    """What `prune` deleted.

    Attributes:
        raw_samples_deleted: raw sample rows deleted.
        rollup_rows_deleted: minute rollup rows deleted.
        raw_cutoff: UTC ISO time before which raw samples were pruned.
        rollup_cutoff: UTC ISO time before which rollups were pruned.
        runs_pruned: ids of the runs that lost rows.
    """

    raw_samples_deleted: int
    rollup_rows_deleted: int
    raw_cutoff: str
    rollup_cutoff: str
    runs_pruned: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


def _minute_before(cutoff_s: float, started_s: float) -> int:
    """Return the first minute (of run time) not wholly before the absolute `cutoff_s`."""
    return math.floor((cutoff_s - started_s) / MINUTE_S)


def prune(
    store_path: Path,
    *,
    keep_raw_days: float = 14,
    keep_rollup_days: float = 400,
    now: datetime | None = None,
) -> PruneResult:
    """Delete raw samples older than `keep_raw_days` and rollups older than `keep_rollup_days`.

    Args:
        store_path: the finwatt database.
        keep_raw_days: days of raw samples to keep (older ones remain as rollups).
        keep_rollup_days: days of minute rollups to keep.
        now: the reference time (default: now, UTC).

    Raises:
        ValueError: a keep period is not positive, or rollups would be kept for less
            time than raw samples.
        StoreError: the database cannot be opened.
    """
    if keep_raw_days <= 0 or keep_rollup_days <= 0:
        raise ValueError("keep periods must be positive")
    if keep_rollup_days < keep_raw_days:
        raise ValueError(
            f"rollups ({keep_rollup_days:g} days) must be kept at least as long as raw "
            f"samples ({keep_raw_days:g} days)"
        )
    now_s = (now or datetime.now(UTC)).timestamp()
    raw_cutoff = now_s - keep_raw_days * DAY_S
    rollup_cutoff = now_s - keep_rollup_days * DAY_S
    raw_deleted = rollups_deleted = 0
    pruned: list[str] = []
    with Store(store_path) as store:
        for run in store.runs.all():
            started = run.started.timestamp()
            raw_end = _minute_before(raw_cutoff, started)
            rollup_end = _minute_before(rollup_cutoff, started)
            if raw_end <= 0:
                continue  # the whole run is younger than the raw cutoff
            before = raw_deleted + rollups_deleted
            firsts = [
                t
                for d in store.devices.for_run(run.id)
                if (t := store.samples.time_bounds(run.id, d.info.device_id)["raw_first"])
                is not None
            ]
            if firsts:
                step = int(PRUNE_CHUNK_S / MINUTE_S)
                first = math.floor(min(firsts) / MINUTE_S)
                for end in [*range(first + step, raw_end, step), raw_end]:
                    raw_deleted += store.housekeeping.delete_raw_before(run.id, end)
            if rollup_end > 0:
                rollups_deleted += store.housekeeping.delete_minutes_before(run.id, rollup_end)
                store.attribution.delete_before(run.id, rollup_end)  # kept like rollups
            if raw_deleted + rollups_deleted > before:
                pruned.append(run.id)
    return PruneResult(
        raw_deleted, rollups_deleted, epoch_to_iso(raw_cutoff), epoch_to_iso(rollup_cutoff), pruned
    )


@dataclass(frozen=True)
class DbStats:
    """Sizes and coverage of a finwatt database (`finwatt db stats`).

    Attributes:
        path: the database file.
        schema_version: its schema version.
        file_bytes: size on disk of the database, its WAL and shared-memory files.
        page_bytes: bytes of all pages of the main file.
        free_bytes: bytes of free pages (reused by new rows; `VACUUM` returns them).
        rows: rows per table.
        table_bytes: page bytes per table and index (None where SQLite lacks `dbstat`).
        raw_oldest: UTC time of the oldest raw sample (None without any).
        raw_newest: UTC time of the newest raw sample.
        rollup_oldest: UTC time of the oldest rolled-up sample.
        rollup_newest: UTC time of the newest rolled-up sample.
        rollup_only_runs: runs whose oldest samples survive only as rollups.
    """

    path: str
    schema_version: int
    file_bytes: int
    page_bytes: int
    free_bytes: int
    rows: dict[str, int]
    table_bytes: dict[str, int] | None
    raw_oldest: str | None
    raw_newest: str | None
    rollup_oldest: str | None
    rollup_newest: str | None
    rollup_only_runs: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Return the statistics as a JSON-ready dict."""
        return asdict(self)


def _extreme(values: list[float], pick: Callable[[list[float]], float]) -> str | None:
    return epoch_to_iso(pick(values)) if values else None


def db_stats(store_path: Path) -> DbStats:
    """Return sizes, row counts and the time covered by raw samples and by rollups.

    Raises:
        StoreError: the database cannot be opened.
    """
    raw: list[float] = []
    rolled: list[float] = []
    rollup_only: list[str] = []
    with Store(store_path, read_only=True) as store:
        for run in store.runs.all():
            started = run.started.timestamp()
            for record in store.devices.for_run(run.id):
                b = store.samples.time_bounds(run.id, record.info.device_id)
                raw += [started + v for v in (b["raw_first"], b["raw_last"]) if v is not None]
                rolled += [
                    started + v for v in (b["minute_first"], b["minute_last"]) if v is not None
                ]
                first_raw, first_rolled = b["raw_first"], b["minute_first"]
                if (
                    first_rolled is not None
                    and (first_raw is None or first_raw > first_rolled)
                    and run.id not in rollup_only
                ):
                    rollup_only.append(run.id)
        page_bytes, free_bytes = store.housekeeping.page_bytes()
        rows = store.housekeeping.table_rows()
        table_bytes = store.housekeeping.table_bytes()
    files = [store_path, *(store_path.with_name(store_path.name + s) for s in ("-wal", "-shm"))]
    return DbStats(
        path=str(store_path),
        schema_version=SCHEMA_VERSION,
        file_bytes=sum(f.stat().st_size for f in files if f.exists()),
        page_bytes=page_bytes,
        free_bytes=free_bytes,
        rows=rows,
        table_bytes=table_bytes,
        raw_oldest=_extreme(raw, min),
        raw_newest=_extreme(raw, max),
        rollup_oldest=_extreme(rolled, min),
        rollup_newest=_extreme(rolled, max),
        rollup_only_runs=rollup_only,
    )
