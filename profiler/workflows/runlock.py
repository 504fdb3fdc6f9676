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
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
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


def run_lock_path(db_path: Path) -> Path:
    """Return the run lock of the database at `db_path` (`<db>.lock`)."""
    return db_path.with_name(db_path.name + ".lock")


def scheduler_lock_path(db_path: Path) -> Path:
    """Return the scheduler lock of the database at `db_path` (`<db>.schedule.lock`)."""
    return db_path.with_name(db_path.name + ".schedule.lock")


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

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
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
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
