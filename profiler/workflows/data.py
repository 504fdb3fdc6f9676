"""The stored data itself, as `finwatt export`, `import` and `db` use it.

Exporting and importing a run (the interchange document, or the samples as CSV), the
database's sizes and retention. Loaded by those commands only: the interchange schema
is the slowest import of the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from profiler.model.errors import FinwattInputError
from profiler.model.units import DAY_S
from profiler.store.database import Store
from profiler.store.imports import DuplicateRunError
from profiler.store.interchange import (
    InterchangeError,
    import_run,
    parse_document,
    write_csv,
    write_json,
)
from profiler.store.opening import StoreError
from profiler.store.retention import DbStats, PruneResult, db_stats, prune
from profiler.workflows.database import UnusableDatabaseError

EXPORT_FORMATS = ("json", "csv")
"""What `export_run` writes: the JSON interchange document, or the samples as CSV."""


def raw_pruned_until(store: Store, run_id: str) -> float | None:
    """Return the run time (s) before which retention pruned raw samples, None if it did not.

    0.0 when no raw sample remains at all (only minute rollups).
    """
    first_minute_t, _ = store.samples.minute_span(run_id)
    first_raw = store.samples.first_sample_t(run_id)
    if first_minute_t is not None and (first_raw is None or first_raw > first_minute_t + 60):
        return first_raw or 0.0
    return None


def export_run(store: Store, run_id: str, fmt: str, stream: TextIO) -> int:
    """Write run `run_id` to `stream` as `fmt` (one of `EXPORT_FORMATS`); return its samples.

    Raises:
        ValueError: the run cannot be exported as `fmt` (the message says why).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"{fmt!r}: use json or csv")
    return (write_json if fmt == "json" else write_csv)(store, run_id, stream)


def import_document(store: Store, data: bytes, *, source: str, replace: bool = False) -> str:
    """Validate the interchange document `data` and store its run; return the run id.

    `replace`: replace the stored run the document repeats (`--replace`) instead of
    refusing it (docs/interchange.md#run-ids-on-import).

    Raises:
        FinwattInputError: the document is not a valid finwatt run, or its run is already
            stored and `replace` is False; nothing is stored.
    """
    try:
        return import_run(store, parse_document(data), source=source, replace=replace)
    except DuplicateRunError as err:  # says what was kept and how to replace it
        raise FinwattInputError(f"{source}: {err}") from err
    except InterchangeError as err:
        raise FinwattInputError(f"{source}: {err}; nothing imported") from err


def database_stats(db_path: Path) -> DbStats:
    """Return the database's sizes, rows per table and the time its samples cover.

    Raises:
        UnusableDatabaseError: it cannot be opened.
    """
    try:
        return db_stats(db_path)
    except StoreError as err:
        raise UnusableDatabaseError(str(err)) from err


def prune_database(db_path: Path, *, keep_raw_s: float, keep_rollups_s: float) -> PruneResult:
    """Delete raw samples and minute rollups older than their retention; runs stay.

    Raises:
        UnusableDatabaseError: it cannot be opened.
    """
    try:
        return prune(
            db_path, keep_raw_days=keep_raw_s / DAY_S, keep_rollup_days=keep_rollups_s / DAY_S
        )
    except StoreError as err:
        raise UnusableDatabaseError(str(err)) from err
