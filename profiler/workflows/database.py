"""Open the settings' database for a command, or say in one line why it cannot be used.

A database that cannot be opened (a path under a file, no permission, a newer schema)
is the user's input to fix (`--db`, `FINWATT_DB`, `db` in the config file), so it is a
`FinwattInputError` (exit 2) here, where a command starts, whereas a store failure in
the middle of a run stays a runtime `StoreError` (exit 1).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from profiler.model.errors import FinwattInputError
from profiler.model.run import RunRecord
from profiler.settings.config import Settings
from profiler.store.database import Store
from profiler.store.opening import StoreError, describe, is_disk_full


class UnusableDatabaseError(FinwattInputError):
    """The database cannot be opened; the message names the file and the fix."""


def open_database(db_path: Path, *, read_only: bool = False) -> Store:
    """Open (creating if missing, unless `read_only`) the database at `db_path`.

    Args:
        db_path: the database file.
        read_only: for commands that only read: the file must exist and is opened
            through a read-only connection (`Store`).

    Raises:
        UnusableDatabaseError: it cannot be opened or upgraded.
        FinwattInputError: it is missing (`read_only`) or not a finwatt database.
    """
    try:
        return Store(db_path, read_only=read_only)
    except StoreError as err:
        raise UnusableDatabaseError(str(err)) from err


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the database `settings` names; an unusable one is bad usage (exit 2).

    `read_only`: for commands that only read (a missing file is then exit 2, and a
    read-only file or folder is fine).
    """
    return open_database(settings.db_path, read_only=read_only)


def failure_line(err: sqlite3.Error | OSError) -> str | None:
    """Return the one line for a database failure or a full disk met mid-command.

    None for any other `OSError`: that one is not the database's, and stays a traceback.
    """
    if isinstance(err, OSError) and not is_disk_full(err):
        return None
    return describe(err)


@contextmanager
def recorded_run(db_path: Path, run_id: str) -> Iterator[tuple[Store, RunRecord]]:
    """Open the database a run was just recorded into; yield it and the run's record.

    Raises:
        StoreError: the run is not in the database (removed, or the database replaced,
            while it recorded).
    """
    with Store(db_path) as store:
        run = store.runs.get(run_id)
        if run is None:
            raise StoreError(f"run {run_id} is no longer in {db_path}; was the database replaced?")
        yield store, run
