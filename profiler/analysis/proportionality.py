"""SPECpower-style load-ladder metrics: overall efficiency, IPR, EP and the power curve.

docs/methodology.md#ladder-metrics, after SPECpower_ssj2008 and Ryckbosch
et al. 2011 ("Trends in server energy proportionality"):

- `overall_units_per_j` = sum of X_k over the load levels / (sum of P_k + P_idle).
- IPR = P_idle / P_100; dynamic range DR = 1 - IPR.
- A = trapezoid integral of p = P/P_100 over u = X/X_100 from 0 to 1, idle at u = 0;
  EP = 1 - (A - 0.5) / 0.5. EP = 1 is perfectly proportional, 0 is constant power.
- rel_eff(u) = u / p(u), with P(u) piecewise-linear between measured levels.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class LadderLevel:
    """One measured load level: throughput X in units/s and mean power P in W."""

    throughput: float
    power_w: float


@dataclass(frozen=True)
class Proportionality:
    """Ladder metrics for one workload on one device.

    Attributes:
        peak_units_per_s: X_100, the throughput of the highest level.
        overall_units_per_j: the SPECpower overall figure.
        ipr: idle-to-peak power ratio.
        dynamic_range: 1 - IPR.
        area: A, the area under the normalised power curve.
        ep: energy proportionality.
        curve: (u, P in W) points from idle to peak, sorted by u.
    """

    peak_units_per_s: float
    overall_units_per_j: float
    ipr: float
    dynamic_range: float
    area: float
    ep: float
    curve: tuple[tuple[float, float], ...]

    def power_at(self, util: float) -> float:
        """Return P(u) in watts by piecewise-linear interpolation of the curve."""
        return interpolate(self.curve, util)

    def rel_eff(self, util: float) -> float | None:
        """Return u / p(u), the efficiency at `util` relative to peak (None at u = 0)."""
        if util <= 0:
            return None
        peak_w = self.curve[-1][1]
        return util / (self.power_at(util) / peak_w)


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear interpolation over sorted (x, y) points, clamped at the ends."""
    xs = [p[0] for p in points]
    if x <= xs[0]:
        return points[0][1]
    if x >= xs[-1]:
        return points[-1][1]
    i = bisect_left(xs, x)
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def proportionality(
    levels: Sequence[LadderLevel], idle_power_w: float, reference: LadderLevel | None = None
) -> Proportionality:
    """Compute the ladder metrics from the load levels (idle excluded) and idle power.

    Args:
        levels: the valid load levels, any order.
        idle_power_w: mean power at active idle, in watts.
        reference: the 100% level (X_100, P_100); default the level with the highest
            throughput.

    Raises:
        ValueError: no levels, or a non-positive peak throughput or power.
    """
    if not levels:
        raise ValueError("proportionality needs at least one load level")
    peak = reference or max(levels, key=lambda level: level.throughput)
    if peak.throughput <= 0 or peak.power_w <= 0:
        raise ValueError("the peak level must have positive throughput and power")
    overall = sum(level.throughput for level in levels) / (
        sum(level.power_w for level in levels) + idle_power_w
    )
    curve = sorted(
        [(0.0, idle_power_w)]
        + [(level.throughput / peak.throughput, level.power_w) for level in levels]
    )
    area = sum((u1 - u0) * (p0 + p1) / 2 / peak.power_w for (u0, p0), (u1, p1) in pairwise(curve))
    ipr = idle_power_w / peak.power_w
    return Proportionality(
        peak_units_per_s=peak.throughput,
        overall_units_per_j=overall,
        ipr=ipr,
        dynamic_range=1.0 - ipr,
        area=area,
        ep=1.0 - (area - 0.5) / 0.5,
        curve=tuple(curve),
    )
