"""SIGINT/SIGTERM as a stop request, so a run is flushed and kept instead of killed.

One helper for every long-running command (`monitor`, `serve`, `run`, the schedule
daemon): inside `stop_on_signals()` either signal sets an `Event` and records which
signal came. Code that waits (a monitor window, a server) waits on the event. Code that
cannot wait on an event (the workload ladder blocks in worker pools) passes `interrupt`,
and the first signal while `interrupt()` is true raises `KeyboardInterrupt` in the main
thread, which `run_profile` turns into an `interrupted` run with its data kept.

Handlers can only be installed from the main thread; elsewhere (a test calling the
scheduler from a thread) the helper installs nothing and the event is set by whoever
stops the caller. The live view keeps its own handlers in `profiler.live`: it is the
terminal layer and must restore the terminal first.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _never() -> bool:
    return False


def always() -> bool:
    """Return True: with `stop_on_signals(interrupt=always)` a signal always interrupts."""
    return True


@dataclass
class StopRequest:
    """A stop asked for by a signal.

    Attributes:
        event: set by the first SIGINT or SIGTERM (or by whoever else stops the caller).
        signum: the signal that came, or None while none has.
    """

    event: threading.Event = field(default_factory=threading.Event)
    signum: int | None = None

    @property
    def signalled(self) -> bool:
        """True once a signal asked to stop."""
        return self.signum is not None


@contextmanager
def stop_on_signals(
    event: threading.Event | None = None, *, interrupt: Callable[[], bool] = _never
) -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a `StopRequest` while the block runs; restore after.

    Args:
        event: the event to set (a new one by default), e.g. the scheduler's stop event.
        interrupt: asked on each signal; when it returns True the first time, the
            handler also raises `KeyboardInterrupt` in the main thread (later signals
            only set the event, so cleanup after the interrupt is not cut short).

    Yields:
        The stop request: its `event` and, once a signal came, its `signum`.
    """
    request = StopRequest(event if event is not None else threading.Event())
    interrupted = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        request.signum = signum
        request.event.set()
        if not interrupted and interrupt():
            interrupted = True
            raise KeyboardInterrupt

    on_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, handle) for s in STOP_SIGNALS} if on_main else {}
    try:
        yield request
    finally:
        for signal_number, handler in previous.items():
            signal.signal(signal_number, handler)
