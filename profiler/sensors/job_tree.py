"""A job's process tree: CPU seconds, resident memory and members, read from /proc.

`finwatt exec` follows the command it started by process-tree accounting (no transient
cgroup: that needs systemd-run or a writable cgroup v2 subtree, which a user's shell
rarely has): each tick it walks the tree below the job's root process through the
kernel's own child lists (`/proc/<pid>/task/<tid>/children`), so a tick reads only the
job's processes, however many others the host runs (`psutil.Process.children` scans
every process on the host to find them), and sums, per live process, its own CPU
time plus the times of its children it has already reaped (`cutime`/`cstime` in
/proc/<pid>/stat, psutil's `children_user`/`children_system`), so a child that starts and
exits between two ticks is still counted once its parent reaps it. When the root exits,
`os.wait4`'s rusage (the root and every descendant waited for) closes the account.

Each process's figures come from one read of `/proc/<pid>/stat` (utime, stime, cutime,
cstime: fields 14-17, clock ticks; rss: field 24, pages), the fields psutil reads.
Where the kernel has no child lists (built without CONFIG_PROC_CHILDREN) psutil's
host-wide walk is the fallback.

Check by hand: `ps -o pid,ppid,time,rss --ppid <pid>`; `cat /proc/<pid>/stat` fields 14-17;
`cat /proc/<pid>/task/*/children`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from profiler.sensors.cpu import busy_and_total


@dataclass(frozen=True)
class TreeReading:
    """One reading of a process tree.

    Attributes:
        cpu_s: CPU seconds of the tree so far (live processes + the children they reaped).
        rss_bytes: resident memory of the live processes, summed.
        pids: the live processes read.
    """

    cpu_s: float
    rss_bytes: int
    pids: tuple[int, ...]


_CLK_TCK = float(os.sysconf("SC_CLK_TCK"))
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PROC = "/proc"
_READ_MAX = 4096
"""Bytes read of one /proc file: a stat line is a few hundred, a children list a few."""


def _read(path: str) -> bytes | None:
    """Return the start of a /proc file, or None when the process or file is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, _READ_MAX)
    except OSError:
        return None
    finally:
        os.close(fd)


def _children(pid: int) -> list[int] | None:
    """Return `pid`'s children from its threads' child lists; None without the lists."""
    try:
        tids = [entry.name for entry in os.scandir(f"{_PROC}/{pid}/task")]
    except OSError:
        return []  # gone
    found: list[int] = []
    for tid in tids:
        text = _read(f"{_PROC}/{pid}/task/{tid}/children")
        if text is None:
            if not Path(f"{_PROC}/{pid}/task/{tid}").exists():
                continue  # the thread ended
            return None
        found.extend(int(child) for child in text.split())
    return found


def _tree_pids(root_pid: int) -> list[int] | None:
    """Return the root and its descendants, root first; None without child lists."""
    pids = [root_pid]
    seen = {root_pid}
    for pid in pids:  # grows as it goes: breadth first
        children = _children(pid)
        if children is None:
            return None
        for child in children:
            if child not in seen:
                seen.add(child)
                pids.append(child)
    return pids


def _stat(pid: int) -> tuple[float, int] | None:
    """Return (CPU s incl. reaped children, rss bytes) of `pid`, or None when it is gone."""
    text = _read(f"{_PROC}/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rindex(b")") + 2 :].split()  # after the command name, from field 3
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / _CLK_TCK, int(fields[21]) * _PAGE


def read_tree(root_pid: int) -> TreeReading:
    """Return the CPU seconds and memory of `root_pid` and all its descendants.

    A process that exits while the tree is read is skipped (its time reaches its
    parent's reaped-children figure once the parent waits for it). A root that is gone
    reads as zero; the caller then relies on `os.wait4`'s rusage.
    """
    pids = _tree_pids(root_pid)
    if pids is None:
        return _read_tree_psutil(root_pid)
    cpu_s = 0.0
    rss_bytes = 0
    live = []
    for pid in pids:
        figures = _stat(pid)
        if figures is None:
            continue
        cpu_s += figures[0]
        rss_bytes += figures[1]
        live.append(pid)
    return TreeReading(cpu_s, rss_bytes, tuple(live))


def _process_cpu_s(times: psutil._common.pcputimes) -> float:
    return float(times.user + times.system + times.children_user + times.children_system)


def _read_tree_psutil(root_pid: int) -> TreeReading:
    """`read_tree` through psutil's host-wide walk (no /proc child lists)."""
    try:
        root = psutil.Process(root_pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return TreeReading(0.0, 0, ())
    cpu_s = 0.0
    rss_bytes = 0
    pids = []
    for process in members:
        try:
            cpu_s += _process_cpu_s(process.cpu_times())
        except psutil.Error:
            continue
        pids.append(process.pid)
        try:
            rss_bytes += int(process.memory_info().rss)
        except psutil.Error:  # a zombie has times but no memory
            continue
    return TreeReading(cpu_s, rss_bytes, tuple(pids))


def host_busy_cpu_s() -> float:
    """Return the host's busy CPU seconds since boot, all logical CPUs (/proc/stat)."""
    return busy_and_total(psutil.cpu_times())[0]
