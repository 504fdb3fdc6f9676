"""Energy of a device over a time window, from its cumulative-energy samples.

Samples carry `energy_j` cumulative since run start, so the energy of [t0, t1] is
E(t1) - E(t0), with E linearly interpolated between the samples either side of each
bound (power is constant between two samples at the resolution we have). Energy over a
window therefore equals the sum over any split of it, exactly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import pairwise
from math import inf

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


def energy_series(
    samples: Sequence[SampleRow], hold_s: float | None = None
) -> list[tuple[float, float]]:
    """Return the sorted (t, cumulative energy J) points of one device's samples.

    From the energy counter where the samples carry one; a counter that went down was
    reset, and the interval it fell in adds nothing (its energy is unknown; see
    `counter_resets`). Samples with power but no counter (power-only data, e.g. an
    imported document) are integrated instead: each reading covers at most `hold_s`
    seconds before it (default 2 x the median interval, `series.HOLD_INTERVALS`), so a
    gap is missing coverage, not the next reading stretched over it.
    """
    counted = sorted((s.t, s.energy_j) for s in samples if s.energy_j is not None)
    if counted:
        points: list[tuple[float, float]] = []
        offset = 0.0
        for i, (t, e) in enumerate(counted):
            if i and e < counted[i - 1][1]:
                offset += counted[i - 1][1] - e  # reset: the interval adds nothing
            points.append((t, e + offset))
        return points
    powered = sorted((s.t, s.power_w) for s in samples if s.power_w is not None)
    if not powered:
        return []
    times = [t for t, _ in powered]
    steps = sorted(b - a for a, b in pairwise(times))
    hold = hold_s if hold_s is not None else (2 * steps[len(steps) // 2] if steps else inf)
    total, prev_t, out = 0.0, 0.0, []
    for t, power_w in powered:
        total += power_w * min(t - prev_t, hold)
        out.append((t, total))
        prev_t = t
    return out


def counter_resets(samples: Sequence[SampleRow], t_start: float, t_end: float) -> int:
    """Return how many times the device's energy counter went down within [t_start, t_end]."""
    counted = sorted((s.t, s.energy_j) for s in samples if s.energy_j is not None)
    return sum(
        1 for (_, e0), (t1, e1) in pairwise(counted) if e1 < e0 and t_start < t1 <= t_end + 1e-9
    )


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

    docs/methodology.md#ladder-and-validity: valid with at least 95% of expected samples.
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
