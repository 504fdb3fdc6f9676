"""A closed or broken stdout: what `profiler.cli.main` does about it, in one place.

Two cases, as other Unix tools treat them (docs/design.md#exit-codes):

- a broken pipe (`finwatt runs | head -0`): the reader has gone, so the command ends
  silently with exit 1; stdout is pointed at /dev/null so the interpreter's last flush
  cannot print a traceback;
- a closed stdout (`finwatt runs >&-`): the first write fails with one line on stderr
  and exit 1, instead of a traceback or output silently dropped.

Either way what the command recorded is already committed: output comes after storing.
`guard_std_fds` also puts /dev/null on a closed fd 0, 1 or 2 before anything is opened,
so the database (or a log) never gets fd 1 and a job's or library's stdout write can
never land in it.
"""

from __future__ import annotations

import errno
import io
import os
import sys

CLOSED_STDOUT_LINE = (
    "stdout is closed, so nothing was printed (what the command recorded is stored); "
    "run it with stdout open, e.g. > FILE or > /dev/null"
)


class ClosedStdoutError(OSError):
    """A write to a stdout that was closed when finwatt started."""

    def __init__(self) -> None:
        super().__init__(errno.EBADF, "stdout is closed")


class ClosedStdout(io.TextIOBase):
    """`sys.stdout` when fd 1 was closed at start: every write raises `ClosedStdoutError`."""

    def write(self, text: str) -> int:
        """Refuse the write: stdout is closed."""
        raise ClosedStdoutError

    def writable(self) -> bool:
        """Whether writes are accepted: they are not."""
        return False

    def isatty(self) -> bool:
        """Whether stdout is a terminal: it is not."""
        return False


def guard_std_fds() -> None:
    """Put /dev/null on each of fd 0, 1 and 2 that is closed; a closed stdout refuses writes."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            if fd == 1:
                sys.stdout = ClosedStdout()
            elif fd == 2:
                sys.stderr = open(fd, "w", closefd=False)  # noqa: SIM115 (lives as long as sys.stderr)


def stdout_failure(err: OSError) -> str | None:
    """Say how `main` ends for `err`: None if stdout is not the cause.

    Returns:
        "" for a broken pipe on stdout (end silently, exit 1; stdout now /dev/null),
        the one line to print for a closed stdout, None for any other error.
    """
    if isinstance(err, ClosedStdoutError):
        return CLOSED_STDOUT_LINE
    if isinstance(err, BrokenPipeError) and _stdout_broken():
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        return ""
    return None


def _stdout_broken() -> bool:
    """Whether fd 1 is a pipe whose reader has gone (so the EPIPE was stdout's own)."""
    import select

    poller = select.poll()
    poller.register(1, select.POLLOUT)
    return any(event & select.POLLERR for _, event in poller.poll(0))
