"""Opening a database file: finwatt's own only, new ones private, read-only where asked.

A finwatt database carries SQLite's `application_id` `FINWATT_APPLICATION_ID` (the
ASCII bytes "FWAT"). Before anything is written, the file is checked: another program's
SQLite file, a SQLite file finwatt did not create, or a file that is not SQLite at all is
refused (`ForeignDatabaseError`, exit 2) and left exactly as it was (no tables added, no
switch to WAL). A database of an older finwatt (tables and a `user_version` but no
`application_id`) is adopted: the id is set when it is next opened for writing.

New database files are created `0600`: they hold host telemetry (host names, labels,
command lines). SQLite gives its `-wal` and `-shm` files the database file's mode.

`read_only=True` opens the file through a `mode=ro` URI, which never creates, migrates or
writes it; it works on a read-only file. In a read-only folder a WAL database cannot get
its `-shm` file; when no `-wal` file holds unsaved pages the file is then opened
`immutable=1` (nothing else can be writing it there), else the message says what to do.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from profiler.model.errors import FinwattInputError, FinwattRuntimeError

FINWATT_APPLICATION_ID = 0x46574154
"""SQLite `PRAGMA application_id` of a finwatt database: "FWAT" in ASCII (1180123476)."""
BUSY_TIMEOUT_S = 30.0
_FINWATT_TABLES = frozenset({"run", "sample"})
"""Tables every finwatt schema version has: an unmarked file with them is an older finwatt's."""


class StoreError(FinwattRuntimeError):
    """The database cannot be opened or used; the message says which file and why (exit 1)."""


class ForeignDatabaseError(FinwattInputError):
    """The file is not a finwatt database; it was left unchanged (exit 2)."""


class MissingDatabaseError(FinwattInputError):
    """A command that only reads was given a database that does not exist (exit 2)."""


def create_private(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; return True when created.

    An empty file is a valid empty SQLite database; creating it first, rather than letting
    SQLite create it with the umask's mode, keeps host telemetry private.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """Open `path` after checking it is a finwatt database (or empty); no write happens here.

    Args:
        path: the database file.
        read_only: open through a `mode=ro` URI (the file must exist) instead of
            creating it (mode 0600) when missing.

    Raises:
        MissingDatabaseError: `read_only` and there is no file.
        ForeignDatabaseError: the file is not a finwatt database.
        StoreError: the file cannot be opened or read.
    """
    if read_only:
        return _connect_read_only(path)
    try:
        create_private(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (OSError, sqlite3.Error) as err:
        raise StoreError(
            f"cannot open database {path}: {_reason(err)}; pass a writable path with --db"
        ) from err
    if not writable(path):
        conn.close()
        raise StoreError(
            f"database {path} is read-only here (the file or its folder cannot be written); "
            "this command records or changes data: pass a writable path with --db"
        )
    return _checked(conn, path)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise MissingDatabaseError(
            f"no database at {path}; record a run first (finwatt run --quick) or pass --db"
        )
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"  # noqa: PTH100 (no symlink resolving)
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreError(f"cannot open database {path}: {_reason(err)}") from err
    try:
        return _checked(conn, path)
    except StoreError:
        if not _cannot_make_shm(path):
            raise
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"cannot read database {path}: its folder is read-only and {wal.name} holds pages "
            "not yet in the file; open it once where the folder is writable, or copy the "
            "database with its -wal file somewhere writable"
        )
    conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    return _checked(conn, path)


def _cannot_make_shm(path: Path) -> bool:
    """True when `path` is a WAL database whose `-shm` is missing and cannot be created."""
    shm = Path(f"{path}-shm")
    return not shm.exists() and not os.access(path.parent, os.W_OK)


def _checked(conn: sqlite3.Connection, path: Path) -> sqlite3.Connection:
    """Return `conn` when its file is a finwatt database (or empty); close it and raise if not."""
    try:
        check_identity(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Raise unless `conn`'s file is a finwatt database, an older finwatt's, or empty.

    Reads three header fields and the table names; writes nothing.

    Raises:
        ForeignDatabaseError: another program's file, or not SQLite at all.
        StoreError: the file cannot be read.
    """
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as err:
        if getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
            raise ForeignDatabaseError(
                f"{path} is not a SQLite database; finwatt left it unchanged: pass a finwatt "
                "database (or a new file name) with --db"
            ) from err
        raise StoreError(f"cannot read database {path}: {_reason(err)}") from err
    if app_id == FINWATT_APPLICATION_ID:
        return
    if app_id == 0 and ((not tables and version == 0) or tables >= _FINWATT_TABLES):
        return  # empty, or an older finwatt's database: adopted
    owner = f"another program's (application_id {app_id:#x})" if app_id else "not finwatt's"
    raise ForeignDatabaseError(
        f"{path} is a SQLite database but {owner}; finwatt left it unchanged: pass a finwatt "
        "database (or a new file name) with --db"
    )


def mark_finwatt(conn: sqlite3.Connection) -> None:
    """Set the finwatt `application_id` on a database opened for writing, if not set."""
    if int(conn.execute("PRAGMA application_id").fetchone()[0]) != FINWATT_APPLICATION_ID:
        conn.execute(f"PRAGMA application_id = {FINWATT_APPLICATION_ID}")


def writable(path: Path) -> bool:
    """True when this process may write `path` and create files beside it (`-wal`, `-shm`)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _reason(err: BaseException) -> str:
    """The cause of `err` in words, a full disk said plainly."""
    if is_disk_full(err):
        return "the disk is full (free space, or point --db at another disk)"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err)


def is_disk_full(err: BaseException) -> bool:
    """True when `err` is SQLite's or the OS's "no space left" (or over quota)."""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def describe(err: sqlite3.Error | OSError, path: Path | None = None) -> str:
    """A one-line description of a database failure, naming the fix where there is one."""
    where = f"database {path}" if path is not None else "the database"
    if is_disk_full(err):
        return f"writing {where} failed: the disk is full; free space or point --db at another disk"
    return f"using {where} failed: {_reason(err)}"
