"""A profiling run in progress, read from the store (the live view's profiling panel).

The records it returns (`ProfileStatus`, its last `PhaseRecord`) live in `profiler.model`, so the
live view shows them without importing the store.

Reads only: a database that does not exist is not created. Figures of finished phases
come from the same `evaluated` that `profiler.workflows.profile.finalise_phases` uses
once the run ends.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from profiler.analysis.phases import energy_devices, evaluated
from profiler.model.profile_status import ProfileStatus
from profiler.model.run import PhaseRecord, RunKind, RunRecord, RunStatus
from profiler.store import Store, StoreError, pid_alive
from profiler.workflows.run_data import load_run_data


class ProfileWatch:
    """Finds a profiling run in progress in the database and summarises it.

    Reads only: a database that does not exist is not created. Phase figures are
    recomputed only when a phase was added.

    Args:
        db_path: the SQLite file.
        host: this host's name (a `running` run of this host whose pid is gone was
            killed, and is not shown).
        pid_alive: checks a process id (tests inject one).

    """

    def __init__(
        self,
        db_path: Path,
        *,
        host: str | None = None,
        pid_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.db_path = db_path
        self._host = host or socket.gethostname()
        self._pid_alive = pid_alive
        self._cache: tuple[str, int, PhaseRecord | None] | None = None

    def poll(self) -> ProfileStatus | None:
        """Return the newest profiling run in progress, or None when there is none."""
        if not self.db_path.exists():
            return None
        try:
            with Store(self.db_path) as store:
                run = self._running_profile(store)
                return None if run is None else self._status(store, run)
        except (StoreError, sqlite3.Error) as err:
            return ProfileStatus(run_id="?", error=f"cannot read {self.db_path}: {err}")

    def _running_profile(self, store: Store) -> RunRecord | None:
        for run in store.runs.all():
            if run.kind != RunKind.PROFILE or run.status != RunStatus.RUNNING:
                continue
            if run.host == self._host and (run.pid is None or not self._pid_alive(run.pid)):
                continue
            return run
        return None

    def _status(self, store: Store, run: RunRecord) -> ProfileStatus:
        config = run.config
        workloads = tuple(str(w) for w in config.get("workloads", ()))
        devices = tuple(str(d) for d in config.get("devices", ()))
        levels = tuple(float(x) for x in config.get("levels", ()))
        phases = store.phases.for_run(run.id)
        if self._cache is None or self._cache[:2] != (run.id, len(phases)):
            last = _evaluated(store, run, phases[-1]) if phases else None
            self._cache = (run.id, len(phases), last)
        planned = len(workloads) * len(devices) * len(levels) if levels else None
        return ProfileStatus(
            run_id=run.id,
            label=run.label,
            workloads=workloads,
            devices=devices,
            phases_done=len(phases),
            phases_planned=planned,
            now=_next_step(workloads, devices, levels, phases),
            last=self._cache[2],
        )


def _evaluated(store: Store, run: RunRecord, phase: PhaseRecord) -> PhaseRecord:
    """The phase with its figures from the samples so far (the function `finalise_phases` uses)."""
    if phase.units is None:
        return phase
    wanted = set(energy_devices(phase.device_id, store.devices.for_run(run.id)))
    data = load_run_data(store, run, source="raw", only=wanted)
    return evaluated(phase, data.devices, data.series, run.interval_s or 1.0)


def _next_step(
    workloads: Sequence[str],
    devices: Sequence[str],
    levels: Sequence[float],
    phases: Sequence[PhaseRecord],
) -> tuple[str, str, float] | None:
    """Return the plan's step after the stored phases (runner.run_profile's order).

    A failed workload on a device stores one phase and skips that pair's other levels.
    None when the run is past its plan or the stored phases do not follow it.
    """
    stored = iter(phases)
    for workload in workloads:
        for device in devices:
            for level in levels:
                phase = next(stored, None)
                if phase is None:
                    return (workload, device, level)
                if phase.workload != workload:
                    return None
                if phase.units is None:
                    break
    return None
