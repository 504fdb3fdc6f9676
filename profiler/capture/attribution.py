"""Capture-side attribution: who used the CPU energy of each tick (`monitor --attribute`).

`Attributor` is a sampler sink. Each tick it reads the process table
(`profiler.sensors.processes`), takes each process's CPU seconds since the last tick, and
shares the CPU packages' energy of the tick with `profiler.analysis.attribution` (the
model of docs/attribution.md): the energy is split into idle (the package's idle power x
the tick) and dynamic; dynamic is shared by CPU time, with the host's busy CPU time that
no process claimed (the kernel, a process whose reaper ignores it) left in `other`; a
process that exited between ticks is counted at its reaper, from the reaper's
reaped-children time (docs/attribution.md#short-lived-processes);
idle is allocated by the idle policy (`none` by default: it stays in the `idle` row).
Each process's share is also credited to its cgroup's owner (`profiler.sensors.cgroups`).

Every minute of run time it keeps the top N processes and the top N cgroups by energy,
folds the rest into `other`, and hands the rows (`AttributionRow`) to its row sink; the
`AttributedRecording` stores them in `attribution_minute`. Per-tick shares also go to
listeners (the exporter's `finwatt_attributed_energy_joules_total`).

Idle power: the given figure (`idle_power_w`), else the power model's `model_idle_w`
where the package's power is modelled; where it is measured (RAPL) and neither is given,
the running minimum of the package's interval power so far (as `finwatt exec` uses the
window minimum, `profiler.analysis.job_energy`). A running minimum is an estimate: early
intervals may count more as idle than later ones would; the minute's `idle` row names it
in its detail (`idle power: cpu:0 running minimum`). An interval with no CPU time at
all (no process, host not busy) puts its dynamic energy on `other`, so each minute's rows
always add up to the packages' energy.

GPU energy is not attributed here (NVML per-process figures belong to `finwatt exec`).
Shares are per host, not per package: a process's CPU time is not split by package.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from profiler.analysis.attribution import (
    OTHER,
    allocate_idle,
    attributed_provenance,
    cpu_groups,
    share_dynamic_energy,
    split_idle_j,
)
from profiler.capture.recording import Recording
from profiler.model.attribution_rows import (
    DEFAULT_TOP_N,
    IDLE_GROUP,
    AttributedPart,
    AttributionRow,
    GroupKind,
    PartListener,
    check_top_n,
)
from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattRuntimeError
from profiler.model.run import RunStatus
from profiler.model.samples import Tick
from profiler.sensors.cgroups import CgroupOwner, recognise
from profiler.sensors.probe import SensorSet
from profiler.sensors.processes import CpuTimes, ProcessTable
from profiler.store import Store, StoreError

log = logging.getLogger(__name__)

MINUTE_S = 60.0

MIN_PERIOD_S = 0.95
"""Shares are taken at most about once a second (a 1 s sampler's every tick)."""


class AttributionError(FinwattRuntimeError):
    """The process table cannot be read (no Linux procfs): exit 1."""


RUNNING_MINIMUM = "running minimum"
"""The idle basis of a measured package without a given or modelled idle power."""

RowSink = Callable[[list[AttributionRow]], None]


class _Bucket:
    """One group's running sums within the current minute."""

    __slots__ = ("cpu_s", "detail", "dynamic_j", "idle_j", "owner")

    def __init__(self, owner: str | None, detail: str | None) -> None:
        self.cpu_s = 0.0
        self.dynamic_j = 0.0
        self.idle_j = 0.0
        self.owner = owner
        self.detail = detail

    @property
    def energy_j(self) -> float:
        return self.dynamic_j + self.idle_j


class Attributor:
    """Shares each tick's CPU energy among processes and cgroups (a sampler sink).

    Args:
        devices: the probed devices (`host` for the core count, `cpu:N` for energy).
        top_n: groups of each kind kept per minute; the rest become `other`.
        idle_policy: `none` (idle stays in the `idle` row) or `cpu-time`.
        table: the process table (tests pass one over a fake /proc).
        idle_power_w: idle power per `cpu:N` device where the device's details lack it.
        row_sink: receives each finished minute's rows.
        listeners: receive each tick's shares per process name and per cgroup owner.
        namer: the naming step of a cgroup owner (a pod's namespace/pod/container,
            `profiler.sensors.kube.PodNamer`); None: owners as the path names them.

    Raises:
        ValueError: `top_n` out of range or an idle policy other than none/cpu-time.
    """

    def __init__(
        self,
        devices: Sequence[DeviceInfo],
        *,
        top_n: int = DEFAULT_TOP_N,
        idle_policy: str = "none",
        table: ProcessTable | None = None,
        idle_power_w: Mapping[str, float] | None = None,
        row_sink: RowSink | None = None,
        listeners: Sequence[PartListener] = (),
        namer: Callable[[CgroupOwner], CgroupOwner] | None = None,
    ) -> None:
        if idle_policy not in ("none", "cpu-time"):
            raise ValueError(f"idle share {idle_policy!r}: monitor supports none or cpu-time")
        self.top_n = check_top_n(top_n)
        self._idle_policy: Any = idle_policy
        host = next((d for d in devices if d.kind == "host"), None)
        self._host_cores = float(host.logical_cores) if host and host.logical_cores else None
        self._cpus = [d for d in devices if d.kind == "cpu"]
        given = idle_power_w or {}
        self._idle_w: dict[str, float | None] = {}
        for d in self._cpus:
            idle_w = given.get(d.device_id, d.details.get("model_idle_w"))
            self._idle_w[d.device_id] = None if idle_w is None else float(idle_w)
        self._min_power_w: dict[str, float] = {}
        self._table = table or ProcessTable()
        self._row_sink = row_sink
        self._listeners = list(listeners)
        self._owners: dict[str, CgroupOwner] = {}
        self._namer = namer
        self._failed = False
        try:
            baseline = self._table.cpu_times()
        except OSError as err:
            raise AttributionError(
                f"--attribute cannot read the process table ({err}); it needs Linux /proc"
            ) from err
        self._prev_cpu = {(pid, times.start_ticks): times for pid, times in baseline.items()}
        self._prev_energy: dict[str, float] = {}
        self._energy_t: dict[str, float] = {}
        self._t = 0.0
        self._minute: int | None = None
        self._seconds = 0.0
        self._groups: dict[GroupKind, dict[str, _Bucket]] = {"process": {}, "cgroup": {}}
        self._idle_left_j = 0.0
        self._provenance: dict[str, None] = {}
        self._source: dict[str, None] = {}
        self._idle_basis: dict[str, None] = {}
        self.ticks = 0

    # --- per tick -------------------------------------------------------------------

    def observe(self, tick: Tick) -> None:
        """Share the CPU energy since the last share (a sampler sink; never raises).

        Runs at most once per `MIN_PERIOD_S`: a faster sampler's ticks in between are
        merged into the next share (energy and CPU times are cumulative), so the cost
        stays that of 1 Hz whatever `--interval` is. A failure is logged once and the
        tick's share skipped: attribution must never stop the sampler.
        """
        if tick.t - self._t < MIN_PERIOD_S:
            return
        try:
            self._observe(tick)
        except Exception as err:  # noqa: BLE001 - sink boundary: log, skip, go on
            if not self._failed:
                log.warning("attribution skipped a tick and may skip more: %r", err)
            self._failed = True

    def finish(self, last: Tick | None) -> None:
        """Share what the last tick left (it may have come sooner than a period), then flush.

        Args:
            last: the sampler's final tick (`Sampler.last_tick`), None without one.
        """
        if last is not None and last.t > self._t:
            try:
                self._observe(last)
            except Exception as err:  # noqa: BLE001 - as in `observe`
                log.warning("attribution skipped the last tick: %r", err)
        self.flush()

    def _observe(self, tick: Tick) -> None:
        """Share one interval's CPU energy; finish the previous minute when a new one starts."""
        dt = max(0.0, tick.t - self._t)
        self._t = tick.t
        minute = math.floor(tick.t / MINUTE_S)
        if self._minute is not None and minute != self._minute:
            self.flush()
        self._minute = minute
        self._seconds += dt
        self.ticks += 1
        dynamic_j, idle_j, source = self._energy(tick)
        alive = self._table.cpu_times()
        self._table.forget_except(alive)
        used = self._cpu_deltas(alive, dt)
        stats = {pid: self._table.stat(pid) for pid, _ in used}
        names = {key: f"{stats[key[0]].comm}[{key[0]}]" for key in used}
        cpu_by_name = {names[k]: s for k, s in used.items()}
        busy_s = self._busy_s(tick, dt, sum(used.values()))
        groups = cpu_groups(busy_s, cpu_by_name)
        dynamic = share_dynamic_energy(dynamic_j, groups)
        if sum(groups.values()) <= 0.0:  # no CPU time seen: the energy is nobody's -> other
            dynamic[OTHER] = dynamic_j
        idle = allocate_idle(idle_j, self._idle_policy, cpu_s_by_group=groups)
        self._idle_left_j += idle_j - sum(idle.values())
        provenance = attributed_provenance("cpu-time", source) if source else "unknown"
        if source:
            self._source[source] = None
            self._provenance[provenance] = None
        parts: list[AttributedPart] = []
        for key in used:
            stat, name = stats[key[0]], names[key]
            cmdline, cgroup = self._table.details(stat)
            owner = self._owner(cgroup)
            share = (groups[name], dynamic[name], idle[name])
            self._add("process", name, share, stat.comm, cmdline)
            self._add("cgroup", owner.label, share, owner.kind, _owner_detail(owner))
            parts.append(("process", stat.comm, share[1] + share[2], provenance))
            parts.append((owner.kind, owner.name, share[1] + share[2], provenance))
        rest = (groups[OTHER], dynamic[OTHER], idle[OTHER])
        self._add("process", OTHER, rest, None, None)
        self._add("cgroup", OTHER, rest, None, None)
        parts.append(("process", OTHER, rest[1] + rest[2], provenance))
        for listener in self._listeners:
            listener(parts)

    def _energy(self, tick: Tick) -> tuple[float, float, str]:
        """Return (dynamic_j, idle_j, source provenance) of the CPU packages this tick."""
        dynamic_j = idle_j = 0.0
        sources: list[str] = []
        for device in self._cpus:
            reading = tick.readings.get(device.device_id)
            if reading is None or reading.energy_j is None:
                continue
            before = self._prev_energy.get(device.device_id, 0.0)
            since = self._energy_t.get(device.device_id, 0.0)
            self._prev_energy[device.device_id] = reading.energy_j
            self._energy_t[device.device_id] = tick.t
            energy_j, seconds = reading.energy_j - before, tick.t - since
            dyn, idle = split_idle_j(
                energy_j, self._idle_power_w(device, energy_j, seconds), seconds
            )
            dynamic_j += dyn
            idle_j += idle
            if device.provenance:
                sources.append(device.provenance)
        return dynamic_j, idle_j, ",".join(dict.fromkeys(sources))

    def _idle_power_w(self, device: DeviceInfo, energy_j: float, seconds: float) -> float:
        """The package's idle power: given or modelled, else its running minimum power."""
        idle_w = self._idle_w[device.device_id]
        if idle_w is not None:
            return idle_w
        self._idle_basis[f"{device.device_id} {RUNNING_MINIMUM}"] = None
        low_w = self._min_power_w.get(device.device_id)
        if seconds > 0.0 and energy_j >= 0.0:
            power_w = energy_j / seconds
            low_w = power_w if low_w is None else min(low_w, power_w)
            self._min_power_w[device.device_id] = low_w
        return low_w or 0.0

    def _cpu_deltas(self, alive: Mapping[int, CpuTimes], dt: float) -> dict[ProcKey, float]:
        """CPU seconds each process used since the last tick, reaped children's included.

        A process's own CPU time since the last tick (a new one: all of it), plus the
        growth of its reaped-children time less what the processes it reaped were
        already counted with (`_reaped_counted`): a process gone since the last tick
        burned its last CPU time unseen, and it reaches its reaper's children time when
        it is reaped (docs/attribution.md#short-lived-processes). That credit is at most
        `dt` x the host's logical cores: all the host could have run in the interval.
        """
        prev = self._prev_cpu
        now = {(pid, times.start_ticks): times for pid, times in alive.items()}
        counted = _reaped_counted(prev, now)
        most_s = dt * self._host_cores if self._host_cores else math.inf
        used: dict[ProcKey, float] = {}
        for key, times in now.items():
            before = prev.get(key)
            own = times.cpu_s - (before.cpu_s if before else 0.0)
            reaped = times.children_cpu_s - (before.children_cpu_s if before else 0.0)
            delta = max(0.0, own) + min(most_s, max(0.0, reaped - counted.get(key, 0.0)))
            if delta > 0.0:
                used[key] = delta
        self._prev_cpu = now
        return used

    def _busy_s(self, tick: Tick, dt: float, claimed_s: float) -> float:
        """The host's busy CPU seconds this tick (utilisation x cores x seconds)."""
        host = tick.readings.get("host")
        if host is None or host.util is None or self._host_cores is None:
            return claimed_s
        return host.util * self._host_cores * dt

    def _owner(self, cgroup: str) -> CgroupOwner:
        owner = self._owners.get(cgroup)
        if owner is None:
            owner = recognise(cgroup)
            if self._namer is not None:
                owner = self._namer(owner)
            if "names" not in owner.details:  # a pod not named yet is asked again
                self._owners[cgroup] = owner
        return owner

    def _add(
        self,
        kind: GroupKind,
        name: str,
        share: tuple[float, float, float],
        owner: str | None,
        detail: str | None,
    ) -> None:
        bucket = self._groups[kind].get(name)
        if bucket is None:
            bucket = self._groups[kind][name] = _Bucket(owner, detail)
        bucket.cpu_s += share[0]
        bucket.dynamic_j += share[1]
        bucket.idle_j += share[2]

    # --- per minute -----------------------------------------------------------------

    def rows(self) -> list[AttributionRow]:
        """Return the current minute's rows: top N per kind, `other`, and `idle`."""
        if self._minute is None:
            return []
        minute, seconds = self._minute, self._seconds
        provenance = ",".join(self._provenance) or None
        out: list[AttributionRow] = []
        for kind, groups in self._groups.items():
            named = sorted(
                ((n, b) for n, b in groups.items() if n != OTHER), key=lambda nb: -nb[1].energy_j
            )
            rest = groups.get(OTHER) or _Bucket(None, None)
            for _, bucket in named[self.top_n :]:
                rest.cpu_s += bucket.cpu_s
                rest.dynamic_j += bucket.dynamic_j
                rest.idle_j += bucket.idle_j
            for name, bucket in [*named[: self.top_n], (OTHER, rest)]:
                row = AttributionRow(
                    minute, kind, name, bucket.owner, bucket.detail, seconds,
                    bucket.cpu_s, bucket.dynamic_j, bucket.idle_j, provenance,
                )  # fmt: skip
                out.append(row)
        source = ",".join(self._source) or None
        basis = ", ".join(self._idle_basis)
        detail = f"idle power: {basis}" if basis else None
        idle = AttributionRow(
            minute, "host", IDLE_GROUP, None, detail, seconds, 0.0, 0.0, self._idle_left_j, source
        )
        return [*out, idle]

    def flush(self) -> None:
        """Hand the current minute's rows to the row sink and start a new minute."""
        rows = self.rows()
        if rows and self._row_sink is not None:
            self._row_sink(rows)
        self._groups = {"process": {}, "cgroup": {}}
        self._seconds = 0.0
        self._idle_left_j = 0.0
        self._provenance = {}
        self._source = {}
        self._idle_basis = {}
        self._minute = None


ProcKey = tuple[int, int]
"""A process's identity: pid and start time (clock ticks after boot)."""


def _reaped_counted(
    prev: Mapping[ProcKey, CpuTimes], now: Mapping[ProcKey, CpuTimes]
) -> dict[ProcKey, float]:
    """CPU seconds already counted of the processes gone since the last tick, by reaper.

    Each gone process was counted with its own and reaped-children time at the last
    tick; that part of what its reaper's children time gains is not counted again. The
    reaper is the nearest live ancestor by the parents last seen (a chain of processes
    gone in the same interval ends at one reaper); a live pid that started after the
    gone process is a reused pid, not its parent.
    """
    live = {pid: (pid, start) for pid, start in now}
    gone = {pid: (pid, start) for pid, start in prev if (pid, start) not in now}
    counted: dict[ProcKey, float] = {}
    for key in gone.values():
        times = prev[key]
        parent, seen = times.ppid, {key[0]}
        while parent in gone and parent not in seen:
            seen.add(parent)
            parent = prev[gone[parent]].ppid
        reaper = live.get(parent)
        if reaper is not None and reaper[1] <= key[1]:
            counted[reaper] = counted.get(reaper, 0.0) + times.cpu_s + times.children_cpu_s
    return counted


def _owner_detail(owner: CgroupOwner) -> str:
    extra = " ".join(f"{k}={v}" for k, v in sorted(owner.details.items()))
    return f"{owner.path} {extra}".strip()


class AttributedRecording(Recording):
    """A `Recording` that also stores per-minute attribution rows of its run.

    Args:
        db_path: SQLite file.
        sensors: the probed sensors.
        top_n: groups of each kind kept per minute.
        listeners: receive each tick's shares (the exporter).
        table: the process table (tests pass one over a fake /proc).
        namer: names pod cgroups (`Attributor`'s `namer`).
        **kwargs: as `Recording` (kind, interval_s, label, config, sinks).
    """

    def __init__(
        self,
        db_path: Path,
        sensors: SensorSet,
        *,
        top_n: int = DEFAULT_TOP_N,
        listeners: Sequence[PartListener] = (),
        table: ProcessTable | None = None,
        namer: Callable[[CgroupOwner], CgroupOwner] | None = None,
        **kwargs: Any,
    ) -> None:
        self.attributor = Attributor(
            sensors.devices,
            top_n=top_n,
            table=table,
            row_sink=self._store_rows,
            listeners=listeners,
            namer=namer,
        )
        sinks = [*kwargs.pop("sinks", ()), self.attributor.observe]
        super().__init__(db_path, sensors, sinks=sinks, **kwargs)

    def _store_rows(self, rows: list[AttributionRow]) -> None:
        # On the sampler thread: a failed write is logged, never allowed to stop sampling
        # (the samples' own writer reports a full disk and ends the run).
        try:
            with Store(self.db_path) as store:
                store.attribution.add(self.run_id, rows)
        except (StoreError, sqlite3.Error) as err:
            log.warning("attribution rows of run %s not stored: %s", self.run_id, err)

    def stop(self, status: RunStatus = RunStatus.COMPLETE, *, reason: str | None = None) -> None:
        """Stop as a `Recording` does, then store the last (partial) minute's rows."""
        running = self.status == RunStatus.RUNNING
        super().stop(status, reason=reason)
        if running:
            self.attributor.finish(self.sampler.last_tick)
