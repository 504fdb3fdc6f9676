"""Scheduled runs: when each `[[schedule]]` entry fires, and the daemon loop that fires them.

Pure scheduling logic on an injected clock (all times are aware UTC datetimes):

- `cron` entries fire at croniter's wall-clock times in the entry's zone (`tz`), placed
  on the UTC line by `profiler.schedule.local_time` (DST rules there); `every`
  entries fire on a grid `anchor + k * period`, where the anchor is the entry's last
  fire time (a new entry fires at once, then every period from there).
- An entry's state remembers the last fire time it handled (ran or skipped) and when it
  was first seen with its current trigger (its baseline). A fire time between the last
  handled one and now that was missed (machine asleep, daemon stopped, a long run in
  the way) runs once if the newest such time is at most the grace period old; every
  other missed time is recorded as skipped. Changing an entry's trigger restarts it
  from a new baseline.

`run_loop` is the daemon (and `run-due`, with `once=True`): it asks the `Actions` to
fire what is due, one profiling run at a time, and sleeps on the clock until the next
fire time or the end of a background monitor.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from profiler.model.run import RunStatus
from profiler.schedule.local_time import cron_times
from profiler.settings.schedule_entries import ScheduleEntry

log = logging.getLogger(__name__)

MAX_CRON_SCAN = 200_000
"""Most missed cron times counted one by one (a year of a per-minute job is 525,600)."""

ENTRY_ERRORS = (ValueError, OverflowError, ArithmeticError)
"""What computing an entry's fire times can raise when its values slipped past the checks
of `profiler.settings.schedule_checks` (croniter's errors are ValueErrors; a huge period
overflows datetime): the loop drops that entry, logged, and keeps the others running."""


@dataclass(frozen=True)
class EntryState:
    """What the scheduler remembers about one entry.

    Attributes:
        trigger: the trigger the state belongs to (`ScheduleEntry.trigger`).
        since: when the entry was first seen with this trigger (fire times before it
            are not missed: the entry did not exist).
        last_fire: the last fire time handled (ran or skipped), or None.
    """

    trigger: str
    since: datetime
    last_fire: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What to do about one entry now.

    Attributes:
        entry: the entry.
        fire_time: the fire time to run now, or None when every missed time is skipped.
        skipped: how many fire times are skipped (older ones, or all beyond the grace).
        first_skipped: the oldest skipped fire time, or None.
        last_skipped: the newest skipped fire time, or None.
        handled_up_to: the newest fire time this decision covers (the new `last_fire`).
    """

    entry: ScheduleEntry
    fire_time: datetime | None
    skipped: int
    first_skipped: datetime | None
    last_skipped: datetime | None
    handled_up_to: datetime


def utc(moment: datetime) -> datetime:
    """Return `moment` as an aware UTC datetime (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def fresh_state(entry: ScheduleEntry, state: EntryState | None, now: datetime) -> EntryState:
    """Return `state` if it belongs to the entry's trigger, else a new baseline at `now`."""
    if state is not None and state.trigger == entry.trigger:
        return state
    return EntryState(entry.trigger, utc(now))


def fire_times_after(
    entry: ScheduleEntry, state: EntryState, after: datetime
) -> Iterator[datetime]:
    """Yield the entry's fire times strictly after `after`, in order (endless).

    For an `every` entry that never fired, the first fire time is its baseline.
    """
    after = utc(after)
    if entry.cron is not None:
        yield from cron_times(entry.cron, entry.tz, after)
        return
    if entry.every_s is None:  # parse_entry requires one of cron and every
        raise ValueError(f"schedule entry {entry.name!r} has neither cron nor every")
    period = timedelta(seconds=entry.every_s)
    anchor = state.last_fire + period if state.last_fire is not None else state.since
    if anchor <= after:
        steps = math.floor((after - anchor) / period) + 1
        anchor += steps * period
        while anchor <= after:  # float rounding of the division
            anchor += period
    while True:
        yield anchor
        anchor += period


def _first_pending(entry: ScheduleEntry, state: EntryState) -> datetime:
    """Return the earliest fire time not yet handled."""
    if entry.cron is None and state.last_fire is None:
        return state.since
    return next(fire_times_after(entry, state, state.last_fire or state.since))


def decide(
    entry: ScheduleEntry, state: EntryState, now: datetime, grace_period_s: float
) -> Decision | None:
    """Return what is due for `entry` at `now`, or None when nothing is.

    The newest fire time at or before `now` that was not handled runs if it is at most
    `grace_period_s` old; older pending ones are skipped, as is the newest when late.
    """
    now = utc(now)
    first = _first_pending(entry, state)
    if first > now:
        return None
    if entry.every_s is not None:
        period = timedelta(seconds=entry.every_s)
        count = math.floor((now - first) / period) + 1
        newest = first + (count - 1) * period
        while newest + period <= now:
            newest += period
            count += 1
        before_newest = newest - period if count > 1 else None
    else:
        count, newest, before_newest = 1, first, None
        for moment in fire_times_after(entry, state, first):
            if moment > now or count >= MAX_CRON_SCAN:
                break
            before_newest, newest = newest, moment
            count += 1
    grace_s = entry.grace_period_s if entry.grace_period_s is not None else grace_period_s
    if now - newest <= timedelta(seconds=grace_s):
        skipped = count - 1
        return Decision(
            entry,
            newest,
            skipped,
            first if skipped else None,
            before_newest if skipped else None,
            newest,
        )
    return Decision(entry, None, count, first, newest, newest)


def upcoming(
    entry: ScheduleEntry, state: EntryState | None, now: datetime, count: int = 3
) -> list[datetime]:
    """Return the entry's next `count` fire times; a pending one due now comes first."""
    state = fresh_state(entry, state, now)
    times: list[datetime] = []
    first = _first_pending(entry, state)
    if first <= utc(now):
        times.append(utc(now))
    times.extend(itertools.islice(fire_times_after(entry, state, now), count - len(times)))
    return times


def next_wake(
    entries: Sequence[ScheduleEntry], states: dict[str, EntryState], now: datetime
) -> datetime | None:
    """Return the earliest pending fire time of `entries` (may be in the past), or None."""
    times = [_first_pending(e, fresh_state(e, states.get(e.name), now)) for e in entries]
    return min(times, default=None)


@dataclass(frozen=True)
class FireResult:
    """What became of one fired (or skipped) fire time.

    Attributes:
        name: the entry.
        fire_time: the fire time it stands for.
        status: `running` (a monitor in the background), `complete`, `interrupted`,
            `failed` or `skipped`.
        run_id: the stored run, or None when none was created.
        message: why it failed or was skipped, or a note; None when all went well.
    """

    name: str
    fire_time: datetime
    status: str
    run_id: str | None = None
    message: str | None = None


class Clock(Protocol):
    """The daemon's clock: wall time and an interruptible wait."""

    def now(self) -> datetime:
        """Return the current time, aware UTC."""

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds`; return True when `stop` is set."""


class SystemClock:
    """The real clock: `datetime.now(UTC)` and `Event.wait`."""

    def now(self) -> datetime:
        """Return the current time, aware UTC."""
        return datetime.now(UTC)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds`; return True when `stop` is set."""
        return stop.wait(max(0.0, seconds))


class Actions(Protocol):
    """Carries out fired entries (`profiler.workflows.scheduler` is the real one)."""

    def fire(self, entry: ScheduleEntry, fire_time: datetime) -> FireResult:
        """Run or start the entry's action; a monitor returns `running` at once."""

    def poll(self, now: datetime) -> list[FireResult]:
        """Finish background actions whose end has come; return their results."""

    def next_deadline(self) -> datetime | None:
        """Return when the next background action ends, or None."""

    def active(self) -> bool:
        """Return True while a background action is running."""

    def stop_all(self) -> list[FireResult]:
        """Stop every background action (status `interrupted`); return their results."""


class StateBook(Protocol):
    """Keeps entry states and outcomes (`profiler.schedule.state.StateFile`)."""

    def states(self) -> dict[str, EntryState]:
        """Return every entry's state by name."""

    def handled(self, entry: ScheduleEntry, state: EntryState, decision: Decision | None) -> None:
        """Keep the entry's state and the fire times the decision handled (skips included)."""

    def outcome(self, result: FireResult) -> None:
        """Record the result of a fired entry."""


def run_loop(
    entries: Sequence[ScheduleEntry],
    book: StateBook,
    actions: Actions,
    clock: Clock,
    stop: threading.Event,
    *,
    grace_period_s: float,
    once: bool = False,
    max_sleep_s: float = 60.0,
) -> list[FireResult]:
    """Fire due entries until `stop` is set; return every result, in order.

    With `once`, fire what is due now, wait for the background monitors it started,
    and return (`finwatt schedule run-due`). Sleeps at most `max_sleep_s` at a time, so
    a clock jump (suspend, NTP) is noticed within that.
    """
    outcomes = _Outcomes(book)
    active = _ActiveEntries(entries)
    first_pass = True
    while not stop.is_set():
        outcomes.record_all(actions.poll(clock.now()))
        if first_pass or not once:
            _fire_due(active, book, actions, clock, stop, grace_period_s, outcomes)
            # results the actions left while firing (monitors a profiling run paused):
            # record them now, not after the next sleep (run-due would wait for nothing)
            outcomes.record_all(actions.poll(clock.now()))
        first_pass = False
        if once and not actions.active():
            break
        _sleep_until_next(active, book, actions, clock, stop, once=once, max_sleep_s=max_sleep_s)
    outcomes.record_all(actions.stop_all())
    return outcomes.results


class _ActiveEntries:
    """The loop's entries: one whose fire times cannot be computed is dropped, logged once."""

    def __init__(self, entries: Sequence[ScheduleEntry]) -> None:
        self.entries = list(entries)

    def drop(self, entry: ScheduleEntry, error: Exception) -> None:
        """Stop firing `entry` (the others keep running) and say why."""
        self.entries.remove(entry)
        log.error(
            "%s: skipped from now on, its fire times cannot be computed (%s: %s); "
            "fix it in the config file (`finwatt config check`) and restart the daemon",
            entry.name,
            type(error).__name__,
            error,
            extra={"event": "entry_invalid", "entry": entry.name},
        )

    def pending(self, states: dict[str, EntryState], now: datetime) -> datetime | None:
        """Return the earliest pending fire time of the entries (dropping broken ones)."""
        times = []
        for entry in list(self.entries):
            try:
                times.append(_first_pending(entry, fresh_state(entry, states.get(entry.name), now)))
            except ENTRY_ERRORS as err:
                self.drop(entry, err)
        return min(times, default=None)


class _Outcomes:
    """Every result of a loop, in order: kept in the state book and logged."""

    def __init__(self, book: StateBook) -> None:
        self.book = book
        self.results: list[FireResult] = []

    def record_all(self, results: Iterable[FireResult]) -> None:
        for result in results:
            self.record(result)

    def record(self, result: FireResult) -> None:
        self.book.outcome(result)
        self.results.append(result)
        level = (
            logging.INFO
            if result.status in (RunStatus.RUNNING, RunStatus.COMPLETE)
            else logging.WARNING
        )
        log.log(
            level,
            "%s (fire time %s): %s%s%s",
            result.name,
            result.fire_time.isoformat(timespec="seconds"),
            result.status,
            f", run {result.run_id}" if result.run_id else "",
            f": {result.message}" if result.message else "",
            extra={
                "event": "fire_result",
                "run_id": result.run_id,
                "entry": result.name,
                "status": result.status,
                "fire_time": _when(result.fire_time),
            },
        )


def _fire_due(
    active: _ActiveEntries,
    book: StateBook,
    actions: Actions,
    clock: Clock,
    stop: threading.Event,
    grace_period_s: float,
    outcomes: _Outcomes,
) -> None:
    """Decide each entry in turn and fire it if due.

    Each entry is decided just before it fires, not all at once first: a profiling run
    takes minutes, and the entries after it are decided at the time it ends.
    """
    for entry in list(active.entries):
        if stop.is_set():
            return
        try:
            decision = _decide(entry, book, clock.now(), grace_period_s)
        except ENTRY_ERRORS as err:
            active.drop(entry, err)
            continue
        if decision is not None and decision.fire_time is not None:
            log.info(
                "%s: firing (%s, %s)",
                entry.name,
                entry.action,
                entry.trigger,
                extra={
                    "event": "fire",
                    "entry": entry.name,
                    "fire_time": _when(decision.fire_time),
                },
            )
            outcomes.record(actions.fire(entry, decision.fire_time))


def _decide(
    entry: ScheduleEntry, book: StateBook, now: datetime, grace_period_s: float
) -> Decision | None:
    """Return what is due for `entry` now, keeping the decision (skips too) in the book."""
    state = fresh_state(entry, book.states().get(entry.name), now)
    decision = decide(entry, state, now, grace_period_s)
    book.handled(entry, state, decision)
    if decision is not None and decision.skipped:
        log.warning(
            "%s: skipped %d missed fire time(s) from %s to %s (beyond the grace period, or "
            "superseded by a newer one)",
            entry.name,
            decision.skipped,
            _when(decision.first_skipped),
            _when(decision.last_skipped),
            extra={"event": "skipped", "entry": entry.name, "skipped": decision.skipped},
        )
    return decision


def _when(moment: datetime | None) -> str:
    return "?" if moment is None else moment.isoformat(timespec="seconds")


def _sleep_until_next(
    active: _ActiveEntries,
    book: StateBook,
    actions: Actions,
    clock: Clock,
    stop: threading.Event,
    *,
    once: bool,
    max_sleep_s: float,
) -> None:
    """Sleep until the next fire time or monitor end, at most `max_sleep_s`, or a stop."""
    now = clock.now()
    wakes = [t for t in (actions.next_deadline(),) if t is not None]
    if not once:
        pending = active.pending(book.states(), now)
        if pending is not None:
            wakes.append(pending)
    sleep_s = min([(t - now).total_seconds() for t in wakes] + [max_sleep_s])
    if sleep_s > 0:
        clock.wait(stop, sleep_s)
