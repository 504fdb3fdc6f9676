"""OS file locks next to the database, so two finwatt processes never collide.

Two locks, both `fcntl.flock` on a file beside the database (released by the kernel
when the holder exits, even on SIGKILL, so a stale lock cannot outlive its process):

- `<db>.lock`, the *run lock*: held while workloads run (`finwatt run`, a scheduled
  profiling action), so two benchmarks never share the machine and skew each other.
- `<db>.schedule.lock`, the *scheduler lock*: held for the lifetime of
  `finwatt schedule daemon` or `run-due`, so one schedule fires once.

The holder writes one JSON line into the file (pid, host, what, since) so the refusal
can say who holds it. Check by hand: `cat ~/.local/share/finwatt/finwatt.db.lock`.
flock locks are per open file, so two locks taken in one process conflict too.

Both locks follow the database *file*, not the name it was given: the lock files sit
beside the path with its symbolic links resolved, and `run_lock`/`scheduler_lock` also
lock the database's identity (device and inode), so a second daemon on a hard link
refuses too. That identity lock is an open-file-description (OFD) lock on one byte of the
database file far past SQLite's own lock bytes (which sit at 1 GiB), one byte per lock
kind, taken through a descriptor this process opens once per database and never closes:
closing any descriptor of a file drops the process's POSIX locks on it, SQLite's included
(fcntl(2)); OFD locks belong to their descriptor and end with the process. Within one
process a registry of held identities does what the OFD lock does between processes.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from profiler.model.errors import FinwattRuntimeError
from profiler.model.units import iso_z


class LockHeldError(FinwattRuntimeError):
    """The lock is held by another process; the message names the holder."""


class LockFileError(LockHeldError):
    """The lock file cannot be used (a directory, no permission); the message says why.

    A `LockHeldError`: whoever waits for the lock (`finwatt run`, a scheduled profile)
    cannot take it either way and says so in one line.
    """


_IDENTITY_LOCK_BASE = 2**62
"""Byte offset of the identity locks in the database file (SQLite locks bytes at 1 GiB)."""
RUN_SLOT, SCHEDULER_SLOT = 0, 1
_identity_fds: dict[tuple[int, int], int] = {}
_identity_held: set[tuple[int, int, int]] = set()
_identity_guard = threading.Lock()


def database_file(db_path: Path) -> Path:
    """Return `db_path` with its symbolic links resolved: the file every name leads to."""
    return Path(os.path.realpath(db_path))


def run_lock_path(db_path: Path) -> Path:
    """Return the run lock of the database at `db_path` (`<db>.lock`, links resolved)."""
    real = database_file(db_path)
    return real.with_name(real.name + ".lock")


def scheduler_lock_path(db_path: Path) -> Path:
    """Return the scheduler lock of the database at `db_path` (`<db>.schedule.lock`)."""
    real = database_file(db_path)
    return real.with_name(real.name + ".schedule.lock")


def run_lock(db_path: Path, what: str) -> FileLock:
    """The run lock of the database at `db_path`, by path and by file identity."""
    return FileLock(run_lock_path(db_path), what, database=db_path, slot=RUN_SLOT)


def scheduler_lock(db_path: Path, what: str) -> FileLock:
    """The scheduler lock of the database at `db_path`, by path and by file identity."""
    return FileLock(scheduler_lock_path(db_path), what, database=db_path, slot=SCHEDULER_SLOT)


def _ofd_lock(fd: int, slot: int, kind: int) -> bool:
    """Set (F_WRLCK) or clear (F_UNLCK) the OFD lock of `slot`; False when another holds it."""
    # struct flock: l_type, l_whence (short), l_start, l_len (off_t), l_pid (0 for OFD)
    request = struct.pack("@hhqqi4x", kind, os.SEEK_SET, _IDENTITY_LOCK_BASE + slot, 1, 0)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
    except OSError as err:
        # EAGAIN/EACCES: held. Anything else (ENOLCK on some network file systems,
        # EINVAL on an old kernel): no identity lock here, the lock by path still holds.
        return err.errno not in (errno.EAGAIN, errno.EACCES)
    return True


def _identity_fd(database: Path) -> tuple[tuple[int, int], int] | None:
    """Return the database's (st_dev, st_ino) and this process's descriptor of it.

    A missing database is created empty with mode 0600, as the store creates it (an
    empty file is an empty SQLite database), so the first holder has an identity to lock
    before a link to it can exist. None when it cannot be opened for writing (nothing
    could be run against it). A descriptor of the database is never closed (see the
    module docstring).
    """
    try:
        info = database.stat()
    except FileNotFoundError:
        try:
            fd = os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError:
            return None  # created meanwhile, or not creatable: the store says why
        opened = os.fstat(fd)
        with _identity_guard:
            return (opened.st_dev, opened.st_ino), _identity_fds.setdefault(
                (opened.st_dev, opened.st_ino), fd
            )
    except OSError:
        return None
    key = (info.st_dev, info.st_ino)
    with _identity_guard:
        if key in _identity_fds:
            return key, _identity_fds[key]
        if not stat.S_ISREG(info.st_mode):
            return None  # not a database: opening it fails later, with its own message
        try:
            fd = os.open(database, os.O_RDWR | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return None
        opened = os.fstat(fd)
        key = (opened.st_dev, opened.st_ino)  # the file opened, if the name moved meanwhile
        return key, _identity_fds.setdefault(key, fd)


def describe_holder(path: Path) -> str:
    """Return who holds the lock at `path`, as written by the holder, in one phrase."""
    try:
        with path.open("rb") as handle:
            text = handle.read(4096).decode("utf-8").strip()
        info = json.loads(text) if text else {}
    except (OSError, ValueError):  # unreadable, not UTF-8 or not JSON: junk bytes
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another finwatt process (it has not written its name yet)"
    # The holder's own words: shown escaped, a junk line cannot reach the terminal raw.
    fields = {key: ascii(str(info.get(key, "?")))[1:-1][:80] for key in ("pid", "host", "since")}
    what = ascii(str(info.get("what", "finwatt")))[1:-1][:80]
    return f"{what} (pid {fields['pid']} on {fields['host']}, since {fields['since']})"


class FileLock:
    """An exclusive flock on `path`; `acquire` then `release`, or use it as a context.

    Args:
        path: the lock file (created if missing; its content is the holder's line).
        what: what the holder is doing, e.g. "finwatt run" or "schedule daemon".

    """

    def __init__(
        self, path: Path, what: str, *, database: Path | None = None, slot: int = 0
    ) -> None:
        self.path = path
        self.what = what
        self._database = database
        self._slot = slot
        self._identity: tuple[int, int, int] | None = None
        self.elsewhere = False
        """True after a refusal by a holder of the same database under another name."""
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if free; returns False (holding nothing) if another holds it."""
        if self._file is not None:
            return True
        handle = self._open()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        except OSError:
            handle.close()
            raise
        if not self._lock_identity():
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
            return False
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "what": self.what,
            "since": iso_z(datetime.now(UTC)),
        }
        try:
            handle.truncate(0)
            handle.write(json.dumps(holder) + "\n")
            handle.flush()
        except OSError:
            pass  # the line only names the holder; a full disk must not refuse the lock
        self._file = handle
        return True

    def _lock_identity(self) -> bool:
        """Lock the database file's identity too; False when another holder has it."""
        self.elsewhere = False
        found = None if self._database is None else _identity_fd(self._database)
        if found is None:
            return True
        (dev, ino), fd = found
        key = (dev, ino, self._slot)
        with _identity_guard:
            if key in _identity_held or not _ofd_lock(fd, self._slot, fcntl.F_WRLCK):
                self.elsewhere = True
                return False
            _identity_held.add(key)
        self._identity = key
        return True

    def _unlock_identity(self) -> None:
        key, self._identity = self._identity, None
        if key is None:
            return
        with _identity_guard:
            _identity_held.discard(key)
            fd = _identity_fds.get(key[:2])
            if fd is not None:
                _ofd_lock(fd, key[2], fcntl.F_UNLCK)

    def _open(self) -> IO[str]:
        """Open the lock file for appending (created if missing).

        Raises:
            LockFileError: the path is a directory or cannot be opened.
        """
        if self.path.is_dir():
            raise LockFileError(
                f"{self.path} is a directory, not a lock file; remove it "
                f"(rmdir {self.path}) and retry"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # "a+": never truncate before holding the lock, or the holder's line is lost
            return self.path.open("a+", encoding="utf-8")
        except OSError as err:
            raise LockFileError(
                f"cannot open the lock file {self.path}: {err.strerror or err}; "
                "fix its permissions or remove it"
            ) from err

    def acquire(
        self,
        *,
        wait_s: float = 0.0,
        poll_s: float = 0.2,
        stop: threading.Event | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """Take the lock, waiting up to `wait_s` seconds (or until `stop` is set).

        Args:
            wait_s: how long to wait for the holder to finish; 0 refuses at once.
            poll_s: how often to retry while waiting.
            stop: a request to give up waiting.
            on_wait: told once, with the holder's description, when waiting begins.

        Raises:
            LockHeldError: still held after `wait_s` (the message names the holder and file).

        """
        deadline = time.monotonic() + wait_s
        told = False
        while not self.try_acquire():
            holder = describe_holder(self.path)
            remaining = deadline - time.monotonic()
            if self.elsewhere:
                holder = "another finwatt process, through another name (a link) of the database,"
            if remaining <= 0 or (stop is not None and stop.is_set()):
                raise LockHeldError(f"{holder} holds {self.path}; wait for it to finish or stop it")
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            if stop is not None:
                stop.wait(min(poll_s, remaining))
            else:
                time.sleep(min(poll_s, remaining))

    def release(self) -> None:
        """Release the lock (idempotent); the file stays, emptied."""
        handle, self._file = self._file, None
        if handle is None:
            return
        try:
            handle.truncate(0)
            handle.flush()
        except OSError:
            pass  # the holder line may stay; the lock itself is released below
        finally:
            self._unlock_identity()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
