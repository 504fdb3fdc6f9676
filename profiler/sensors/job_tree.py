"""A job's process tree: CPU seconds, resident memory and members, read with psutil.

`finwatt exec` follows the command it started by process-tree accounting (no transient
cgroup: that needs systemd-run or a writable cgroup v2 subtree, which a user's shell
rarely has): each tick it walks the tree below the job's root process
(`psutil.Process.children(recursive=True)`) and sums, per live process, its own CPU
time plus the times of its children it has already reaped (`cutime`/`cstime` in
/proc/<pid>/stat, psutil's `children_user`/`children_system`), so a child that starts and
exits between two ticks is still counted once its parent reaps it. When the root exits,
`os.wait4`'s rusage (the root and every descendant waited for) closes the account.

Check by hand: `ps -o pid,ppid,time,rss --ppid <pid>`; `cat /proc/<pid>/stat` fields 14-17.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _process_cpu_s(times: psutil._common.pcputimes) -> float:
    return float(times.user + times.system + times.children_user + times.children_system)


def read_tree(root_pid: int) -> TreeReading:
    """Return the CPU seconds and memory of `root_pid` and all its descendants.

    A process that exits while the tree is read is skipped (its time reaches its
    parent's reaped-children figure once the parent waits for it). A root that is gone
    reads as zero; the caller then relies on `os.wait4`'s rusage.
    """
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
