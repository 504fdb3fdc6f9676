"""The live view in a terminal: keys, signals, the refresh thread, full-screen and `--once`.

The sampler hands each tick to `LiveState.consume` on its own thread; a refresh thread
re-renders when a tick arrives, the terminal is resized or `IDLE_REDRAW_S` passes,
waiting on an `Event` as rich's own `Live` does, at most `MAX_REFRESH_HZ` times a
second. The main thread reads keys in cbreak mode (ISIG stays on, so Ctrl-C still
raises SIGINT) and restores the terminal on exit.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any

from rich.console import Console
from rich.live import Live

from profiler.live.escaped import EscapedFrame
from profiler.live.layout import render
from profiler.live.sources import ProfileSource, TickSource
from profiler.live.state import LiveState
from profiler.model.run import RunStatus

MAX_REFRESH_HZ = 4.0
"""The screen is redrawn at most this often (docs/live.md: refresh <= 4 Hz)."""

IDLE_REDRAW_S = 2.0
"""Redraw (and re-read the store for a profiling run) at least this often."""

EXIT_OK = 0
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)."""


class KeyReader:
    """Reads single keys from a TTY in cbreak mode; restores the terminal on exit.

    Cbreak (not raw) mode keeps ISIG, so Ctrl-C still raises SIGINT.

    Args:
        stream: the keyboard; not a TTY (a pipe, a test's StringIO) means no keys.

    """

    def __init__(self, stream: IO[str]) -> None:
        try:
            self._fd: int | None = stream.fileno() if stream.isatty() else None
        except (OSError, ValueError):
            self._fd = None
        self._saved: list[Any] | None = None

    @property
    def active(self) -> bool:
        """True when keys can be read (the stream is a TTY)."""
        return self._fd is not None

    def __enter__(self) -> KeyReader:
        if self._fd is not None:
            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def read(self, timeout_s: float) -> str:
        """Return the keys typed within `timeout_s` ("" when none)."""
        assert self._fd is not None
        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        if not ready:
            return ""
        data = os.read(self._fd, 64)
        return data.decode(errors="replace") if data else "q"  # EOF: the terminal is gone


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into `stop.set()`; yields the signals received.

    The previous handlers are restored on exit. The view must leave its own threads and
    the terminal in order, so a signal only asks the main loop to stop.
    """
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def show_once(
    state: LiveState,
    source: TickSource,
    console: Console,
    *,
    profile: ProfileSource | None = None,
) -> int:
    """Sample twice (baseline, then one interval), print one frame, stop; returns 0."""
    source.start()
    try:
        state.wait_ticks(1, state.interval_s * 2 + 10)
        if profile is not None:
            state.set_profile(profile.poll())
        console.print(EscapedFrame(render(state, console.width, None)))
    finally:
        source.stop(RunStatus.COMPLETE)
    return EXIT_OK


def run_live(
    state: LiveState,
    source: TickSource,
    *,
    console: Console | None = None,
    profile: ProfileSource | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Show the view full-screen until `q`, Ctrl-C or SIGTERM; returns the exit code.

    The main thread reads keys (cbreak mode, when stdin is a TTY) and watches the
    terminal size; a refresh thread redraws when a tick arrives, the size changes or
    `IDLE_REDRAW_S` passes, at most `MAX_REFRESH_HZ` times a second. The source is
    stopped with status "interrupted" after a signal, "complete" after `q`.
    """
    console = console or Console()
    stop = threading.Event()
    keys = KeyReader(stdin or sys.stdin)
    with stop_on_signals(stop) as received, keys:
        source.start()
        try:
            with _refreshing(state, console, profile, stop):
                _wait_for_quit(keys, console, state, stop)
        finally:
            status = RunStatus.INTERRUPTED if received else RunStatus.COMPLETE
            source.stop(status)
    return EXIT_INTERRUPTED if received else EXIT_OK


@contextmanager
def live_display(
    state: LiveState, console: Console, profile: ProfileSource | None = None
) -> Iterator[None]:
    """Show the view full-screen while the body runs (`finwatt run --live`).

    The body keeps the main thread (a profiling run, whose Ctrl-C handling stays as it
    is); the view redraws from its own thread as `run_live` does, without reading keys.
    """
    with _refreshing(state, console, profile, threading.Event()):
        yield


@contextmanager
def _refreshing(
    state: LiveState, console: Console, profile: ProfileSource | None, stop: threading.Event
) -> Iterator[None]:
    """Show the view full-screen, redrawn by a refresh thread, until the body ends."""
    live = Live(console=console, screen=True, auto_refresh=False, transient=True)
    with live:
        refresher = threading.Thread(
            target=_refresh_loop,
            args=(live, state, console, profile, stop),
            name="finwatt-live",
            daemon=True,
        )
        refresher.start()
        try:
            yield
        finally:
            stop.set()
            state.changed.set()
            refresher.join()


def _wait_for_quit(
    keys: KeyReader, console: Console, state: LiveState, stop: threading.Event
) -> None:
    size = console.size
    while not stop.is_set():
        if keys.active:
            if "q" in keys.read(1 / MAX_REFRESH_HZ).lower():
                return
        else:
            stop.wait(1 / MAX_REFRESH_HZ)
        if console.size != size:
            size = console.size
            state.changed.set()


def _refresh_loop(
    live: Live,
    state: LiveState,
    console: Console,
    profile: ProfileSource | None,
    stop: threading.Event,
) -> None:
    next_poll = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if profile is not None and now >= next_poll:
            state.set_profile(profile.poll())
            next_poll = now + IDLE_REDRAW_S
        state.changed.clear()
        width, height = console.size
        live.update(EscapedFrame(render(state, width, height)), refresh=True)
        if stop.wait(1 / MAX_REFRESH_HZ):
            return
        state.changed.wait(IDLE_REDRAW_S)
