"""Files the user names (`export -o`, `report -o`, `--pdf`): the one way finwatt writes them.

The policy, by what the path is when the command starts (README, "Output files"):

- `-`: standard output.
- a regular file, or no file yet: written beside the target and renamed over it, so a
  failed write leaves the old file (or nothing) behind. A replaced file keeps its mode
  and owner (the owner where the process may set it: root, or the same user); a new one
  is `0644` less the umask.
- anything else that exists and is not a directory (a character or block device such
  as `/dev/null`, a FIFO, a socket): opened and written directly, never replaced.
- a directory: refused (exit 2), naming a file to use instead.
- a symbolic link: refused (exit 2) unless it leads to something written directly (a
  device, a FIFO) or is one of the process's own descriptors (`/dev/stdout`,
  `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, which the shell may have redirected to a
  file): finwatt never follows a link to replace the file it points at.

A path that cannot be used (no such folder, no permission) is `OutputPathError` (exit 2);
a write that fails on the way (disk full, I/O error) is `OutputWriteError` (exit 1), and
then the target is as it was.
"""

from __future__ import annotations

import contextlib
import enum
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO, cast

from profiler.model.errors import FinwattInputError, FinwattRuntimeError

STDOUT = "-"
"""The output name that means standard output."""
NEW_FILE_MODE = 0o644
"""Mode of a new output file, before the umask."""
_MAX_LINK_HOPS = 40


class OutputPathError(FinwattInputError):
    """The output path cannot be written (a directory, a link, no such folder): exit 2."""


class OutputWriteError(FinwattRuntimeError):
    """Writing the output failed part-way (disk full, I/O error); the target is unchanged."""


class OutputKind(enum.Enum):
    """How an output path is written."""

    STDOUT = "stdout"
    NEW = "new"
    REPLACE = "replace"
    DIRECT = "direct"


@dataclass(frozen=True)
class OutputTarget:
    """An output path checked against the policy, before anything is written.

    Attributes:
        path: the path as the user named it.
        kind: how it will be written.
        existing: the regular file's status when `kind` is REPLACE, else None.
    """

    path: Path
    kind: OutputKind
    existing: os.stat_result | None = None

    @property
    def is_file(self) -> bool:
        """True when the output ends up in a regular file at `path` (NEW or REPLACE)."""
        return self.kind in (OutputKind.NEW, OutputKind.REPLACE)


def check_output(path: Path | str) -> OutputTarget:
    """Check `path` against the output policy and say how it will be written.

    Call it before long work so that a bad path fails first; `open_output` calls it again.

    Raises:
        OutputPathError: a directory, a link finwatt does not follow, a missing folder.
    """
    if str(path) == STDOUT:
        return OutputTarget(Path(STDOUT), OutputKind.STDOUT)
    target = Path(path)
    try:
        link_status = os.lstat(target)
    except FileNotFoundError:
        return _new_file(target)
    except OSError as err:
        raise OutputPathError(
            f"cannot write {target}: {err.strerror}; choose another path"
        ) from err
    if stat.S_ISLNK(link_status.st_mode):
        return _through_link(target)
    if stat.S_ISDIR(link_status.st_mode):
        raise _directory_error(target)
    if stat.S_ISREG(link_status.st_mode):
        return OutputTarget(target, OutputKind.REPLACE, link_status)
    return OutputTarget(target, OutputKind.DIRECT)


def _new_file(target: Path) -> OutputTarget:
    parent = target.parent
    if not parent.is_dir():
        raise OutputPathError(
            f"cannot write {target}: folder {parent} does not exist; create it or choose "
            "another path"
        )
    return OutputTarget(target, OutputKind.NEW)


def _directory_error(target: Path) -> OutputPathError:
    return OutputPathError(
        f"{target} is a directory; name a file in it, e.g. {target / 'finwatt-output'}"
    )


def _through_link(target: Path) -> OutputTarget:
    try:
        status = target.stat()
    except OSError as err:
        raise OutputPathError(
            f"{target} is a symbolic link to {target.readlink()}, which cannot be "
            f"opened ({err.strerror}); finwatt does not write through links: remove the "
            "link or choose another path"
        ) from err
    if stat.S_ISDIR(status.st_mode):
        raise _directory_error(target)
    if not stat.S_ISREG(status.st_mode) or _is_descriptor_alias(target):
        return OutputTarget(target, OutputKind.DIRECT)
    raise OutputPathError(
        f"{target} is a symbolic link to {os.path.realpath(target)}; finwatt does not "
        "replace a file through a link: pass the file's own path, or remove the link"
    )


def _is_descriptor_alias(target: Path) -> bool:
    """True for `/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1` and the like."""
    where = Path.cwd() / target
    if os.path.realpath(where.parent).startswith("/proc/"):
        return True
    for _ in range(_MAX_LINK_HOPS):
        if not where.is_symlink():
            return False
        where = Path(os.path.normpath(where.parent / where.readlink()))
        if str(where).startswith("/proc/"):
            return True
    return False


@contextmanager
def open_output(path: Path | str, *, new_mode: int = NEW_FILE_MODE) -> Iterator[TextIO]:
    """Yield a text stream (UTF-8) for the output `path`, written by the module's policy.

    Raises:
        OutputPathError: the path cannot be used (exit 2).
        OutputWriteError: writing failed part-way; the target is unchanged (exit 1).
    """
    with _open_output(check_output(path), False, new_mode) as stream:
        yield cast(TextIO, stream)


@contextmanager
def _open_output(target: OutputTarget, binary: bool, new_mode: int) -> Iterator[IO[Any]]:
    if target.kind is OutputKind.STDOUT:
        stream: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    if target.kind is OutputKind.DIRECT:
        with _write_errors(target.path), _open_direct(target.path, binary) as direct:
            yield direct
        return
    with _replace(target, binary, new_mode) as replacing:
        yield replacing


@contextmanager
def _open_direct(path: Path, binary: bool) -> Iterator[IO[Any]]:
    try:
        stream: IO[Any] = (
            path.open("wb") if binary else path.open("w", encoding="utf-8", newline="")
        )
    except OSError as err:
        raise OutputPathError(f"cannot write {path}: {err.strerror}; choose another path") from err
    with stream:
        yield stream


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as err:
        raise OutputWriteError(
            f"writing {path} failed: {err.strerror or err}; free space or choose another path"
        ) from err


@contextmanager
def _replace(target: OutputTarget, binary: bool, new_mode: int) -> Iterator[IO[Any]]:
    path = target.path
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as err:
        raise OutputPathError(
            f"cannot write {path}: {err.strerror} in {path.parent}; choose another path"
        ) from err
    tmp = Path(tmp_name)
    try:
        with _write_errors(path):
            stream: IO[Any] = (
                os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
            )
            with stream:
                yield stream
                stream.flush()
                os.fsync(stream.fileno())
                _set_mode_and_owner(stream.fileno(), target.existing, new_mode)
            tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _set_mode_and_owner(fd: int, existing: os.stat_result | None, new_mode: int) -> None:
    if existing is None:
        umask = os.umask(0o022)
        os.umask(umask)
        os.fchmod(fd, new_mode & ~umask)
        return
    os.fchmod(fd, stat.S_IMODE(existing.st_mode))
    # another user's file becomes ours unless we may give it away (root)
    with contextlib.suppress(PermissionError):
        os.fchown(fd, existing.st_uid, existing.st_gid)


def write_output(path: Path | str, data: str | bytes, *, new_mode: int = NEW_FILE_MODE) -> None:
    """Write all of `data` to the output `path` (module policy).

    Raises:
        OutputPathError: the path cannot be used (exit 2).
        OutputWriteError: writing failed part-way; the target is unchanged (exit 1).
    """
    with _open_output(check_output(path), isinstance(data, bytes), new_mode) as stream:
        stream.write(data)
