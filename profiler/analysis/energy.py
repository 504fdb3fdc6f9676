"""Energy of a device over a time window, from its samples' interval energy.

Each sample's interval energy is `profiler.model.energy.interval_energy` (the one
definition: counter delta, else power x held interval; a reset interval is dropped).
Summed from run start they give E, the device's cumulative energy at each sample where
its interval's energy is known, so the energy of [t0, t1] is E(t1) - E(t0), with E
linearly interpolated between the samples either side of each bound (power is constant
between two samples at the resolution we have). Energy over a window therefore equals
the sum over any split of it, exactly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from profiler.model.energy import counter_resets, interval_energy, median_hold_s
from profiler.model.samples import SampleRow


def energy_at(series: Sequence[tuple[float, float]], t: float) -> float | None:
    """Return cumulative energy (J) at time `t` from sorted (t, energy_j) points.

    Before the first point the counter is extrapolated from 0 at t = 0 (run start);
    None when `t` is after the last point (not yet known).
    """
    if not series or t > series[-1][0]:
        return None
    i = bisect_left([p[0] for p in series], t)
    if i < len(series) and series[i][0] == t:
        return series[i][1]
    t0, e0 = (0.0, 0.0) if i == 0 else series[i - 1]
    t1, e1 = series[i]
    if t1 == t0:
        return e1
    return e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def energy_curve(
    samples: Sequence[SampleRow], hold_s: float | None = None
) -> list[tuple[float, float]]:
    """Return the sorted (t, cumulative energy J) points of one device's samples.

    E at each sample whose interval energy (`interval_energy`) is known, summed from run
    start; a sample whose interval's energy is unknown (a reset with no power, no reading)
    is no point, so E is interpolated across it. `hold_s`: seconds a power reading covers
    at most (default `median_hold_s` of the samples' times).
    """
    rows = sorted(samples, key=lambda s: s.t)
    t = np.array([s.t for s in rows], dtype=np.float64)
    energy = np.array([np.nan if s.energy_j is None else s.energy_j for s in rows])
    power = np.array([np.nan if s.power_w is None else s.power_w for s in rows])
    hold = median_hold_s(t) if hold_s is None else hold_s
    delta, _ = interval_energy(t, energy.astype(np.float64), power.astype(np.float64), hold)
    known = ~np.isnan(delta)
    return list(zip(t[known].tolist(), np.cumsum(delta[known]).tolist(), strict=True))


def resets_within(samples: Sequence[SampleRow], t_start: float, t_end: float) -> int:
    """Return how many intervals ending in (t_start, t_end] reset the counter (`counter_resets`)."""
    rows = sorted(samples, key=lambda s: s.t)
    t = np.array([s.t for s in rows], dtype=np.float64)
    energy = np.array([np.nan if s.energy_j is None else s.energy_j for s in rows])
    inside = (t > t_start) & (t <= t_end + 1e-9)
    return int((counter_resets(energy.astype(np.float64)) & inside).sum())


def window_energy_j(
    series: Sequence[tuple[float, float]], t_start: float, t_end: float
) -> float | None:
    """Return the energy (J) over [t_start, t_end], or None if the window is not covered."""
    start = energy_at(series, t_start)
    end = energy_at(series, t_end)
    if start is None or end is None:
        return None
    return end - start


def coverage(
    samples: Sequence[SampleRow], t_start: float, t_end: float, interval_s: float
) -> float:
    """Return the fraction of expected samples (one per interval) with energy, power or util.

    Methodology section 3: an interval is valid with at least 95% of expected samples.
    """
    expected = (t_end - t_start) / interval_s
    if expected <= 0:
        return 0.0
    present = sum(
        1
        for s in samples
        if t_start < s.t <= t_end
        and (s.energy_j is not None or s.power_w is not None or s.util is not None)
    )
    return min(1.0, present / max(1.0, round(expected)))
