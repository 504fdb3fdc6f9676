"""Scheduling logic on a fake clock: cron and every, missed fire times, grace period."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profiler.schedule.state import ScheduleStateError, StateFile
from profiler.schedule.timing import (
    Decision,
    EntryState,
    FireResult,
    decide,
    fire_times_after,
    fresh_state,
    run_loop,
    upcoming,
)
from profiler.settings.schedule_entries import ScheduleEntry
from tests.fakes.clock import FakeWallClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def every(seconds: float, name: str = "e", grace: float | None = None) -> ScheduleEntry:
    return ScheduleEntry(
        name, "monitor", every_s=seconds, every=f"{seconds:g}s", duration_s=1, grace_period_s=grace
    )


def cron(expression: str, name: str = "c") -> ScheduleEntry:
    return ScheduleEntry(name, "run", cron=expression)


def test_a_new_every_entry_fires_at_once_then_every_period() -> None:
    entry = every(900)
    state = fresh_state(entry, None, T0)
    decision = decide(entry, state, T0, HOUR)
    assert decision is not None and decision.fire_time == T0 and decision.skipped == 0
    state = EntryState(state.trigger, state.since, decision.handled_up_to)
    assert decide(entry, state, T0 + timedelta(seconds=899), HOUR) is None
    later = decide(entry, state, T0 + timedelta(seconds=901), HOUR)
    assert later is not None and later.fire_time == T0 + timedelta(seconds=900)
    assert upcoming(entry, state, T0 + timedelta(seconds=1)) == [
        T0 + timedelta(seconds=900 * k) for k in (1, 2, 3)
    ]


def test_cron_fire_times_are_crons_in_utc() -> None:
    entry = cron("0 2 * * *")
    state = fresh_state(entry, None, T0)
    times = list(zip(range(3), fire_times_after(entry, state, T0), strict=False))
    assert [t for _, t in times] == [datetime(2026, 3, d, 2, 0, tzinfo=UTC) for d in (2, 3, 4)]
    # a cron entry first seen at noon did not miss this morning's 02:00
    assert decide(entry, state, T0 + timedelta(hours=1), HOUR) is None
    due = decide(entry, state, datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC), HOUR)
    assert due is not None and due.fire_time == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_missed_cron_times_within_grace_run_once_older_ones_are_skipped() -> None:
    entry = cron("0 * * * *")  # hourly
    state = EntryState(entry.trigger, T0, last_fire=T0)
    # asleep from 12:00 until 15:20: 13:00, 14:00, 15:00 missed; 15:00 is 20 min old
    now = T0 + timedelta(hours=3, minutes=20)
    decision = decide(entry, state, now, HOUR)
    assert decision is not None
    assert decision.fire_time == T0 + timedelta(hours=3)
    assert decision.skipped == 2
    assert decision.first_skipped == T0 + timedelta(hours=1)
    assert decision.last_skipped == T0 + timedelta(hours=2)


def test_missed_times_beyond_grace_are_all_skipped() -> None:
    entry = cron("0 2 * * *")
    state = EntryState(entry.trigger, T0, last_fire=None)
    now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # 02:00 on the 2nd, 3rd, 4th missed
    decision = decide(entry, state, now, HOUR)
    assert decision is not None and decision.fire_time is None
    assert decision.skipped == 3
    assert decision.handled_up_to == datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    assert decide(entry, EntryState(entry.trigger, T0, decision.handled_up_to), now, HOUR) is None


def test_grace_period_of_the_entry_wins_over_the_default() -> None:
    entry = every(60, grace=0)
    state = EntryState(entry.trigger, T0, last_fire=T0)
    decision = decide(entry, state, T0 + timedelta(seconds=61), 3600)
    assert decision is not None and decision.fire_time is None and decision.skipped == 1
    lenient = every(60, grace=600)
    decision = decide(lenient, state, T0 + timedelta(seconds=300), 0)
    assert decision is not None and decision.fire_time == T0 + timedelta(seconds=300)
    assert decision.skipped == 4


def test_every_counts_a_week_of_missed_times_without_enumerating() -> None:
    entry = every(2)
    state = EntryState(entry.trigger, T0, last_fire=T0)
    decision = decide(entry, state, T0 + timedelta(days=7, seconds=1), HOUR)
    assert decision is not None
    assert decision.fire_time == T0 + timedelta(days=7)
    assert decision.skipped == 7 * 86400 // 2 - 1


def test_a_changed_trigger_starts_from_a_new_baseline() -> None:
    entry = cron("0 3 * * *", name="x")
    old = EntryState("cron 0 2 * * *", T0 - timedelta(days=30), T0 - timedelta(days=29))
    state = fresh_state(entry, old, T0)
    assert state == EntryState(entry.trigger, T0)


class FakeActions:
    """Monitors that run `duration_s` of fake time; runs that take `run_s`."""

    def __init__(self, clock: FakeWallClock, run_s: float = 0.0) -> None:
        self.clock = clock
        self.run_s = run_s
        self.fired: list[tuple[str, datetime]] = []
        self.monitors: dict[str, tuple[datetime, datetime]] = {}

    def fire(self, entry: ScheduleEntry, fire_time: datetime) -> FireResult:
        self.fired.append((entry.name, fire_time))
        if entry.action == "run":
            self.clock.advance(self.run_s)
            return FireResult(entry.name, fire_time, "complete", f"run{len(self.fired)}")
        deadline = self.clock.now() + timedelta(seconds=entry.duration_s or 0)
        self.monitors[entry.name] = (fire_time, deadline)
        return FireResult(entry.name, fire_time, "running", f"run{len(self.fired)}")

    def poll(self, now: datetime) -> list[FireResult]:
        done = [n for n, (_, d) in self.monitors.items() if d <= now]
        return [FireResult(n, self.monitors.pop(n)[0], "complete") for n in done]

    def next_deadline(self) -> datetime | None:
        return min((d for _, d in self.monitors.values()), default=None)

    def active(self) -> bool:
        return bool(self.monitors)

    def stop_all(self) -> list[FireResult]:
        out = [FireResult(n, f, "interrupted") for n, (f, _) in self.monitors.items()]
        self.monitors.clear()
        return out


def test_daemon_loop_fires_every_two_seconds_on_a_fake_clock(tmp_path: Path) -> None:
    clock = FakeWallClock(T0, T0 + timedelta(seconds=7))
    actions = FakeActions(clock)
    book = StateFile(tmp_path / "state.json")
    results = run_loop([every(2)], book, actions, clock, clock.stop, grace_period_s=HOUR)
    assert [t for _, t in actions.fired] == [T0 + timedelta(seconds=s) for s in (0, 2, 4, 6)]
    assert results[-1].status == "interrupted"  # the last monitor was stopped
    assert sum(clock.waits) == pytest.approx(7)
    assert StateFile(tmp_path / "state.json").entry("e")["last_run"]["status"] == "interrupted"


def test_a_long_run_makes_the_next_times_late_newest_runs_once(tmp_path: Path) -> None:
    clock = FakeWallClock(T0, T0 + timedelta(seconds=12))
    actions = FakeActions(clock, run_s=5)
    entry = ScheduleEntry("bench", "run", every_s=2, every="2s")
    book = StateFile(tmp_path / "state.json")
    run_loop([entry], book, actions, clock, clock.stop, grace_period_s=HOUR)
    # fires at 0, ends at 5: 2 skipped, 4 runs late; ends at 10: 6 and 8 skipped, 10 runs
    assert [t for _, t in actions.fired][:3] == [T0 + timedelta(seconds=s) for s in (0, 4, 10)]
    assert book.entry("bench")["skipped_total"] >= 2


def test_run_due_once_waits_for_its_monitor_then_returns(tmp_path: Path) -> None:
    clock = FakeWallClock(T0, T0 + timedelta(hours=1))
    actions = FakeActions(clock)
    entries = [every(2, name="m"), ScheduleEntry("r", "run", cron="0 * * * *")]
    results = run_loop(
        entries,
        StateFile(tmp_path / "s.json"),
        actions,
        clock,
        clock.stop,
        grace_period_s=HOUR,
        once=True,
    )
    assert [(r.name, r.status) for r in results] == [("m", "running"), ("m", "complete")]
    assert clock.t == T0 + timedelta(seconds=1)


def test_state_file_round_trips_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    book = StateFile(path)
    entry = every(60)
    state = fresh_state(entry, None, T0)
    book.handled(entry, state, Decision(entry, T0, 0, None, None, T0))
    assert StateFile(path).states() == {"e": EntryState(entry.trigger, T0, T0)}
    path.write_text("{not json")
    with pytest.raises(ScheduleStateError, match="delete it"):
        StateFile(path)


class PausingActions(FakeActions):
    """A profiling run pauses the running monitor, leaving its result to the next poll."""

    def __init__(self, clock: FakeWallClock) -> None:
        super().__init__(clock, run_s=5)
        self.pending: list[FireResult] = []

    def fire(self, entry: ScheduleEntry, fire_time: datetime) -> FireResult:
        if entry.action == "run":
            for name, (fired, _) in list(self.monitors.items()):
                del self.monitors[name]
                self.pending.append(FireResult(name, fired, "complete", None, "paused"))
        return super().fire(entry, fire_time)

    def poll(self, now: datetime) -> list[FireResult]:
        results, self.pending = self.pending, []
        return results + super().poll(now)

    def active(self) -> bool:
        return super().active() or bool(self.pending)


def test_run_due_records_a_paused_monitor_without_waiting(tmp_path: Path) -> None:
    clock = FakeWallClock(T0, T0 + timedelta(hours=2))
    actions = PausingActions(clock)
    entries = [every(3600, "tick"), ScheduleEntry("bench", "run", every_s=3600, every="1h")]
    book = StateFile(tmp_path / "state.json")
    results = run_loop(entries, book, actions, clock, clock.stop, grace_period_s=HOUR, once=True)
    assert [(r.name, r.status) for r in results] == [
        ("tick", "running"), ("bench", "complete"), ("tick", "complete"),
    ]  # fmt: skip
    assert clock.waits == []  # it returned once the run ended; no sleep for nothing
