"""Load control: drive a workload at a fraction of its calibrated maximum throughput.

Calibration follows docs/methodology.md#calibration: run unthrottled for n intervals (3 by
default) and take X_max as the median throughput of intervals 2 to n (the first warms
caches, clocks and allocators; for n = 3 the median of two is their mean, SPECpower's
form, and with more, shorter intervals one interval that a neighbour slowed down or a
clock boost sped up does not move it). A load level L is then held by offering batches
as a Poisson process of rate L * X_max / (units per batch) and sleeping between them,
as SPECpower_ssj2008 offers transactions with negative-exponential delays (SPECpower Run
and Reporting Rules, 2.5). Once the unthrottled 100 % level has run, the runner passes its
throughput in place of X_max (docs/methodology.md#calibration).

Over a phase of T seconds the arrival count is fixed at N = L * X_max * T / (units per
batch), rounded at random to an integer with the right mean, and the N arrival times
are independent uniforms on [0, T): a Poisson process conditioned on its count, whose
gaps are still exponential-like. Unconditioned, the count's own noise (a relative
standard deviation of 1 / sqrt(N), 20% for 25 batches) would swamp the +-5 point
tolerance of a short phase. A batch that arrives while another runs waits its turn, so
throughput falls short of the target only by the backlog left when the phase ends. At
L >= 1 the workload runs unthrottled.

The clock and sleep are parameters so tests drive this logic on a fake clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median

import numpy as np
import numpy.typing as npt

from workloads.base import WorkloadError

__all__ = [
    "Calibration",
    "Clock",
    "LoadResult",
    "Sleep",
    "arrival_times",
    "calibrate",
    "run_at_load",
]

Clock = Callable[[], float]
"""Monotonic clock in seconds."""
Sleep = Callable[[float], None]
"""Sleep for a number of seconds."""
RunBatch = Callable[[], int]


@dataclass(frozen=True)
class Calibration:
    """Unthrottled throughput measured over consecutive intervals.

    Attributes:
        units: units completed in each interval.
        seconds: length of each interval (it ends at the first batch boundary after
            `interval_s`).
        batches: batches completed in each interval.

    """

    units: tuple[int, ...]
    seconds: tuple[float, ...]
    batches: tuple[int, ...]

    @property
    def throughputs(self) -> tuple[float, ...]:
        """Units per second of each interval."""
        return tuple(u / s for u, s in zip(self.units, self.seconds, strict=True))

    @property
    def x_max(self) -> float:
        """Calibrated maximum throughput in units/s: the median over all but the first interval."""
        rates = self.throughputs[1:] or self.throughputs
        return float(median(rates))

    @property
    def units_per_batch(self) -> float:
        """Mean units per batch over all intervals."""
        return sum(self.units) / max(sum(self.batches), 1)


@dataclass(frozen=True)
class LoadResult:
    """What one worker did in one phase.

    Attributes:
        target_load: the load level asked for (0..1; above 1 means unthrottled).
        units: units completed.
        batches: batches completed.
        offered_batches: batches scheduled (equal to `batches` when the phase ran to its
            end; unthrottled phases offer what they complete).
        seconds: wall time from the phase start until the later of its end and the last
            batch's completion.
        busy_seconds: time spent inside `run_batch`.

    """

    target_load: float
    units: int
    batches: int
    offered_batches: int
    seconds: float
    busy_seconds: float

    @property
    def throughput(self) -> float:
        """Achieved units per second."""
        return self.units / self.seconds if self.seconds > 0 else 0.0


def calibrate(
    run_batch: RunBatch,
    interval_s: float,
    *,
    intervals: int = 3,
    clock: Clock = time.monotonic,
) -> Calibration:
    """Run `run_batch` unthrottled for `intervals` back-to-back intervals of `interval_s`.

    Raises:
        WorkloadError: `interval_s` is not positive or `intervals` < 1.

    """
    if not interval_s > 0:
        raise WorkloadError(f"interval_s must be > 0 (got {interval_s})")
    if intervals < 1:
        raise WorkloadError(f"intervals must be >= 1 (got {intervals})")
    units: list[int] = []
    seconds: list[float] = []
    batches: list[int] = []
    start = clock()
    for _ in range(intervals):
        done = n = 0
        now = start
        while now - start < interval_s:
            done += run_batch()
            n += 1
            now = clock()
        units.append(done)
        seconds.append(now - start)
        batches.append(n)
        start = now
    return Calibration(tuple(units), tuple(seconds), tuple(batches))


def arrival_times(
    rate_per_s: float, seconds: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Return sorted arrival times in [0, seconds) of a Poisson process conditioned on its count.

    The count is rate_per_s * seconds rounded at random (up with probability equal to
    its fractional part), so its mean is exact.
    """
    expected = rate_per_s * seconds
    count = math.floor(expected)
    count += int(rng.random() < expected - count)
    return np.sort(rng.random(count) * seconds)


def run_at_load(
    run_batch: RunBatch,
    target_load: float,
    x_max: float,
    seconds: float,
    *,
    units_per_batch: float,
    rng: np.random.Generator,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> LoadResult:
    """Hold `target_load` x `x_max` units/s for `seconds`, sleeping between batches.

    Args:
        run_batch: does one batch, returns its units.
        target_load: fraction of `x_max` (0 = active idle: sleep only; >= 1 = unthrottled).
        x_max: calibrated maximum throughput in units/s.
        seconds: phase length.
        units_per_batch: mean units per batch (from calibration).
        rng: source of the arrival times.
        clock: monotonic clock.
        sleep: sleeps for a number of seconds.

    Raises:
        WorkloadError: a negative or non-finite load, or non-positive rates or lengths.

    """
    if not (math.isfinite(target_load) and target_load >= 0):
        raise WorkloadError(f"target_load must be >= 0 (got {target_load})")
    if not (math.isfinite(seconds) and seconds > 0):
        raise WorkloadError(f"seconds must be > 0 (got {seconds})")
    if not (x_max > 0 and units_per_batch > 0):
        raise WorkloadError(f"x_max and units_per_batch must be > 0 ({x_max}, {units_per_batch})")
    start = clock()
    units = batches = 0
    busy = 0.0
    if target_load >= 1.0:
        offered = None
        while clock() - start < seconds:
            t0 = clock()
            units += run_batch()
            busy += clock() - t0
            batches += 1
    else:
        arrivals = arrival_times(target_load * x_max / units_per_batch, seconds, rng)
        offered = arrivals.size
        for due in arrivals:
            wait = start + float(due) - clock()
            if wait > 0:
                sleep(wait)
            t0 = clock()
            units += run_batch()
            busy += clock() - t0
            batches += 1
        rest = start + seconds - clock()
        if rest > 0:
            sleep(rest)
    return LoadResult(
        target_load=float(target_load),
        units=units,
        batches=batches,
        offered_batches=batches if offered is None else offered,
        seconds=clock() - start,
        busy_seconds=busy,
    )
