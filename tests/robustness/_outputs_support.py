"""Shared parts of the output, full-disk and database-file robustness tests (issue 14).

A real small tmpfs stands in for a full or read-only disk: mounting needs root (CI runs
`.ci/run` as root). Where mounting is refused the test is skipped with the reason in its
skip line ("NOT TESTED: ..."), except under `CI=true`, where that is a failure: the
full-disk contract must be checked in CI.
"""

from __future__ import annotations

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
from tests.fakes.cli import run_finwatt

__all__ = [
    "assert_one_error_line",
    "filled",
    "make_database",
    "read_only_file",
    "read_only_remount",
    "run_finwatt",
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
        run = store.create_run("monitor", label=label, interval_s=1.0, pid=0)
        store.add_devices(run.id, [cpu])
        rows = [
            SampleRow(device_id="cpu:0", t=float(t), util=0.5, power_w=10.0, energy_j=10.0 * t)
            for t in range(samples)
        ]
        store.add_samples(run.id, rows)
        store.finish_run(run.id, "complete")
    return run.id


def table_rows(path: Path) -> dict[str, int]:
    """Rows per finwatt table, read through a read-only store."""
    with Store(path, read_only=True) as store:
        return store.table_rows()


def _refuse(reason: str) -> None:
    message = f"NOT TESTED: a real tmpfs is needed and {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: the full-disk and read-only cases must run here)")
    pytest.skip(message)


@contextmanager
def tmpfs(where: Path, size_kib: int) -> Iterator[Path]:
    """Mount a real tmpfs of `size_kib` KiB at `where` (created); unmount after."""
    if shutil.which("mount") is None:
        _refuse("there is no mount command")
    if os.geteuid() != 0:
        _refuse("mounting one needs root (CI runs .ci/run as root)")
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        _refuse(f"mount refused: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def filled(mount: Path, leave_kib: int) -> Path:
    """Fill the tmpfs at `mount` until `leave_kib` KiB are left; return the filler file."""
    filler = mount / "filler"
    free_kib = shutil.disk_usage(mount).free // 1024
    with filler.open("ab") as out:
        out.write(b"\0" * max(0, free_kib - leave_kib) * 1024)
    return filler


def read_only_remount(mount: Path) -> None:
    """Remount the tmpfs at `mount` read-only (even root cannot write it then)."""
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)


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
    bound = subprocess.run(
        ["mount", "--bind", str(path), str(path)], capture_output=True, check=False
    )
    if bound.returncode != 0:
        _refuse(f"a read-only bind mount was refused: {bound.stderr.decode().strip()}")
    try:
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(path)], capture_output=True, check=True
        )
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
