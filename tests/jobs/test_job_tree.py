"""The job's tree read from /proc's child lists: the same figures as psutil, no host scan."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from profiler.sensors import job_tree

TREE = (
    "import subprocess, sys, time\n"
    "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']) "
    "for _ in range(2)]\n"
    "sum(range(3 * 10**6))\n"
    "time.sleep(30)\n"
)


@pytest.fixture
def tree() -> Iterator[psutil.Process]:
    """A root with two sleeping children, after it has burnt some CPU."""
    proc = subprocess.Popen([sys.executable, "-c", TREE])
    root = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while len(root.children()) < 2 or root.cpu_times().user < 0.05:
        assert time.monotonic() < deadline, "the test tree did not start"
        time.sleep(0.05)
    yield root
    for process in [*root.children(recursive=True), root]:
        process.kill()
    proc.wait()


def test_the_tree_is_what_psutil_finds(tree: psutil.Process) -> None:
    members = [tree, *tree.children(recursive=True)]
    reading = job_tree.read_tree(tree.pid)
    assert sorted(reading.pids) == sorted(p.pid for p in members)
    expected = sum(
        t.user + t.system + t.children_user + t.children_system
        for t in (p.cpu_times() for p in members)
    )
    assert reading.cpu_s == pytest.approx(expected, abs=0.05)  # the root is asleep
    rss = sum(p.memory_info().rss for p in members)
    assert reading.rss_bytes == pytest.approx(rss, rel=0.05)


def test_reading_the_tree_scans_no_other_process(
    tree: psutil.Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("read_tree scanned the host's processes")

    monkeypatch.setattr(psutil.Process, "children", no_scan)
    monkeypatch.setattr(psutil, "process_iter", no_scan)
    monkeypatch.setattr(psutil, "pids", no_scan)
    assert len(job_tree.read_tree(tree.pid).pids) == 3


def test_a_gone_root_reads_as_zero() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert job_tree.read_tree(proc.pid) == job_tree.TreeReading(0.0, 0, ())
