"""What a profiling run does (`RunPlan`) and who watches it (`Progress`), without running it.

Kept apart from `profiler.capture.runner`, which starts worker processes through
`workloads`, so that parsing `finwatt run`'s options and the scheduler's entries does not
import multiprocessing and the workloads' numeric stack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from profiler.model.run import PhaseRecord

DEFAULT_LEVELS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)
QUICK_LEVELS = (1.0, 0.5, 0.0)
CALIBRATION_INTERVALS = 3
"""SPECpower's calibration: 3 intervals, X_max of the last two (docs/methodology.md#calibration)."""
QUICK_CALIBRATION = (0.5, 7)
"""`--quick`'s calibration: 7 intervals of 0.5 s, X_max the median of the last six: as long
as three 1-second intervals, and one interval a neighbour slowed does not move it."""


@dataclass(frozen=True)
class RunPlan:
    """What a profiling run does.

    Attributes:
        workloads: workload names, in run order.
        devices: "cpu" and/or "gpu:N".
        levels: target loads, descending; 0 is active idle and runs last.
        phase_seconds: length of each level.
        calibration_interval_s: length of each calibration interval.
        calibration_intervals: how many calibration intervals run (X_max: the median of
            all but the first).
        size: workload problem size.
        interval_s: sampling interval.
        quick: results are indicative (short phases).
        seed: root seed of the workloads.
        idle_share: the idle policy of a shared-host phase's own energy (`none`,
            `cpu-time`, `cores`; docs/attribution.md#the-model).
    """

    workloads: tuple[str, ...]
    devices: tuple[str, ...]
    levels: tuple[float, ...] = DEFAULT_LEVELS
    phase_seconds: float = 60.0
    calibration_interval_s: float = 10.0
    size: str = "standard"
    interval_s: float = 1.0
    quick: bool = False
    seed: int = 0
    calibration_intervals: int = CALIBRATION_INTERVALS
    idle_share: str = "none"

    def duration_s(self) -> float:
        """Return the expected length of the run in seconds: calibration plus the ladder.

        Worker start-up is not counted, so the real run takes a little longer.
        """
        calibration_s = self.calibration_intervals * self.calibration_interval_s
        per_pair_s = calibration_s + len(self.levels) * self.phase_seconds
        return per_pair_s * len(self.workloads) * len(self.devices)

    def as_config(self) -> dict[str, Any]:
        """Return the plan as the run's stored configuration."""
        return {"command": "run", **asdict(self)}


class Progress(Protocol):
    """Receives progress events (the CLI's rich display implements it)."""

    def stage(self, workload: str, device: str, what: str, seconds: float) -> None:
        """Show that a stage (prepare, calibrate, a level) begins, lasting about `seconds`."""

    def phase_done(self, phase: PhaseRecord) -> None:
        """Show a phase that ended and was stored."""
