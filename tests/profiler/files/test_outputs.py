"""`profiler.files.outputs`: how each kind of path the user names is written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from profiler.files.outputs import (
    OutputKind,
    OutputPathError,
    OutputWriteError,
    check_output,
    open_output,
    write_output,
)


def test_each_kind_of_path_is_classified(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    assert check_output("-").kind is OutputKind.STDOUT
    assert check_output(tmp_path / "new").kind is OutputKind.NEW
    assert check_output(tmp_path / "file").kind is OutputKind.REPLACE
    assert check_output(tmp_path / "fifo").kind is OutputKind.DIRECT
    assert check_output(Path("/dev/null")).kind is OutputKind.DIRECT


def test_descriptor_aliases_are_written_directly_even_when_redirected_to_a_file() -> None:
    for alias in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/2"):
        assert check_output(Path(alias)).kind is OutputKind.DIRECT, alias


def test_a_directory_and_links_to_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "to-file").symlink_to(tmp_path / "file")
    (tmp_path / "to-dir").symlink_to(tmp_path)
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    for path, words in (
        (tmp_path, "is a directory"),
        (tmp_path / "to-file", "symbolic link"),
        (tmp_path / "to-dir", "is a directory"),
        (tmp_path / "dangling", "symbolic link"),
        (tmp_path / "none" / "x", "does not exist"),
    ):
        with pytest.raises(OutputPathError, match=words):
            check_output(path)


def test_a_link_to_a_device_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "null").symlink_to("/dev/null")
    assert check_output(tmp_path / "null").kind is OutputKind.DIRECT
    write_output(tmp_path / "null", b"discarded")
    assert (tmp_path / "null").is_symlink()


def test_replacing_keeps_mode_and_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    with pytest.raises(RuntimeError, match="half-way"), open_output(target) as stream:
        stream.write("partial")
        raise RuntimeError("half-way")
    assert target.read_text() == "old"
    write_output(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_new_file_takes_the_mode_asked_less_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        write_output(tmp_path / "a", "x")
        write_output(tmp_path / "b", b"x", new_mode=0o600)
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o600


def test_a_write_error_is_a_runtime_error_naming_the_path(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with pytest.raises(OutputWriteError, match="/dev/full"):
        write_output(Path("/dev/full"), "x" * 100_000)
