"""Read a document the user names (a file, a pipe, stdin) with a size cap and an idle deadline.

`finwatt import /dev/zero` once grew to 24 GB until the kernel killed it; a directory, a
FIFO nobody writes to or a 100 GB file must end in one line too. `read_bounded_bytes`
accepts a regular file (refused by its size before a byte is read), a FIFO or a socket
(a pipe from another command, or stdin), and nothing else (`/dev/zero` is a character
device); it reads at most `max_bytes`, gives up when nothing arrives for `idle_s`, and
can check the first byte that is not white space (a JSON document starts with `{`), so
an endless stream of zeros or junk stops at its first chunk. Memory stays at most
`max_bytes` plus one chunk (docs/decisions.md#hostile-input).
"""

from __future__ import annotations

import os
import select
import stat
from pathlib import Path

from profiler.files.small_files import SmallFileError, file_kind, size_text

CHUNK_BYTES = 2**20
"""Bytes asked for per read."""
DOCUMENT_MAX_BYTES = 2 * 2**30
"""The largest interchange document `finwatt import` reads: 2 GiB, about 14 million
samples (an export of 14 days at 1 s of 4 devices is about 0.7 GiB)."""
IDLE_S = 120.0
"""Seconds a pipe may stay silent before the read gives up."""
_BLANK = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


def read_bounded_bytes(
    path: Path | None,
    *,
    max_bytes: int,
    idle_s: float = IDLE_S,
    starts_with: bytes | None = None,
) -> bytes:
    """Return the bytes of a regular file, a FIFO or stdin, at most `max_bytes` of them.

    Args:
        path: the file; None reads standard input (left open).
        max_bytes: the largest document accepted.
        idle_s: the longest wait for the next bytes of a pipe.
        starts_with: when given, the first byte after white space (and a UTF-8
            byte-order mark) must be this one.

    Raises:
        SmallFileError: missing, unreadable, of another type, larger than `max_bytes`,
            silent for `idle_s`, or not starting with `starts_with`; the message is a phrase.
    """
    if path is None:
        fd = 0
    else:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError as err:
            raise SmallFileError(err.strerror or str(err), missing=err.errno == 2) from err
    try:
        return _read(fd, max_bytes, idle_s, starts_with, stdin=path is None)
    except OSError as err:
        raise SmallFileError(err.strerror or str(err)) from err
    finally:
        if path is not None:
            os.close(fd)


def _read(
    fd: int, max_bytes: int, idle_s: float, starts_with: bytes | None, *, stdin: bool
) -> bytes:
    info = os.fstat(fd)
    regular = stat.S_ISREG(info.st_mode)
    if not (regular or stat.S_ISFIFO(info.st_mode) or (stdin and stat.S_ISSOCK(info.st_mode))):
        allowed = "a regular file or a pipe" if stdin else "a regular file or a FIFO"
        raise SmallFileError(f"{file_kind(info.st_mode)}, not {allowed}")
    if regular and info.st_size > max_bytes:
        raise SmallFileError(f"{size_text(info.st_size)}, larger than {size_text(max_bytes)}")
    data = bytearray()
    unchecked = starts_with is not None
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    while True:
        if not regular and not poller.poll(idle_s * 1000):
            raise SmallFileError(f"nothing came for {idle_s:g} s")
        try:
            chunk = os.read(fd, min(CHUNK_BYTES, max_bytes + 1 - len(data)))
        except BlockingIOError:
            continue
        if not chunk:
            return bytes(data)
        if unchecked:
            unchecked = _unchecked(chunk.removeprefix(_BOM) if not data else chunk, starts_with)
        data += chunk
        if len(data) > max_bytes:
            raise SmallFileError(f"larger than {size_text(max_bytes)}")


def _unchecked(chunk: bytes, starts_with: bytes | None) -> bool:
    """False once the chunk's first byte after white space is `starts_with`; raise if not.

    True while the document so far is white space only.
    """
    text = chunk.lstrip(_BLANK)
    if not text or starts_with is None:
        return bool(starts_with) and not text
    if not text.startswith(starts_with):
        raise SmallFileError(f"starts with byte 0x{text[0]:02x}, not {starts_with.decode()!r}")
    return False
