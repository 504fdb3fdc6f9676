"""The process table from /proc: pid, ppid, comm, cmdline, CPU seconds, RSS, cgroup path.

Built for `finwatt monitor --attribute` at 1 Hz with hundreds of processes alive, so each
tick costs one directory listing of /proc and one `open`/`read`/`close` of
`/proc/<pid>/stat` per process (nothing is held open per process: a pid that exits must
not pin a descriptor). `cmdline` and the cgroup path change rarely, so they are read once
per process identity (pid and start time, which tells a reused pid from the original)
and cached; the cache forgets processes no longer listed.

Field positions are proc(5)'s: after the `(comm)` field, `state` is field 3, `ppid` 4,
`utime` 14, `stime` 15, `cutime` 16, `cstime` 17 (clock ticks), `starttime` 22 and `rss`
24 (pages). The comm is
taken between the first `(` and the last `)`, since a command name may itself hold
parentheses or spaces. Check by hand: `cat /proc/self/stat`; `ps -o pid,ppid,comm,time,rss`.

Why not psutil here: `psutil.process_iter` builds a `Process` object per pid and reads
`stat` through its own file objects; `bench/attribution.py` measures both on the same
processes and prints the ratio.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

CLK_TCK = os.sysconf("SC_CLK_TCK")
"""Clock ticks per second of utime and stime (USER_HZ, 100 on Linux)."""

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
"""Bytes per page of `rss`."""

CMDLINE_MAX_CHARS = 512
"""A command line longer than this is cut (it is a label, not a record of the call)."""

_READ_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The per-tick figures of one process from `/proc/<pid>/stat`.

    Attributes:
        pid: process id.
        ppid: parent's process id.
        comm: the command name (at most 15 characters, as the kernel keeps it).
        cpu_s: user + system CPU seconds since it started (its own, not its children's).
        rss_bytes: resident set size in bytes.
        start_ticks: start time in clock ticks after boot (with `pid`, its identity).
    """

    pid: int
    ppid: int
    comm: str
    cpu_s: float
    rss_bytes: int
    start_ticks: int


class CpuTimes(NamedTuple):
    """The per-tick CPU figures of one process (`ProcessTable.cpu_times`).

    Attributes:
        start_ticks: start time in clock ticks after boot (with the pid, its identity).
        ppid: parent's process id.
        cpu_s: its own user + system CPU seconds (`utime` + `stime`).
        children_cpu_s: the CPU seconds of the children it has reaped, theirs and their
            own reaped children's (`cutime` + `cstime`, fields 16-17 of proc(5)).
    """

    start_ticks: int
    ppid: int
    cpu_s: float
    children_cpu_s: float


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One process as the table reports it: `ProcStat` plus command line and cgroup.

    Attributes:
        stat: the figures from `/proc/<pid>/stat`.
        cmdline: arguments joined by spaces (empty for kernel threads and zombies).
        cgroup: the cgroup path from `/proc/<pid>/cgroup` (see `profiler.sensors.cgroups`).
    """

    stat: ProcStat
    cmdline: str
    cgroup: str


def parse_stat(data: bytes) -> ProcStat:
    """Return the figures of one `/proc/<pid>/stat` line.

    Raises:
        ValueError: the text is not a stat line.
    """
    open_at = data.index(b"(")
    close_at = data.rindex(b")")
    fields = data[close_at + 2 :].split(b" ", 22)
    return ProcStat(
        pid=int(data[:open_at]),
        ppid=int(fields[1]),
        comm=data[open_at + 1 : close_at].decode("utf-8", "replace"),
        cpu_s=(int(fields[11]) + int(fields[12])) / CLK_TCK,
        rss_bytes=int(fields[21]) * PAGE_BYTES,
        start_ticks=int(fields[19]),
    )


def _read(path: str, size: int = _READ_BYTES) -> bytes | None:
    """Return up to `size` bytes of a file, or None when it is gone or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def cgroup_of(text: str) -> str:
    """Return the cgroup path of a `/proc/<pid>/cgroup` file's text.

    cgroup v2 has one line `0::/path`. Under v1 (or the hybrid layout) each controller
    hierarchy has a line `N:controllers:/path`; the first path other than the root is
    taken from the `cpu` controller (where CPU time is accounted), `cpuacct`, the named
    `systemd` hierarchy, v2's line, then any other controller, else `/`.
    """
    paths: dict[str, str] = {}
    for line in text.splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for controller in controllers.split(",") if controllers else [""]:
            paths.setdefault(controller, path)
    for key in ("cpu", "cpuacct", "name=systemd", ""):
        if paths.get(key, "/") != "/":
            return paths[key]
    return next((p for p in paths.values() if p != "/"), "/")


class ProcessTable:
    """Reads every process under a procfs root; cheap enough for every sampler tick.

    Args:
        proc_root: the procfs mount (tests pass a folder laid out like /proc).
    """

    def __init__(self, proc_root: Path = Path("/proc")) -> None:
        self._root = str(proc_root)
        self._extra: dict[tuple[int, int], tuple[str, str]] = {}
        self._raw: dict[int, bytes] = {}

    def cpu_times(self) -> dict[int, CpuTimes]:
        """Return pid -> `CpuTimes` of every process alive now.

        The cheap per-tick read: each stat line is only split far enough for the parent,
        the CPU times and the start time; `stat(pid)` parses the rest of a line read here
        on demand. A process that exits while the table is read is left out.
        """
        out: dict[int, CpuTimes] = {}
        raw: dict[int, bytes] = {}
        root = self._root
        for name in os.listdir(root):  # noqa: PTH208 - plain names, no Path per pid
            if not name.isdigit():
                continue
            data = _read(f"{root}/{name}/stat")
            if not data:
                continue
            try:
                fields = data[data.rindex(b")") + 2 :].split(b" ", 20)
                out[int(name)] = CpuTimes(
                    int(fields[19]),
                    int(fields[1]),
                    (int(fields[11]) + int(fields[12])) / CLK_TCK,
                    (int(fields[13]) + int(fields[14])) / CLK_TCK,
                )
            except (ValueError, IndexError):
                continue
            raw[int(name)] = data
        self._raw = raw
        return out

    def stat(self, pid: int) -> ProcStat:
        """Return the full figures of a process from the last `cpu_times` read.

        Raises:
            KeyError: the process was not in that read.
        """
        return parse_stat(self._raw[pid])

    def stats(self) -> dict[int, ProcStat]:
        """Return the `/proc/<pid>/stat` figures of every process alive now, by pid."""
        return {pid: self.stat(pid) for pid in self.cpu_times()}

    def details(self, stat: ProcStat) -> tuple[str, str]:
        """Return (cmdline, cgroup path) of a process, read once per process identity."""
        key = (stat.pid, stat.start_ticks)
        cached = self._extra.get(key)
        if cached is None:
            base = f"{self._root}/{stat.pid}"
            raw = _read(f"{base}/cmdline", CMDLINE_MAX_CHARS * 4) or b""
            cmdline = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
            cgroup_text = _read(f"{base}/cgroup", 65536)
            cgroup = cgroup_of(cgroup_text.decode("utf-8", "replace")) if cgroup_text else "/"
            cached = (cmdline[:CMDLINE_MAX_CHARS], cgroup)
            self._extra[key] = cached
        return cached

    def forget_except(self, alive: Mapping[int, CpuTimes]) -> None:
        """Drop cached details of processes not in `alive` (`cpu_times`'s answer)."""
        if len(self._extra) > len(alive):
            keep = {(pid, times.start_ticks) for pid, times in alive.items()}
            self._extra = {k: v for k, v in self._extra.items() if k in keep}

    def read(self) -> list[ProcessInfo]:
        """Return every process alive now with its command line and cgroup path."""
        alive = self.cpu_times()
        self.forget_except(alive)
        stats = [self.stat(pid) for pid in alive]
        return [ProcessInfo(s, *self.details(s)) for s in stats]
