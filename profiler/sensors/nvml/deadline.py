"""A deadline for NVML calls: a hung call must not stall the sampler.

An NVML call can block for seconds or for ever (a GPU falling off the bus, a driver
stuck in a reset, an `nvidia-persistenced` restart). `DeadlineCaller` runs the calls of
one GPU on a worker thread of its own and waits at most `timeout_s` for them; a call
still running then leaves the tick without that GPU's values (the caller gets
`DeadlineExceeded`) and is not queued behind: until it returns, every later call fails at
once, so a stuck GPU costs the sampler one timeout, not one per tick. Other GPUs, each
with their own worker, are read as usual.

The worker is a daemon thread: a call that never returns cannot keep the process alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from profiler.sensors.base import SensorError

T = TypeVar("T")

#: How long a tick waits for one GPU's NVML calls. Healthy calls take microseconds to a
#: few milliseconds (measured by bench/gpu_check.sh); half a second is far beyond that and
#: still keeps a 1-s sampling interval on time.
CALL_TIMEOUT_S = 0.5


class DeadlineExceeded(SensorError):  # noqa: N818 - reads as what happened, like TimeoutError
    """A call did not return within its deadline, or an earlier one is still running."""


@dataclass
class _Job:
    fn: Callable[[], Any]
    started_mono: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class DeadlineCaller:
    """Run calls on one worker thread, waiting at most `timeout_s` for each.

    Args:
        timeout_s: longest wait for a call, in seconds; None calls inline (no thread).
        name: names the worker thread (`finwatt-nvml-gpu:0`).

    """

    def __init__(self, timeout_s: float | None, name: str) -> None:
        self.timeout_s = timeout_s
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending: _Job | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """Return `fn()`, or raise `DeadlineExceeded` when it takes longer than the deadline.

        Exceptions raised by `fn` are raised here, in the caller's thread.

        Raises:
            DeadlineExceeded: `fn` did not return in time, or the previous call still runs
                (then `fn` is not run at all).

        """
        if self.timeout_s is None:
            return fn()
        pending = self._pending
        if pending is not None:
            if not pending.done.is_set():
                raise DeadlineExceeded(
                    f"{self.name}: an NVML call has not returned for {self.hung_for_s():.1f} s"
                )
            self._pending = None
        job = _Job(fn, started_mono=time.monotonic())
        self._ensure_worker()
        self._jobs.put(job)
        if not job.done.wait(self.timeout_s):
            self._pending = job
            raise DeadlineExceeded(
                f"{self.name}: an NVML call took longer than {self.timeout_s:g} s"
            )
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def hung_for_s(self) -> float:
        """Seconds the call still running has been running; 0 when none is stuck."""
        pending = self._pending
        if pending is None or pending.done.is_set():
            return 0.0
        return time.monotonic() - pending.started_mono

    def close(self) -> None:
        """Let the worker end once its current call (if any) returns."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _ensure_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name=f"finwatt-{self.name}", daemon=True
            )
            self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job.result = job.fn()
            # The worker's loop boundary: every outcome, errors included, goes back to the
            # caller, which raises it in its own thread.
            except BaseException as err:  # noqa: BLE001
                job.error = err
            finally:
                job.done.set()
