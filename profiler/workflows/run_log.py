"""A profiling run's progress as log records, for runs nobody watches on a terminal.

`finwatt run` uses it when stderr is not a terminal (systemd, cron, CI), and the
scheduler for every scheduled profiling run, so a 35-minute run says what it does while
it does it. It only logs records (`event`, `run_id` and the stage in `extra`); the CLI
decides how they print (`profiler.cli.logs`: text, or `--log-format json`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from profiler.model.run import PhaseRecord


PROGRESS_LOGGER = "profiler.workflows.progress"
HEARTBEAT_S = 30.0
"""Most seconds between two progress lines of a run without a terminal."""


class LineProgress:
    """A run's progress as log lines, for stderr that is not a terminal (systemd, cron, CI).

    One line when each stage (prepare, calibrate, each load level) begins, one when a
    phase ends, and a heartbeat when no line came for `heartbeat_s`; each record carries
    `event` and `run_id`, so `--log-format json` makes them indexable.

    Args:
        run_id: the stored run.
        total_s: the plan's expected length, for the "of about" figure.
        heartbeat_s: most seconds between two lines.
    """

    def __init__(self, run_id: str, total_s: float, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.run_id = run_id
        self.total_s = total_s
        self.heartbeat_s = heartbeat_s
        self._log = logging.getLogger(PROGRESS_LOGGER)
        self._log.setLevel(logging.INFO)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._stage = "starting"
        self._stage_started = self._started
        self._thread = threading.Thread(target=self._beat, name="finwatt-heartbeat", daemon=True)

    def __enter__(self) -> LineProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _line(self, event: str, message: str, **extra: object) -> None:
        with self._lock:
            self._last_line = time.monotonic()
        self._log.info(
            "run %s: %s",
            self.run_id,
            message,
            extra={"event": event, "run_id": self.run_id, **extra},
        )

    def start(self, description: str) -> None:
        """Say what the run does and how long it should take."""
        self._line("run_start", f"{description}; about {_minutes(self.total_s)}")

    def stage(self, workload: str, device: str, what: str, seconds: float) -> None:
        """Log that a stage begins (one line per phase)."""
        with self._lock:
            self._stage = f"{workload} on {device}: {what}"
            self._stage_started = time.monotonic()
        elapsed_s = time.monotonic() - self._started
        self._line(
            "phase_start",
            f"{self._stage} ({seconds:g} s); {_minutes(elapsed_s)} of about "
            f"{_minutes(self.total_s)} elapsed",
            workload=workload,
            device=device,
            stage=what,
            seconds=seconds,
        )

    def phase_done(self, phase: PhaseRecord) -> None:
        """Log a phase that ended (its units, or why it failed)."""
        where = f"{phase.workload} on {phase.device_id}: {phase.target_load:.0%}"
        if phase.units is None:
            text, level = f"{where}: FAILED: {phase.metrics.error}", "failed"
        else:
            text, level = f"{where} done, {phase.units:,.0f} {phase.unit or 'units'}", "done"
        self._line(
            "phase_done", text, workload=phase.workload, device=phase.device_id, status=level
        )

    def _beat(self) -> None:
        while not self._stop.wait(self._next_beat_s()):
            now = time.monotonic()
            with self._lock:
                due = now - self._last_line >= self.heartbeat_s
                stage, stage_s = self._stage, now - self._stage_started
            if due:
                self._line(
                    "heartbeat",
                    f"still running: {stage}, {stage_s:.0f} s in; "
                    f"{_minutes(now - self._started)} of about {_minutes(self.total_s)} elapsed",
                )

    def _next_beat_s(self) -> float:
        with self._lock:
            return max(0.01, self._last_line + self.heartbeat_s - time.monotonic())


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
