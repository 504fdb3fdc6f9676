"""What a fired `[[schedule]]` entry does, and the daemon that fires them.

A `run` action is a profiling run through `profiler.runner.run_profile`, like
`finwatt run`, holding the run lock (`<db>.lock`) so no other benchmark shares the
machine. A `monitor` action records in the background, like `finwatt monitor`, for its
`duration`; the daemon goes on scheduling meanwhile. A profiling action pauses the
scheduled monitors (their run ends `complete`) and resumes them afterwards as new runs
for the rest of their duration, so benchmark load never enters the usage history the
analyzer reads. Every fired action is a stored run of kind `scheduled`, labelled with
the entry name; its config carries `"schedule": {name, action, trigger, fire_time}`.

After a run ends `complete`: `analyze = true` stores the analyzer's findings; `report`
writes the HTML report (which analyses too). A relative report path is resolved against
the database's folder, so it does not depend on where the daemon was started.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from profiler.capture.recording import Recording
from profiler.capture.runlock import (
    FileLock,
    LockHeldError,
    describe_holder,
    run_lock_path,
    scheduler_lock_path,
)
from profiler.model.units import iso_z
from profiler.schedule.entries import ScheduleEntry
from profiler.schedule.state import StateFile, state_path
from profiler.schedule.timing import Clock, FireResult, SystemClock, run_loop, utc
from profiler.sensors.probe import SensorSet, probe_sensors
from profiler.settings.config import Settings, site_from_defaults
from profiler.store.database import Store

log = logging.getLogger(__name__)

MIN_RESUME_S = 1.0
"""A paused monitor with less than this left is not resumed."""
PRUNE_EVERY = timedelta(days=1)
"""How often the daemon applies the retention policy (`profiler.retention.prune`)."""


def resolve_devices(choice: str, sensors: SensorSet) -> tuple[str, ...]:
    """Return the runner's devices for `cpu`, `gpu`, `all` or `gpu:N`.

    Raises:
        ValueError: a GPU was asked for and is not there.
    """
    gpus = tuple(d.device_id for d in sensors.devices if d.kind == "gpu")
    if choice == "cpu":
        return ("cpu",)
    if choice == "all":
        return ("cpu", *gpus)
    if choice == "gpu":
        if not gpus:
            raise ValueError('device = "gpu" but no GPU is available (see `finwatt doctor`)')
        return gpus
    if choice not in gpus:
        found = ", ".join(gpus) or "none"
        raise ValueError(f"device = {choice!r} is not here; GPUs found: {found}")
    return (choice,)


def report_path(entry: ScheduleEntry, run_id: str, fire_time: datetime, db_path: Path) -> Path:
    """Return the entry's report path for one run ({name}, {date}, {time}, {run} filled)."""
    assert entry.report is not None
    moment = utc(fire_time)
    path = Path(
        entry.report.format(
            name=entry.name,
            date=moment.strftime("%Y-%m-%d"),
            time=moment.strftime("%H%M%S"),
            run=run_id,
        )
    ).expanduser()
    return path if path.is_absolute() else db_path.parent / path


def _schedule_config(entry: ScheduleEntry, fire_time: datetime) -> dict[str, Any]:
    return {
        "name": entry.name,
        "action": entry.action,
        "trigger": entry.trigger,
        "fire_time": iso_z(utc(fire_time), "microseconds"),
        "label": entry.label,
    }


@dataclass
class _Monitor:
    entry: ScheduleEntry
    fire_time: datetime
    recording: Recording
    deadline: datetime


class ScheduledActions:
    """Carries out fired entries (implements `profiler.schedule.Actions`).

    Args:
        settings: resolved settings (database, sensors, site).
        clock: wall clock for monitor deadlines.
        stop: set when the daemon is asked to stop; lock waits give up on it.
    """

    def __init__(self, settings: Settings, clock: Clock, stop: threading.Event) -> None:
        self.settings = settings
        self.clock = clock
        self.stop = stop
        self.profiling = False
        self._monitors: dict[str, _Monitor] = {}
        self._pending: list[FireResult] = []
        self._last_prune: datetime | None = None

    def _probe(self) -> SensorSet:
        return probe_sensors(
            sysfs_root=self.settings.sysfs_root,
            cpu_tdp_w=self.settings.cpu_tdp_w,
            cpu_idle_ratio=self.settings.cpu_idle_ratio,
        )

    def _grace_s(self, entry: ScheduleEntry) -> float:
        if entry.grace_period_s is not None:
            return entry.grace_period_s
        return self.settings.grace_period_s

    def fire(self, entry: ScheduleEntry, fire_time: datetime) -> FireResult:
        """Run the entry's action; a failure is logged and returned, never raised."""
        try:
            if entry.action == "run":
                return self._fire_run(entry, fire_time)
            return self._start_monitor(entry, fire_time, entry.duration_s or 0.0)
        except Exception as err:  # loop boundary: log, record, go on
            log.exception("%s: the action failed", entry.name)
            run_id = self._failed_run(entry, fire_time, str(err))
            message = f"{type(err).__name__}: {err}"
            return FireResult(entry.name, fire_time, "failed", run_id, message)

    def _failed_run(self, entry: ScheduleEntry, fire_time: datetime, message: str) -> str | None:
        """Store a `failed` run for an action that broke before its recording existed."""
        with Store(self.settings.db_path) as store:
            created = [r for r in store.list_runs(limit=5) if r.label == entry.name]
            mine = [
                r
                for r in created
                if r.config.get("schedule", {}).get("fire_time")
                == _schedule_config(entry, fire_time)["fire_time"]
            ]
            if mine:
                if mine[0].status == "running":
                    store.finish_run(mine[0].id, "failed")
                return mine[0].id
            run = store.create_run(
                "scheduled",
                label=entry.name,
                config={
                    "command": entry.action,
                    "schedule": _schedule_config(entry, fire_time),
                    "error": message,
                },
                status="failed",
            )
            store.finish_run(run.id, "failed")
            return run.id

    # --- profiling ------------------------------------------------------------------

    def _fire_run(self, entry: ScheduleEntry, fire_time: datetime) -> FireResult:
        from profiler.capture.runner import DEFAULT_LEVELS, RunPlan, run_profile
        from workloads import WORKLOADS

        lock = FileLock(
            run_lock_path(self.settings.db_path), f"finwatt schedule daemon ({entry.name})"
        )
        try:
            lock.acquire(
                wait_s=self._grace_s(entry),
                poll_s=1.0,
                stop=self.stop,
                on_wait=lambda holder: log.warning("%s: waiting for %s", entry.name, holder),
            )
        except LockHeldError as err:
            return FireResult(entry.name, fire_time, "skipped", None, str(err))
        paused: list[tuple[_Monitor, float]] = []
        try:
            paused = self._pause_monitors(entry.name)
            sensors = self._probe()
            try:
                devices = resolve_devices(entry.device, sensors)
            except ValueError:
                sensors.close()
                raise
            plan = RunPlan(
                workloads=entry.workloads or tuple(WORKLOADS),
                devices=devices,
                levels=entry.levels or DEFAULT_LEVELS,
                phase_seconds=entry.phase_seconds,
                calibration_interval_s=min(10.0, entry.phase_seconds),
                size=entry.size,
                interval_s=entry.interval_s,
            )
            recording = Recording(
                self.settings.db_path,
                sensors,
                kind="scheduled",
                interval_s=entry.interval_s,
                label=entry.name,
                config={**plan.as_config(), "schedule": _schedule_config(entry, fire_time)},
            )
            cpu_devices = [d.device_id for d in sensors.devices if d.kind == "cpu"]
            self.profiling = True
            try:
                status = run_profile(recording, plan, cpu_devices=cpu_devices)
            except KeyboardInterrupt:
                status = "interrupted"
            finally:
                self.profiling = False
        finally:
            lock.release()
            if not self.stop.is_set():
                self._resume(paused)
        message = self._after(entry, recording.run_id, fire_time) if status == "complete" else None
        return FireResult(entry.name, fire_time, status, recording.run_id, message)

    # --- monitoring -----------------------------------------------------------------

    def _start_monitor(
        self,
        entry: ScheduleEntry,
        fire_time: datetime,
        duration_s: float,
        continues: str | None = None,
    ) -> FireResult:
        previous = self._monitors.pop(entry.name, None)
        if previous is not None:
            previous.recording.stop("complete")
            self._pending.append(
                FireResult(
                    entry.name,
                    previous.fire_time,
                    "complete",
                    previous.recording.run_id,
                    "ended early: the entry fired again",
                )
            )
        sensors = self._probe()
        config: dict[str, Any] = {
            "command": "monitor",
            "duration_s": duration_s,
            "interval_s": entry.interval_s,
            "schedule": _schedule_config(entry, fire_time),
        }
        if continues is not None:
            config["continues"] = continues
        recording = Recording(
            self.settings.db_path,
            sensors,
            kind="scheduled",
            interval_s=entry.interval_s,
            label=entry.name,
            config=config,
        )
        recording.start()
        deadline = self.clock.now() + timedelta(seconds=duration_s)
        self._monitors[entry.name] = _Monitor(entry, fire_time, recording, deadline)
        return FireResult(entry.name, fire_time, "running", recording.run_id)

    def _pause_monitors(self, why: str) -> list[tuple[_Monitor, float]]:
        paused = []
        now = self.clock.now()
        for name, monitor in list(self._monitors.items()):
            del self._monitors[name]
            monitor.recording.stop("complete")
            left_s = (monitor.deadline - now).total_seconds()
            paused.append((monitor, left_s))
            self._pending.append(
                FireResult(
                    name,
                    monitor.fire_time,
                    "complete",
                    monitor.recording.run_id,
                    f"paused for the profiling run {why!r}; {max(left_s, 0):.0f} s left",
                )
            )
        return paused

    def _resume(self, paused: list[tuple[_Monitor, float]]) -> None:
        for monitor, _ in paused:
            remaining = (monitor.deadline - self.clock.now()).total_seconds()
            if remaining < MIN_RESUME_S:
                continue
            result = self.fire_continuation(monitor, remaining)
            self._pending.append(result)

    def fire_continuation(self, monitor: _Monitor, remaining_s: float) -> FireResult:
        """Start the rest of a paused monitor as a new run (failures are returned)."""
        try:
            return self._start_monitor(
                monitor.entry, monitor.fire_time, remaining_s, monitor.recording.run_id
            )
        except Exception as err:  # loop boundary: log, record, go on
            log.exception("%s: could not resume monitoring", monitor.entry.name)
            return FireResult(monitor.entry.name, monitor.fire_time, "failed", None, str(err))

    def poll(self, now: datetime) -> list[FireResult]:
        """End the monitors whose duration is over; return every result since last time.

        Also applies the retention policy at start and then once a day.
        """
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            self._prune(now)
        results, self._pending = self._pending, []
        for name, monitor in list(self._monitors.items()):
            if monitor.deadline > now:
                continue
            del self._monitors[name]
            monitor.recording.stop("complete")
            run_id = monitor.recording.run_id
            message = self._after(monitor.entry, run_id, monitor.fire_time)
            results.append(FireResult(name, monitor.fire_time, "complete", run_id, message))
        return results

    def next_deadline(self) -> datetime | None:
        """Return when the next background monitor ends, or None."""
        return min((m.deadline for m in self._monitors.values()), default=None)

    def active(self) -> bool:
        """Return True while a monitor records in the background."""
        return bool(self._monitors) or bool(self._pending)

    def stop_all(self) -> list[FireResult]:
        """Stop every monitor as `interrupted` (data kept); return all remaining results."""
        results, self._pending = self._pending, []
        for name, monitor in list(self._monitors.items()):
            del self._monitors[name]
            monitor.recording.stop("interrupted")
            results.append(
                FireResult(
                    name,
                    monitor.fire_time,
                    "interrupted",
                    monitor.recording.run_id,
                    "the scheduler stopped",
                )
            )
        return results

    def _prune(self, now: datetime) -> None:
        """Apply the default retention (14 days raw, 400 days rollups) to the database."""
        try:
            from profiler.store.retention import prune
        except ImportError:
            log.info("no retention module: samples are kept forever")
            return
        try:
            result = prune(self.settings.db_path, now=now)
        except Exception:  # loop boundary: log, retry tomorrow
            log.exception("retention pruning of %s failed", self.settings.db_path)
            return
        log.info(
            "retention: %d raw sample rows and %d rollup rows deleted",
            result.raw_samples_deleted,
            result.rollup_rows_deleted,
        )

    # --- after a run ----------------------------------------------------------------

    def _after(self, entry: ScheduleEntry, run_id: str, fire_time: datetime) -> str | None:
        """Analyse and/or report a complete run; returns a note, or None when all went well."""
        if not entry.analyze and entry.report is None:
            return None
        try:
            from profiler.analysis.thresholds import Thresholds
            from profiler.workflows.analyze import analyze_run, store_findings
            from profiler.workflows.report import report_run

            site = site_from_defaults(self.settings.site)
            with Store(self.settings.db_path) as store:
                run = store.get_run(run_id)
                assert run is not None
                if entry.report is not None:
                    path = report_path(entry, run_id, fire_time, self.settings.db_path)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    report_run(store, run, site, path)
                    log.info("%s: report written to %s", entry.name, path)
                else:
                    store_findings(store, analyze_run(store, run, site, Thresholds()))
        except Exception as err:  # loop boundary: keep the run, say why
            log.exception("%s: analysis or report of run %s failed", entry.name, run_id)
            return f"analysis/report failed: {type(err).__name__}: {err}"
        return None


class SchedulerBusyError(RuntimeError):
    """Another scheduler holds the database's scheduler lock; the message names it."""


def run_scheduler(
    settings: Settings,
    *,
    once: bool = False,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
) -> list[FireResult]:
    """Run the schedule of `settings` until SIGTERM/SIGINT (or, with `once`, what is due).

    Holds the scheduler lock throughout. SIGTERM or SIGINT sets the stop request; during
    a profiling action it also interrupts the run, which ends `interrupted` with its data
    kept. Background monitors end `interrupted` too.

    Raises:
        SchedulerBusyError: another daemon or run-due holds the lock of this database.
        ScheduleStateError: the state file is unreadable.
    """
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    lock = FileLock(
        scheduler_lock_path(settings.db_path),
        "finwatt schedule run-due" if once else "finwatt schedule daemon",
    )
    if not lock.try_acquire():
        raise SchedulerBusyError(
            f"{describe_holder(lock.path)} already runs the schedule of {settings.db_path} "
            f"(lock {lock.path}); stop it first"
        )
    try:
        with Store(settings.db_path) as store:
            store.mark_stale_runs()
        book = StateFile(state_path(settings.db_path))
        actions = ScheduledActions(settings, clock, stop)
        interrupted = threading.Event()

        def handle(signum: int, frame: FrameType | None) -> None:
            stop.set()
            if actions.profiling and not interrupted.is_set():
                interrupted.set()
                raise KeyboardInterrupt

        on_main = threading.current_thread() is threading.main_thread()
        previous = {}
        if on_main:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, handle)
        try:
            log.info(
                "scheduler started: %d entr%s, database %s",
                len(settings.schedules),
                "y" if len(settings.schedules) == 1 else "ies",
                settings.db_path,
            )
            return run_loop(
                settings.schedules,
                book,
                actions,
                clock,
                stop,
                grace_period_s=settings.grace_period_s,
                once=once,
            )
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            log.info("scheduler stopped")
    finally:
        lock.release()
