"""What a fired `[[schedule]]` entry does, and `run_scheduler`: the loop under its locks.

The loop itself (what is due, when to wake) is `profiler.schedule.timing.run_loop`, pure
and clock-injected; this module gives it real actions, the state file and the signals.

A `run` action is a profiling run through `profiler.workflows.profile`, the sequence
`finwatt run` uses, holding the run lock (`<db>.lock`) so no other benchmark shares the
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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from profiler.capture.recording import Recording, RecordingFailedError
from profiler.model.attribution_rows import DEFAULT_TOP_N
from profiler.model.errors import FinwattRuntimeError
from profiler.model.plan import DEFAULT_LEVELS, Progress, RunPlan
from profiler.model.run import RunKind, RunStatus
from profiler.model.units import iso_z
from profiler.schedule.state import StateFile, state_path
from profiler.schedule.timing import Clock, FireResult, SystemClock, run_loop, utc
from profiler.settings.config import Settings, site_from_defaults
from profiler.settings.schedule_entries import ScheduleEntry
from profiler.settings.time_zones import zone
from profiler.store.database import Store
from profiler.store.opening import StoreError
from profiler.store.retention import prune
from profiler.workflows.monitor import monitor_recording
from profiler.workflows.profile import LockWait, ProfileObserver, ProfileRequest, profile
from profiler.workflows.run_log import LineProgress
from profiler.workflows.runlock import LockHeldError, describe_holder, scheduler_lock
from profiler.workflows.signals import stop_on_signals

log = logging.getLogger(__name__)

MIN_RESUME_S = 1.0
"""A paused monitor with less than this left is not resumed."""
PRUNE_EVERY = timedelta(days=1)
"""How often the daemon applies the retention policy (`profiler.store.retention.prune`)."""


def report_path(
    entry: ScheduleEntry, template: str, run_id: str, fire_time: datetime, db_path: Path
) -> Path:
    """Return the entry's report path for one run ({name}, {date}, {time}, {run} filled).

    Args:
        entry: the fired entry.
        template: its `report` setting.
        run_id: the run reported.
        fire_time: the fire time the run stands for.
        db_path: the database; a relative path is resolved against its folder.
    """
    moment = utc(fire_time).astimezone(zone(entry.tz))  # the entry's local date and time
    path = Path(
        template.format(
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


def _end(monitor: _Monitor, status: RunStatus, note: str | None) -> FireResult:
    """Stop a background monitor as `status`; return its result, never raise for a failure.

    When its samples could not be stored (a full disk), `Recording.stop` stores the run
    `failed` with the reason (or leaves the note the next command marks it with) and
    raises `RecordingFailedError`: that is logged and returned as a `failed` result, so
    the daemon goes on running the other entries.
    """
    name, run_id = monitor.entry.name, monitor.recording.run_id
    try:
        monitor.recording.stop(status)
    except RecordingFailedError as err:
        log.error("%s: %s", name, err, extra={"event": "action_failed", "entry": name})
        return FireResult(name, monitor.fire_time, RunStatus.FAILED, run_id, str(err))
    return FireResult(name, monitor.fire_time, status, run_id, note)


class ScheduledActions:
    """Carries out fired entries (implements `profiler.schedule.timing.Actions`).

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
            log.exception(
                "%s: the action failed",
                entry.name,
                extra={"event": "action_failed", "entry": entry.name},
            )
            message = f"{type(err).__name__}: {err}"
            try:
                run_id = self._failed_run(entry, fire_time, str(err))
            except Exception:  # loop boundary: e.g. a full disk; the log says it all
                log.exception("%s: the failed run could not be stored", entry.name)
                run_id = None
            return FireResult(entry.name, fire_time, RunStatus.FAILED, run_id, message)

    def _failed_run(self, entry: ScheduleEntry, fire_time: datetime, message: str) -> str | None:
        """Store a `failed` run for an action that broke before its recording existed."""
        with Store(self.settings.db_path) as store:
            created = [r for r in store.runs.all(limit=5) if r.label == entry.name]
            mine = [
                r
                for r in created
                if r.config.get("schedule", {}).get("fire_time")
                == _schedule_config(entry, fire_time)["fire_time"]
            ]
            if mine:
                if mine[0].status == RunStatus.RUNNING:
                    store.runs.finish(mine[0].id, RunStatus.FAILED)
                return mine[0].id
            run = store.runs.create(
                RunKind.SCHEDULED,
                label=entry.name,
                config={
                    "command": entry.action,
                    "schedule": _schedule_config(entry, fire_time),
                    "error": message,
                },
                status=RunStatus.FAILED,
            )
            store.runs.finish(run.id, RunStatus.FAILED)
            return run.id

    # --- profiling ------------------------------------------------------------------

    def _fire_run(self, entry: ScheduleEntry, fire_time: datetime) -> FireResult:
        from workloads import WORKLOADS

        plan = RunPlan(
            workloads=entry.workloads or tuple(WORKLOADS),
            devices=(),
            levels=entry.levels or DEFAULT_LEVELS,
            phase_seconds=entry.phase_seconds,
            calibration_interval_s=min(10.0, entry.phase_seconds),
            size=entry.size,
            interval_s=entry.interval_s,
        )
        request = ProfileRequest(
            plan,
            device=entry.device,
            kind=RunKind.SCHEDULED,
            label=entry.name,
            config={"schedule": _schedule_config(entry, fire_time)},
        )
        lock = LockWait(
            f"finwatt schedule daemon ({entry.name})",
            wait_s=self._grace_s(entry),
            poll_s=1.0,
            stop=self.stop,
        )
        observer = _ScheduledProfile(self, entry.name)
        try:
            outcome = profile(self.settings, request, lock, observer)
        except LockHeldError as err:
            return FireResult(entry.name, fire_time, "skipped", None, str(err))
        finally:
            if not self.stop.is_set():
                self._resume(observer.paused)
        run = outcome.run
        message = (
            self._after(entry, run.id, fire_time) if run.status == RunStatus.COMPLETE else None
        )
        return FireResult(entry.name, fire_time, run.status, run.id, message)

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
            self._pending.append(
                _end(previous, RunStatus.COMPLETE, "ended early: the entry fired again")
            )
        config: dict[str, Any] = {
            "command": "monitor",
            "duration_s": duration_s,
            "interval_s": entry.interval_s,
            "schedule": _schedule_config(entry, fire_time),
        }
        if continues is not None:
            config["continues"] = continues
        recording = monitor_recording(
            self.settings,
            kind=RunKind.SCHEDULED,
            interval_s=entry.interval_s,
            label=entry.name,
            config=config,
            attribute_top_n=DEFAULT_TOP_N if entry.attribute else None,
        )
        recording.start()
        deadline = self.clock.now() + timedelta(seconds=duration_s)
        self._monitors[entry.name] = _Monitor(entry, fire_time, recording, deadline)
        return FireResult(entry.name, fire_time, RunStatus.RUNNING, recording.run_id)

    def pause_monitors(self, why: str) -> list[tuple[_Monitor, float]]:
        """Stop every background monitor (`complete`) for a profiling run; return them.

        Each comes back with the seconds it had left, for `resume`. A monitor whose
        samples could not be stored (a full disk) is reported `failed` and not resumed.
        """
        paused = []
        now = self.clock.now()
        for name, monitor in list(self._monitors.items()):
            del self._monitors[name]
            left_s = (monitor.deadline - now).total_seconds()
            note = f"paused for the profiling run {why!r}; {max(left_s, 0):.0f} s left"
            result = _end(monitor, RunStatus.COMPLETE, note)
            if result.status == RunStatus.COMPLETE:
                paused.append((monitor, left_s))
            self._pending.append(result)
        return paused

    def _resume(self, paused: list[tuple[_Monitor, float]]) -> None:
        """Start the rest of each paused monitor as a new run (the daemon is not stopping)."""
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
            return FireResult(
                monitor.entry.name, monitor.fire_time, RunStatus.FAILED, None, str(err)
            )

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
            result = _end(monitor, RunStatus.COMPLETE, None)
            if result.status == RunStatus.COMPLETE:
                message = self._after(monitor.entry, monitor.recording.run_id, monitor.fire_time)
                result = FireResult(
                    name, monitor.fire_time, RunStatus.COMPLETE, result.run_id, message
                )
            results.append(result)
        return results

    def next_deadline(self) -> datetime | None:
        """Return when the next background monitor ends, or None."""
        return min((m.deadline for m in self._monitors.values()), default=None)

    def active(self) -> bool:
        """Return True while a monitor records in the background."""
        return bool(self._monitors) or bool(self._pending)

    def stop_all(self) -> list[FireResult]:
        """Stop every monitor as `interrupted` (data kept); return all remaining results.

        A monitor whose samples could not be stored (a full disk) is reported `failed`.
        """
        results, self._pending = self._pending, []
        for name, monitor in list(self._monitors.items()):
            del self._monitors[name]
            results.append(_end(monitor, RunStatus.INTERRUPTED, "the scheduler stopped"))
        return results

    def _prune(self, now: datetime) -> None:
        """Apply the default retention (14 days raw, 400 days rollups) to the database."""
        try:
            result = prune(self.settings.db_path, now=now)
        except Exception:  # loop boundary: log, retry tomorrow
            log.exception("retention pruning of %s failed", self.settings.db_path)
            return
        log.info(
            "retention: %d raw sample rows and %d rollup rows deleted",
            result.raw_samples_deleted,
            result.rollup_rows_deleted,
            extra={"event": "retention"},
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
                run = store.runs.get(run_id)
                if run is None:
                    raise StoreError(f"run {run_id} is no longer in {self.settings.db_path}")
                if entry.report is not None:
                    path = report_path(
                        entry, entry.report, run_id, fire_time, self.settings.db_path
                    )
                    path.parent.mkdir(parents=True, exist_ok=True)
                    report_run(store, run, site, path)
                    log.info(
                        "%s: report written to %s",
                        entry.name,
                        path,
                        extra={"event": "report", "entry": entry.name, "run_id": run_id},
                    )
                else:
                    store_findings(store, analyze_run(store, run, site, Thresholds()))
        except Exception as err:  # loop boundary: keep the run, say why
            log.exception("%s: analysis or report of run %s failed", entry.name, run_id)
            return f"analysis/report failed: {type(err).__name__}: {err}"
        return None


class _ScheduledProfile(ProfileObserver):
    """A scheduled profiling run: log the lock wait, pause monitors, allow interrupts."""

    def __init__(self, actions: ScheduledActions, name: str) -> None:
        self.actions = actions
        self.name = name
        self.paused: list[tuple[_Monitor, float]] = []

    def waiting(self, holder: str) -> None:
        """Log that the entry waits for the run lock."""
        log.warning("%s: waiting for %s", self.name, holder)

    def locked(self) -> None:
        """Pause the background monitors: benchmark load must not enter usage history."""
        self.paused = self.actions.pause_monitors(self.name)

    @contextmanager
    def running(self, run_id: str, plan: RunPlan) -> Iterator[Progress | None]:
        """Log the run's phases and a heartbeat; a SIGTERM/SIGINT interrupts it.

        (The interrupt: see `run_scheduler`.)
        """
        self.actions.profiling = True
        try:
            with LineProgress(run_id, plan.duration_s()) as progress:
                progress.start(f"{self.name}: {', '.join(plan.workloads)}")
                yield progress
        finally:
            self.actions.profiling = False


class SchedulerBusyError(FinwattRuntimeError):
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
    lock = scheduler_lock(
        settings.db_path, "finwatt schedule run-due" if once else "finwatt schedule daemon"
    )
    if not lock.try_acquire():
        raise SchedulerBusyError(
            f"{describe_holder(lock.path)} already runs the schedule of {settings.db_path} "
            f"(lock {lock.path}); stop it first"
        )
    try:
        with Store(settings.db_path) as store:
            store.runs.mark_stale()
        book = StateFile(state_path(settings.db_path))
        actions = ScheduledActions(settings, clock, stop)
        with stop_on_signals(stop, interrupt=lambda: actions.profiling):
            log.info(
                "scheduler started: %d entr%s, database %s",
                len(settings.schedules),
                "y" if len(settings.schedules) == 1 else "ies",
                settings.db_path,
                extra={"event": "scheduler_start"},
            )
            try:
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
                log.info("scheduler stopped", extra={"event": "scheduler_stop"})
    finally:
        lock.release()
