"""Fake clocks on which waiting advances time instantly and exactly.

`FakeClock` is the sampler's monotonic clock (`profiler.capture.sampler.Clock`);
`FakeWallClock` shows the same fake seconds as aware UTC datetimes, for the scheduler's
clock (`profiler.schedule.timing.Clock`). (The workloads' tests have their own callable
clock in `tests.fakes.workloads`: `workloads.load` takes a function, not this protocol.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta


class FakeClock:
    """Implements the sampler's `Clock`: `wait` jumps time forward instead of sleeping.

    Args:
        start: the initial monotonic time.
        end: when time reaches `end`, `wait` reports a stop (the run is over) and
            `stop` is set.
    """

    def __init__(self, start: float = 1000.0, end: float | None = None) -> None:
        self.t = start
        self.end = end
        self.waits: list[float] = []
        self.on_advance: Callable[[float, float], None] | None = None
        # for loops that watch an event rather than `wait`'s result (the scheduler's)
        self.stop = threading.Event()

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        before = self.t
        self.t += seconds
        if self.end is not None and self.t >= self.end:
            self.stop.set()
        if self.on_advance is not None:
            self.on_advance(before, self.t)

    def wait(self, stop: threading.Event, timeout_s: float) -> bool:
        if stop.is_set():
            return True
        self.waits.append(timeout_s)
        if self.end is not None and self.t + timeout_s > self.end:
            self.advance(max(0.0, self.end - self.t))
            return True
        self.advance(timeout_s)
        return False


class FakeWallClock:
    """Implements the scheduler's `Clock` on a `FakeClock` that counts seconds from `start`.

    Args:
        start: the wall time when the fake seconds are 0, aware UTC.
        end: when the wall time reaches `end`, `stop` is set (the daemon is told to stop).
    """

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = FakeClock(start=0.0, end=(end - start).total_seconds())

    @property
    def t(self) -> datetime:
        """The current wall time."""
        return self.start + timedelta(seconds=self.seconds.t)

    @property
    def waits(self) -> list[float]:
        """Every wait asked for, in seconds, in order."""
        return self.seconds.waits

    @property
    def stop(self) -> threading.Event:
        """Set once the wall time reaches `end`."""
        return self.seconds.stop

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.seconds.advance(seconds)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return self.seconds.wait(stop, seconds)
