"""Shared parts of the output, full-disk and database-file robustness tests.

A real small tmpfs stands in for a full or read-only disk. The helpers call mount(2)
themselves (through libc, so no `mount` program is needed) and decide from its errno:

- mount(2) refused with EPERM (not root, or root without CAP_SYS_ADMIN as in an
  unprivileged container): the test is skipped, in every environment, with a skip line
  that starts "NOT TESTED:" and says why (`pytest -rs` lists it);
- no mount(2) at all (not Linux): skipped the same way;
- any other failure (root, mount(2) present, yet it failed: ENODEV, EINVAL, ENOMEM, ...):
  under `CI=true` the test fails, because CI (`.ci/run`, as root) must check the
  full-disk and read-only contracts; elsewhere it is skipped the same way.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from tests.fakes.cli import run_finwatt, run_finwatt_process

__all__ = [
    "assert_one_error_line",
    "filled",
    "make_database",
    "read_only_file",
    "read_only_remount",
    "run_finwatt",
    "run_finwatt_process",
    "sha256",
    "table_rows",
    "tmpfs",
]


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert `result` exited `code` with exactly one `finwatt: error:` line; return it."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("finwatt: error: "), lines[0]
    return lines[0]


def sha256(path: Path) -> str:
    """The file's SHA-256, to show it was not modified."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_database(path: Path, *, samples: int = 30, label: str = "fixture") -> str:
    """Store one complete monitor run with `samples` one-second samples; return its id."""
    cpu = DeviceInfo(
        device_id="cpu:0",
        kind="cpu",
        model="test cpu",
        logical_cores=2,
        provenance="estimated:linear-tdp",
    )
    with Store(path) as store:
        run = store.runs.create("monitor", label=label, interval_s=1.0, pid=0)
        store.devices.add(run.id, [cpu])
        rows = [
            SampleRow(device_id="cpu:0", t=float(t), util=0.5, power_w=10.0, energy_j=10.0 * t)
            for t in range(samples)
        ]
        store.samples.add(run.id, rows)
        store.runs.finish(run.id, "complete")
    return run.id


def table_rows(path: Path) -> dict[str, int]:
    """Rows per finwatt table, read through a read-only store."""
    with Store(path, read_only=True) as store:
        return store.housekeeping.table_rows()


_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MNT_DETACH = 2


def _refuse(reason: str, *, fail_in_ci: bool) -> None:
    """Skip the test saying why; with `fail_in_ci` under `CI=true`, fail it instead."""
    message = f"NOT TESTED: a real tmpfs or mount is needed and {reason}"
    if fail_in_ci and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: the full-disk and read-only cases must run here)")
    pytest.skip(message)


def _mount(
    source: str | None, target: Path, fstype: str | None, flags: int, data: str | None = None
) -> None:
    """Call mount(2); where it fails, skip or fail the test as the module docstring says."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "mount"):
        _refuse("this system has no mount(2)", fail_in_ci=False)

    def text(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    done = libc.mount(
        text(source), text(str(target)), text(fstype), ctypes.c_ulong(flags), text(data)
    )
    if done == 0:
        return
    code = ctypes.get_errno()
    why = f"mount(2) of {target} was refused: {errno.errorcode.get(code, code)} {os.strerror(code)}"
    if code == errno.EPERM:
        _refuse(f"{why} (needs root with CAP_SYS_ADMIN)", fail_in_ci=False)
    _refuse(why, fail_in_ci=True)


def _unmount(target: Path) -> None:
    """Detach the mount at `target` (lazily, like `umount -l`)."""
    ctypes.CDLL(None, use_errno=True).umount2(str(target).encode(), _MNT_DETACH)


@contextmanager
def tmpfs(where: Path, size_kib: int) -> Iterator[Path]:
    """Mount a real tmpfs of `size_kib` KiB at `where` (created); unmount after."""
    where.mkdir(parents=True, exist_ok=True)
    _mount("tmpfs", where, "tmpfs", 0, f"size={size_kib}k,mode=0755")
    try:
        yield where
    finally:
        _unmount(where)


def filled(mount: Path, leave_kib: int) -> Path:
    """Fill the tmpfs at `mount` until `leave_kib` KiB are left; return the filler file.

    Written in 64-KiB pieces, the last cut to size; a writer on the same disk may take the
    last bytes meanwhile, so ENOSPC just ends the filling.
    """
    filler = mount / "filler"
    with filler.open("ab", buffering=0) as out:
        while (free_kib := shutil.disk_usage(mount).free // 1024) > leave_kib:
            try:
                out.write(b"\0" * min(64, free_kib - leave_kib) * 1024)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                break
    return filler


def read_only_remount(mount: Path) -> None:
    """Remount the tmpfs at `mount` read-only (even root cannot write it then)."""
    _mount(None, mount, None, _MS_REMOUNT | _MS_RDONLY)


@contextmanager
def read_only_file(path: Path) -> Iterator[Path]:
    """Make `path` read-only for this process: mode 0444, and for root a read-only bind mount.

    Root ignores file modes, so as root the file is bind-mounted read-only onto itself
    (its folder stays writable); where that is refused the case is not tested (`_refuse`).
    """
    path.chmod(0o444)
    if os.geteuid() != 0:
        yield path
        return
    _mount(str(path), path, None, _MS_BIND)
    try:
        _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        yield path
    finally:
        _unmount(path)
