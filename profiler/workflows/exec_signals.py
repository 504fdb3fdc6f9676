"""Signals around `finwatt exec`: during its start-up, and forwarded to the job while it runs.

A SIGTERM (a scheduler's stop, `timeout(1)`) or SIGINT may come at any moment. From the
moment the exec command begins until the job is started, `stop_on_signals` only records
it; `run_job` looks at the record before each step that starts something (the sensors'
probe, the run's row, the sampler, the job) and, once a signal came, starts nothing
more: the sensors are closed, a run already created is stored `interrupted` with the
reason, and `JobStoppedError` ends the command with one line and 128 + N. The job is
never started once the signal has come, so it cannot be left running without finwatt.
While the job runs, `forward_signals` passes the signal on to it (its own handlers
decide); afterwards finwatt finishes storing the run and exits with the job's status.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from profiler.model.errors import FinwattRuntimeError
from profiler.workflows.signals import StopRequest


class JobStoppedError(FinwattRuntimeError):
    """A signal came before the job started: it was not started (exit 128 + N).

    Attributes:
        signum: the signal.
        run_id: the run stored `interrupted`, None when none was created yet.
    """

    def __init__(self, signum: int, run_id: str | None = None) -> None:
        self.signum = signum
        self.run_id = run_id
        self.exit_code = 128 + signum  # the shell's status of a process the signal ended
        name = signal.Signals(signum).name
        kept = f"; run {run_id} stored as interrupted" if run_id else "; nothing was recorded"
        super().__init__(f"{name} came before the job started: the job was not started{kept}")

    @property
    def reason(self) -> str:
        """The run's `status_reason`."""
        return f"{signal.Signals(self.signum).name} before the job started; the job was not run"


def check_stop(stop: StopRequest | None, pending: list[int] | None = None) -> None:
    """Raise `JobStoppedError` when a signal came (`stop`, or `pending` of `forward_signals`).

    Raises:
        JobStoppedError: a signal came; `run_id` is None (the caller adds its run).
    """
    if pending:
        raise JobStoppedError(pending[0])
    if stop is not None and stop.signum is not None:
        raise JobStoppedError(stop.signum)


@contextmanager
def forward_signals(
    pid_of: Callable[[], int | None], on_signal: Callable[[int], None]
) -> Iterator[None]:
    """Forward SIGINT and SIGTERM to the job while the block runs (main thread only).

    A Ctrl-C at a terminal reaches every process of the foreground group, the job
    included; forwarding it again would send a second SIGINT, so SIGINT is forwarded only
    when finwatt is not in the terminal's foreground group or has none (a scheduler,
    `kill -INT`). SIGTERM is always forwarded.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        on_signal(signum)
        pid = pid_of()
        if pid is None:
            return
        if signum == signal.SIGINT and _in_terminal_foreground():
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _in_terminal_foreground() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)
