"""A fake monotonic clock for the sampler: waiting advances time instantly and exactly."""

from __future__ import annotations

import threading
from collections.abc import Callable


class FakeClock:
    """Implements the sampler's `Clock`: `wait` jumps time forward instead of sleeping.

    Args:
        start: the initial monotonic time.
        end: when time reaches `end`, `wait` reports a stop (the run is over).
    """

    def __init__(self, start: float = 1000.0, end: float | None = None) -> None:
        self.t = start
        self.end = end
        self.waits: list[float] = []
        self.on_advance: Callable[[float, float], None] | None = None

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        before = self.t
        self.t += seconds
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
