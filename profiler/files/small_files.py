"""Read a small text file the user (or a job) names, without hanging or filling memory.

A setting or a job may name anything: a FIFO (an `open` for reading waits for a writer
for ever), `/dev/zero` (a read never ends), a directory, a 10 GB log. `read_small_text`
opens without blocking, accepts only a regular file, reads at most `max_bytes` and
decodes UTF-8 (a leading byte-order mark dropped), and says in one phrase why it could
not; callers put that phrase in their one-line error (docs/decisions.md#hostile-input). Used
for the BMC password files, `host_curve` and `carbon_table` CSVs and `FINWATT_UNITS_FILE`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

KIB = 1024


class SmallFileError(Exception):
    """Why a small file could not be read, as a phrase (`not a regular file (a FIFO)`).

    Attributes:
        missing: the file does not exist (callers may treat that as "not given").
    """

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


def file_kind(mode: int) -> str:
    """Return what a file of `mode` is, as a phrase (`a FIFO`, `a directory`)."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def read_small_text(path: Path, *, max_bytes: int) -> str:
    """Return the text of a regular file of at most `max_bytes` bytes.

    Args:
        path: the file (a symbolic link to a regular file is followed).
        max_bytes: the largest size accepted.

    Raises:
        SmallFileError: missing, unreadable, not a regular file, larger than
            `max_bytes`, or not UTF-8 text.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as err:
        missing = err.errno == errno.ENOENT
        raise SmallFileError(err.strerror or str(err), missing=missing) from err
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SmallFileError(f"not a regular file ({file_kind(mode)})")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise SmallFileError(err.strerror or str(err)) from err
    finally:
        os.close(fd)
    if size > max_bytes:
        raise SmallFileError(f"larger than {size_text(max_bytes)}")
    try:
        return b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SmallFileError(f"not UTF-8 text (byte {err.start})") from err


def size_text(n_bytes: int) -> str:
    """Return a size in bytes as text (`4 KiB`, `2 GiB`)."""
    if n_bytes >= KIB**3:
        return f"{n_bytes / KIB**3:.3g} GiB"
    if n_bytes >= KIB * KIB:
        return f"{n_bytes / (KIB * KIB):g} MiB"
    return f"{n_bytes / KIB:g} KiB" if n_bytes >= KIB else f"{n_bytes} bytes"
