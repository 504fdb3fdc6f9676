"""`finwatt import` of what is not a document: bounded, type-checked, one line, exit 2.

`finwatt import /dev/zero` grew to 24 GB until the kernel killed it, and under a memory
limit it ended in a `MemoryError` traceback. Each case here runs the real CLI under a
512 MiB address-space limit (RLIMIT_AS) and must end in one line, exit 2, with the run
already stored untouched. The reader's own limits (size cap, idle deadline, first byte)
are tested directly with small figures.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from profiler.files.bounded_reads import read_bounded_bytes
from profiler.files.small_files import SmallFileError
from tests.fakes.cli import FINWATT, run_finwatt, run_finwatt_process
from tests.robustness.contract import BASE_DOCUMENT, Home, assert_one_line_error, row_counts

MEMORY_LIMIT = 512 * 2**20


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _import(home: Home, source: str, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    return _limited_finwatt(home, "import", source, stdin=stdin)


def _limited_finwatt(
    home: Home, *args: str, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FINWATT, *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **home.env},
        preexec_fn=_limited,
        check=False,
    )


@pytest.fixture
def seeded(home: Home) -> Home:
    """A home with one imported run, which no refused import may touch."""
    document = home.root / "base.json"
    document.write_text(json.dumps(BASE_DOCUMENT))
    assert run_finwatt("import", str(document), env=home.env).returncode == 0
    return home


@pytest.fixture
def zero_fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO that a writer fills with zero bytes for as long as anyone reads."""
    fifo = tmp_path / "zeros"
    os.mkfifo(fifo)

    def write() -> None:
        try:
            with fifo.open("wb") as out:
                while True:
                    out.write(bytes(2**20))
        except (BrokenPipeError, OSError):
            return

    threading.Thread(target=write, daemon=True).start()
    yield fifo


def test_dev_zero_is_refused_as_a_device(seeded: Home) -> None:
    before = row_counts(seeded.db)
    assert_one_line_error(_import(seeded, "/dev/zero"), 2, "/dev/zero", "a character device")
    assert row_counts(seeded.db) == before


def test_stdin_from_dev_zero_is_refused(seeded: Home) -> None:
    with Path("/dev/zero").open("rb") as zeros:
        done = _import(seeded, "-", stdin=zeros.fileno())
    assert_one_line_error(done, 2, "stdin", "a character device")


def test_a_fifo_of_zeros_stops_at_its_first_byte(seeded: Home, zero_fifo: Path) -> None:
    before = row_counts(seeded.db)
    assert_one_line_error(_import(seeded, str(zero_fifo)), 2, "starts with byte 0x00")
    assert row_counts(seeded.db) == before


def test_a_directory_is_refused(seeded: Home) -> None:
    assert_one_line_error(_import(seeded, str(seeded.root)), 2, "a directory")


def test_a_huge_file_is_refused_by_its_size_unread(seeded: Home) -> None:
    huge = seeded.root / "huge.json"
    with huge.open("wb") as sparse:
        sparse.truncate(100 * 2**30)  # 100 GiB, sparse: no disk used
    assert_one_line_error(_import(seeded, str(huge)), 2, "100 GiB", "larger than 2 GiB")


def test_serve_with_dev_zero_as_its_web_config_is_one_line(home: Home) -> None:
    """The other file the issue found read whole: `serve --web-config /dev/zero`."""
    done = _limited_finwatt(home, "serve", "--web-config", "/dev/zero", "--port", "0")
    assert_one_line_error(done, 2, "/dev/zero", "a character device")


def test_a_good_document_still_imports_from_a_pipe(home: Home) -> None:
    text = json.dumps({**BASE_DOCUMENT, "run": {**BASE_DOCUMENT["run"], "id": "piped"}})
    done = run_finwatt_process("import", "-", env=home.env, stdin=" \n" + text)  # a real pipe
    assert done.returncode == 0, done.stderr
    assert "imported run piped" in done.stdout


def test_the_reader_stops_a_pipe_at_its_cap(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.write(write, b"{" + b" " * 5000)
    os.close(write)
    fifo_like = tmp_path / "fd"
    fifo_like.symlink_to(f"/proc/self/fd/{read}")
    with pytest.raises(SmallFileError, match="larger than 4 KiB"):
        read_bounded_bytes(fifo_like, max_bytes=4096, starts_with=b"{")
    os.close(read)


def test_the_reader_gives_up_on_a_silent_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "silent"
    os.mkfifo(fifo)
    with pytest.raises(SmallFileError, match=r"nothing came for 0\.2 s"):
        read_bounded_bytes(fifo, max_bytes=4096, idle_s=0.2)


def test_the_reader_accepts_white_space_and_a_bom_before_the_brace(tmp_path: Path) -> None:
    document = tmp_path / "d.json"
    document.write_bytes(b"\xef\xbb\xbf \n\t{}")
    assert read_bounded_bytes(document, max_bytes=64, starts_with=b"{").endswith(b"{}")
    document.write_bytes(b"  [1]")
    with pytest.raises(SmallFileError, match="starts with byte 0x5b"):
        read_bounded_bytes(document, max_bytes=64, starts_with=b"{")
