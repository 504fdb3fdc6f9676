"""Files the user names: `export -o`, `report -o`, `report --pdf` (docs/decisions.md#hostile-input).

Through the real CLI. Regular files are replaced atomically and keep their mode; devices,
FIFOs, `-` and `/dev/stdout` are written directly and stay what they are; a directory, a
dangling link or a link to a file is refused with one line (exit 2) and nothing changes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from tests.robustness._outputs_support import (
    assert_one_error_line,
    filled,
    make_database,
    run_finwatt,
    run_finwatt_process,
    sha256,
    tmpfs,
)


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "f.db"
    return db, make_database(db)


def _export(db: Path, run_id: str, target: str) -> object:
    return run_finwatt("export", run_id, "-o", target, "--db", str(db))


def test_export_to_dev_null_leaves_the_device_a_device(stored: tuple[Path, str]) -> None:
    db, run_id = stored
    result = run_finwatt("export", run_id, "-o", "/dev/null", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def test_export_to_dev_stdout_writes_the_document_to_stdout(stored: tuple[Path, str]) -> None:
    db, run_id = stored
    # a child of its own: /dev/stdout is file descriptor 1, which only a process has
    result = run_finwatt_process("export", run_id, "-o", "/dev/stdout", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["run"]["id"] == run_id


def test_export_dash_is_stdout_and_says_nothing_else(stored: tuple[Path, str]) -> None:
    db, run_id = stored
    result = run_finwatt("export", run_id, "-o", "-", "--db", str(db))
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["run"]["id"] == run_id


def _over_an_old_file(
    stored: tuple[Path, str], target: Path, mode: int, command: str
) -> subprocess.CompletedProcess[str]:
    """Run `finwatt COMMAND RUN -o TARGET` over an old file of `mode`; it must succeed."""
    db, run_id = stored
    target.write_text("old")
    target.chmod(mode)
    result = run_finwatt(command, run_id, "-o", str(target), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return result


def test_reexport_over_a_private_file_keeps_it_private(
    stored: tuple[Path, str], tmp_path: Path
) -> None:
    run_id = stored[1]
    target = tmp_path / "private.json"
    _over_an_old_file(stored, target, 0o600, "export")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["run"]["id"] == run_id
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_new_export_is_0644_less_the_umask(stored: tuple[Path, str], tmp_path: Path) -> None:
    db, run_id = stored
    umask = os.umask(0o022)
    os.umask(umask)
    result = run_finwatt("export", run_id, "-o", str(tmp_path / "new.json"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644 & ~umask


def test_export_to_a_directory_is_one_line_exit_2(stored: tuple[Path, str], tmp_path: Path) -> None:
    db, run_id = stored
    line = assert_one_error_line(
        run_finwatt("export", run_id, "-o", str(tmp_path), "--db", str(db)), 2
    )
    assert "is a directory" in line


@pytest.mark.parametrize("command", ["export", "report"])
def test_a_link_to_a_file_is_refused_and_its_target_unchanged(
    stored: tuple[Path, str], tmp_path: Path, command: str
) -> None:
    db, run_id = stored
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "out.html"
    link.symlink_to(victim)
    before = sha256(victim)
    line = assert_one_error_line(run_finwatt(command, run_id, "-o", str(link), "--db", str(db)), 2)
    assert "symbolic link" in line
    assert sha256(victim) == before and link.is_symlink()


def test_a_dangling_link_is_refused_and_nothing_is_created(
    stored: tuple[Path, str], tmp_path: Path
) -> None:
    db, run_id = stored
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "nowhere.json")
    assert_one_error_line(run_finwatt("export", run_id, "-o", str(link), "--db", str(db)), 2)
    assert not (tmp_path / "nowhere.json").exists()


def test_a_missing_folder_is_one_line_exit_2(stored: tuple[Path, str], tmp_path: Path) -> None:
    db, run_id = stored
    target = tmp_path / "no" / "such" / "out.json"
    line = assert_one_error_line(
        run_finwatt("export", run_id, "-o", str(target), "--db", str(db)), 2
    )
    assert "does not exist" in line


def test_export_to_a_fifo_writes_into_it(stored: tuple[Path, str], tmp_path: Path) -> None:
    db, run_id = stored
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run_finwatt("export", run_id, "-o", str(fifo), "--db", str(db))
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(received[0])["run"]["id"] == run_id
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_report_to_stdout_prints_the_html_only(stored: tuple[Path, str]) -> None:
    db, run_id = stored
    result = run_finwatt("report", run_id, "-o", "-", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().lower().startswith("<!doctype html")


def test_report_replaces_an_old_report_keeping_its_mode(
    stored: tuple[Path, str], tmp_path: Path
) -> None:
    target = tmp_path / "r.html"
    result = _over_an_old_file(stored, target, 0o640, "report")
    assert result.stdout.strip() == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() != "old"


def test_a_pdf_through_a_link_is_refused_before_any_work(
    stored: tuple[Path, str], tmp_path: Path
) -> None:
    db, run_id = stored
    victim = tmp_path / "victim.pdf"
    victim.write_bytes(b"%PDF keep")
    link = tmp_path / "out.pdf"
    link.symlink_to(victim)
    html = tmp_path / "r.html"
    result = run_finwatt("report", run_id, "-o", str(html), "--pdf", str(link), "--db", str(db))
    assert "symbolic link" in assert_one_error_line(result, 2)
    assert not html.exists() and victim.read_bytes() == b"%PDF keep"


def test_a_failed_export_leaves_the_old_file_and_no_temporary(
    stored: tuple[Path, str], tmp_path: Path
) -> None:
    db, run_id = stored
    with tmpfs(tmp_path / "mnt", 512) as mount:
        target = mount / "out.json"
        target.write_text("the old export")
        filled(mount, 0)
        line = assert_one_error_line(
            run_finwatt("export", run_id, "-o", str(target), "--db", str(db)), 1
        )
        assert "No space left" in line
        assert target.read_text() == "the old export"
        assert sorted(p.name for p in mount.iterdir()) == ["filler", "out.json"]
