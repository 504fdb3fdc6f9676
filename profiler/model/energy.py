"""The one definition of interval energy: a device's energy between consecutive samples.

Samples carry `energy_j` cumulative since run start (0 at t = 0) and `power_w`. The
interval ending at a sample starts at the device's previous sample (the first at run
start, t = 0, where the counter reads 0). Its energy is, in order:

- the counter's increase, where both ends have a counter reading and it did not go down
  (a counter delta spans any gap: the counter measured it);
- else power x the held interval, where power is known: a power reading covers at most
  the hold (`HOLD_INTERVALS` x the run's stated interval, `run_hold_s`, else x the
  median step of the samples, `median_hold_s`), so after a gap the rest is uncovered,
  not the next reading stretched over it;
- else unknown (NaN).

A counter that went down was reset (cumulative counters never decrease): that interval's
counter delta is dropped (power x held interval stands in where power is known) and the
interval counts as a reset (`counter_resets`).

The store's minute rollup (`profiler.store.rollup`: its SQL form is tested against this
one, its writer form calls it), the raw read model (`profiler.model.series.device_series`,
what `store.samples.series` returns) and analysis (`profiler.analysis.phases`) use this module.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from profiler.model.hold import HOLD_INTERVALS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def run_hold_s(interval_s: float | None) -> float | None:
    """Return the hold of a run that states its sampling interval, else None.

    None means the interval is not stated: take `median_hold_s` of the device's samples.
    """
    return None if interval_s is None else HOLD_INTERVALS * interval_s


def median_hold_s(t: FloatArray) -> float:
    """Return `HOLD_INTERVALS` x the median step of sorted sample times `t`.

    Infinite with fewer than two samples (no interval to judge a gap by).
    """
    if t.size < 2:
        return float("inf")
    return HOLD_INTERVALS * float(np.median(np.diff(t)))


def intervals(t: FloatArray, prev_t: float = 0.0) -> FloatArray:
    """Return each sample's interval in seconds since the previous one (the first: `prev_t`)."""
    before = np.concatenate(([prev_t], t[:-1])) if t.size else t
    return np.maximum(t - before, 0.0)


def _counter_delta(energy_j: FloatArray, prev_e: float) -> FloatArray:
    before = np.concatenate(([prev_e], energy_j[:-1])) if energy_j.size else energy_j
    return energy_j - before


def interval_energy(
    t: FloatArray,
    energy_j: FloatArray,
    power_w: FloatArray,
    hold_s: float,
    *,
    prev: tuple[float, float] = (0.0, 0.0),
) -> tuple[FloatArray, FloatArray]:
    """Return each interval's energy (J, NaN where unknown) and the seconds it covers.

    Args:
        t: one device's sample times in seconds since run start, sorted.
        energy_j: its cumulative counter readings (NaN where absent).
        power_w: its power readings in watts (NaN where absent).
        hold_s: seconds a power reading covers at most (`run_hold_s`, `median_hold_s`;
            infinity clips nothing).
        prev: (t, energy_j) of the sample before `t[0]` (NaN energy where it had no
            counter reading); default run start, (0, 0).

    Returns:
        (delta_j, covered_s): the counter delta, else power x held interval, else NaN;
        and the seconds that energy covers (the interval for a counter delta or an
        unknown energy, the held interval for power).
    """
    dt = intervals(t, prev[0])
    held = np.minimum(dt, hold_s)
    delta = _counter_delta(energy_j, prev[1])
    delta = np.where(delta < 0, np.nan, delta)
    from_power = np.isnan(delta)
    energy = np.where(from_power, power_w * held, delta)
    covered = np.where(from_power & ~np.isnan(power_w), held, dt)
    return energy, covered


def counter_resets(energy_j: FloatArray, prev_e: float = 0.0) -> BoolArray:
    """Return, per interval, whether the counter went down across it (a reset).

    An interval with a counter reading missing at either end is not a reset.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(_counter_delta(energy_j, prev_e) < 0, dtype=np.bool_)
