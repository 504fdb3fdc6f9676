"""Energy of a device over a time window, from its series' interval energy.

Each entry's interval energy is `profiler.model.energy.interval_energy` (the one
definition: counter delta, else power x held interval; a reset interval is dropped),
carried by `DeviceSeries.energy_delta_j`. Summed from run start they give E, the
device's cumulative energy at each entry whose interval's energy is known (an
`EnergyCurve`), so the energy of [t0, t1] is E(t1) - E(t0), with E linearly
interpolated between the entries either side of each bound (power is constant between
two samples at the resolution we have). Energy over a window therefore equals the sum
over any split of it, exactly. Windows are found by `np.searchsorted`, not by a scan.
"""

from __future__ import annotations

import numpy as np

from profiler.model.series import DeviceSeries, FloatArray

EnergyCurve = tuple[FloatArray, FloatArray]
"""(t, cumulative energy J) of the entries whose interval energy is known, sorted by t."""


def energy_curve(series: DeviceSeries) -> EnergyCurve:
    """Return a series' cumulative energy curve (its known interval energies summed).

    An entry whose interval's energy is unknown (a reset with no power, no reading) is
    no point, so E is interpolated across it.
    """
    known = ~np.isnan(series.energy_delta_j)
    return series.t[known], np.cumsum(series.energy_delta_j[known])


def window(curve: EnergyCurve, t_start: float, t_end: float) -> EnergyCurve:
    """Return the points of `curve` with t_start <= t <= t_end."""
    t, e = curve
    lo = int(np.searchsorted(t, t_start, side="left"))
    hi = int(np.searchsorted(t, t_end, side="right"))
    return t[lo:hi], e[lo:hi]


def energy_at(curve: EnergyCurve, t: float) -> float | None:
    """Return cumulative energy (J) at time `t` from a curve.

    Before the first point the counter is extrapolated from 0 at t = 0 (run start);
    None when `t` is after the last point (not yet known).
    """
    times, cumulative = curve
    if not times.size or t > times[-1]:
        return None
    i = int(np.searchsorted(times, t, side="left"))
    if times[i] == t:
        return float(cumulative[i])
    t0, e0 = (0.0, 0.0) if i == 0 else (float(times[i - 1]), float(cumulative[i - 1]))
    t1, e1 = float(times[i]), float(cumulative[i])
    if t1 == t0:
        return e1
    return e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def window_energy_j(
    curve: EnergyCurve, t_start: float, t_end: float, *, hold_s: float | None = None
) -> float | None:
    """Return the energy (J) over [t_start, t_end], or None if the window is not covered.

    `hold_s`: where the curve stops at most this long before `t_end` (a recorder that
    stopped one tick before a phase's end), the last interval's power is held to
    `t_end`, as a power reading stands for at most a hold
    (docs/methodology.md#ladder-and-validity); default: not held, None.
    """
    start = energy_at(curve, t_start)
    end = energy_at(curve, t_end)
    times = curve[0]
    if end is None and hold_s is not None and times.size and t_end - times[-1] <= hold_s:
        end = _held_to(curve, t_end)
    if start is None or end is None:
        return None
    return end - start


def _held_to(curve: EnergyCurve, t: float) -> float:
    """Cumulative energy at `t` after the curve's last point, at its last interval's power."""
    times, cumulative = curve
    t1, e1 = float(times[-1]), float(cumulative[-1])
    t0, e0 = (float(times[-2]), float(cumulative[-2])) if times.size > 1 else (0.0, 0.0)
    power_w = (e1 - e0) / (t1 - t0) if t1 > t0 else 0.0
    return e1 + power_w * (t - t1)


def _within(series: DeviceSeries, t_start: float, t_end: float) -> slice:
    """The entries with t_start < t <= t_end."""
    lo = int(np.searchsorted(series.t, t_start, side="right"))
    hi = int(np.searchsorted(series.t, t_end, side="right"))
    return slice(lo, hi)


def resets_within(series: DeviceSeries, t_start: float, t_end: float) -> int:
    """Return how many counter resets (`DeviceSeries.resets_n`) fall in (t_start, t_end]."""
    return int(series.resets_n[_within(series, t_start, t_end + 1e-9)].sum())


LATE_TICK_INTERVALS = 1.5
"""A reading less than 1.5 intervals after the one before it is a late tick, not a missing one."""


def coverage(series: DeviceSeries, t_start: float, t_end: float, interval_s: float) -> float:
    """Return the share of expected samples present in [t_start, t_end], counted as time.

    docs/methodology.md#ladder-and-validity: an interval is valid with at least 95% of
    expected samples present. Each reading with energy, power or util (or a counter
    reset: it read a counter) covers the time back to the reading before it when that
    is less than `LATE_TICK_INTERVALS` intervals earlier (a tick the sampler ran late),
    else one interval; the first reading after `t_end` covers the phase's tail. So a
    missing reading costs one interval, a late one nothing, and a phase whose length is
    not a whole number of intervals is not short of a sample it could never hold (a
    4.2 s phase at 0.25 s holds 16 or 17 ticks).
    """
    span = t_end - t_start
    if span <= 0 or interval_s <= 0:
        return 0.0
    part = _within(series, t_start - 2 * interval_s, t_end + 2 * interval_s)
    present = (
        ~np.isnan(series.util[part])
        | ~np.isnan(series.power_w[part])
        | ~np.isnan(series.energy_delta_j[part])
        | (series.resets_n[part] > 0)
    )
    t = series.t[part][present]
    if t.size == 0:
        return 0.0
    before = np.concatenate(([-np.inf], t[:-1]))
    late = t - before <= LATE_TICK_INTERVALS * interval_s
    start = np.where(late, before, t - interval_s)
    covered = np.clip(t, t_start, t_end) - np.clip(start, t_start, t_end)
    return min(1.0, float(covered.sum()) / span)
