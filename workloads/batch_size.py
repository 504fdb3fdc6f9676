"""Batch size per device: grow a batch until the device's throughput saturates.

A batch sized for one CPU core (2,048 inference rows, about 1 GFLOP) takes tens of
microseconds on an H200, against ~20 kernel launches of a few microseconds each: the
"100 %" phase is then launch-bound, and joules per unit mostly measure idle power. So on a
GPU each workload calibrates its batch in `prepare()`, outside the measured window, by
this rule (stated in docs/gpu.md):

    Start from the CPU-sized batch. Double it while the doubled batch raises throughput
    (units/s) by at least `MIN_GAIN` (10 %), still completes within `MAX_BATCH_S` (50 ms,
    the Workload interface's upper bound, so load control stays fine-grained) and stays
    within the workload's cap (memory). Keep the last size that did.

Each candidate is timed as the median of `REPEATS` batches after one warm-up batch, each
batch followed by a device synchronisation, so the time is the device's and not the
launch queue's. Throughput saturates when the kernels are long enough to hide launch
overhead and fill the SMs; beyond that point a larger batch only coarsens load control.
The CPU keeps its fixed batch sizes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from workloads.base import WorkloadError

__all__ = [
    "MAX_BATCH_S",
    "MIN_GAIN",
    "REPEATS",
    "BatchSizing",
    "saturating_batch",
    "timed_batches",
]

MIN_GAIN = 1.10
"""A doubled batch is kept only if it raises throughput by at least this factor."""
MAX_BATCH_S = 0.05
"""The longest batch the calibration accepts, in seconds."""
REPEATS = 3
"""Timed batches per candidate size (after one warm-up)."""


@dataclass(frozen=True)
class BatchSizing:
    """The calibrated batch and how it was found.

    Attributes:
        units: the chosen units per batch.
        trials: (units per batch, units/s) of every size timed, in order.
        stopped: why growing stopped: "saturated", "batch time" or "cap".

    """

    units: int
    trials: tuple[tuple[int, float], ...]
    stopped: str


def saturating_batch(
    seconds_per_batch: Callable[[int], float],
    start_units: int,
    cap_units: int,
    *,
    min_gain: float = MIN_GAIN,
    max_batch_s: float = MAX_BATCH_S,
) -> BatchSizing:
    """Apply the module's rule: double from `start_units` until throughput saturates.

    Args:
        seconds_per_batch: time of one batch of n units on the device, in seconds.
        start_units: the CPU-sized batch, where growing starts.
        cap_units: the largest batch allowed (memory); growing never passes it.
        min_gain: the least throughput factor a doubling must bring.
        max_batch_s: the longest batch accepted, in seconds.

    Raises:
        WorkloadError: `start_units` is not positive or above `cap_units`.

    """
    if not 0 < start_units <= cap_units:
        raise WorkloadError(f"need 0 < start_units <= cap_units (got {start_units}, {cap_units})")
    units = start_units
    rate = units / max(seconds_per_batch(units), 1e-12)
    trials = [(units, rate)]
    while True:
        if units * 2 > cap_units:
            return BatchSizing(units, tuple(trials), "cap")
        seconds = seconds_per_batch(units * 2)
        bigger = units * 2 / max(seconds, 1e-12)
        trials.append((units * 2, bigger))
        if seconds > max_batch_s:
            return BatchSizing(units, tuple(trials), "batch time")
        if bigger < min_gain * rate:
            return BatchSizing(units, tuple(trials), "saturated")
        units, rate = units * 2, bigger


def timed_batches(
    run: Callable[[int], object],
    synchronize: Callable[[], None],
    *,
    repeats: int = REPEATS,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[int], float]:
    """Return a `seconds_per_batch` that times `run(n)` on the device.

    Args:
        run: does one batch of n units (it may only queue device work).
        synchronize: waits until the device has finished the queued work.
        repeats: timed batches per size; their median is the answer.
        clock: a monotonic clock in seconds.

    """

    def seconds_per_batch(units: int) -> float:
        run(units)
        synchronize()
        times = []
        for _ in range(repeats):
            t0 = clock()
            run(units)
            synchronize()
            times.append(clock() - t0)
        return statistics.median(times)

    return seconds_per_batch
