"""The host power curve P(u) used for savings: from a measured ladder, else a power model.

docs/methodology.md#ladder-metrics: P(u) by piecewise-linear interpolation of the ladder's
levels is the host power model used for savings. Without a ladder, CPU packages modelled by
`estimated:specpower-curve` give their group's curve (`model_curve_w`, with the band
`model_curve_low_w` / `model_curve_high_w`: the median -/+ the group's largest
leave-one-out error, docs/estimates.md); otherwise the linear model of
docs/methodology.md#power-models, P(u) = P_idle + (P_max - P_idle) * u, with P_idle / P_max
= 0.2 and the range 0.14-0.23 (cloud SPECpower medians 2012-2021) for the low and high
estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from profiler.analysis.proportionality import Proportionality, interpolate
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo

CurveSource = Literal["ladder", "model"]


@dataclass(frozen=True)
class PowerCurve:
    """P(u) in watts for u in 0..1, with how it was obtained.

    Attributes:
        points: sorted (u, watts) points, idle at u = 0.
        source: "ladder" (measured on this host) or "model".
        label: one line naming where the points come from.
        estimated: True when the ladder's power figures were themselves estimated.
    """

    points: tuple[tuple[float, float], ...]
    source: CurveSource
    label: str
    estimated: bool = False

    def power_at(self, util: float) -> float:
        """Return P(u) in watts, clamped to the curve's ends."""
        return interpolate(self.points, util)

    @property
    def idle_w(self) -> float:
        """Power at u = 0 in watts."""
        return self.points[0][1]


def ladder_curve(metrics: Proportionality, label: str, *, estimated: bool) -> PowerCurve:
    """Return the curve of a measured load ladder."""
    return PowerCurve(metrics.curve, "ladder", label, estimated=estimated)


SERVER_SHARE_NOTE = (
    "savings cover the CPU packages' share of the server's wall power (SPECpower curve)"
)
CPU_ONLY_NOTE = "savings cover the CPU packages' power only, not the whole server"


def coverage_note(curve: PowerCurve) -> str:
    """Return what a model curve's savings cover: packages' server share, or CPU only."""
    return SERVER_SHARE_NOTE if curve.label.startswith("SPECpower curve of ") else CPU_ONLY_NOTE


_CURVE_KEYS = ("model_curve_w", "model_curve_low_w", "model_curve_high_w")


def _points(value: object) -> tuple[tuple[float, float], ...] | None:
    """Return a recorded [[load, watts], ...] curve as sorted points, None if malformed."""
    if not isinstance(value, list) or len(value) < 2:
        return None
    try:
        return tuple(sorted((float(load), float(watts)) for load, watts in value))
    except (TypeError, ValueError):
        return None


def _recorded_curves(
    cpus: Sequence[DeviceInfo],
) -> tuple[PowerCurve, PowerCurve, PowerCurve] | None:
    """Return the packages' summed recorded curves (point, low, high), None unless all have them."""
    summed: list[tuple[tuple[float, float], ...]] = []
    for key in _CURVE_KEYS:
        per_pkg = [_points(s.details.get(key)) for s in cpus]
        if any(p is None for p in per_pkg):
            return None
        loads = sorted({load for p in per_pkg if p is not None for load, _ in p})
        summed.append(
            tuple((u, sum(interpolate(p, u) for p in per_pkg if p is not None)) for u in loads)
        )
    group = cpus[0].details.get("specpower_group", "SPECpower group")
    label = f"SPECpower curve of {group} over {len(cpus)} CPU package(s)"
    point, low, high = summed
    return (
        PowerCurve(point, "model", label, estimated=True),
        PowerCurve(
            low, "model", label + " (low: less its largest leave-one-out error)", estimated=True
        ),
        PowerCurve(
            high, "model", label + " (high: plus its largest leave-one-out error)", estimated=True
        ),
    )


def model_curves(
    specs: Sequence[DeviceInfo], thresholds: Thresholds
) -> tuple[PowerCurve, PowerCurve, PowerCurve] | None:
    """Return the (point, low, high) model curves of the CPU packages, or None.

    Packages that all record SPECpower curves give those, summed. Otherwise P_max is the
    sum of the packages' power limits (TDP); P_idle the model's own idle power where the
    device records one (`model_idle_w`), else 0.2 x P_max. Low and high use the idle
    ratios 0.14 and 0.23.
    """
    cpus = [s for s in specs if s.kind == "cpu" and s.power_limit_w]
    if not cpus:
        return None
    if (curves := _recorded_curves(cpus)) is not None:
        return curves
    max_w = sum(float(s.power_limit_w or 0.0) for s in cpus)
    recorded = [s.details.get("model_idle_w") for s in cpus]
    if all(isinstance(w, int | float) for w in recorded):
        idle_w = float(sum(float(w) for w in recorded if w is not None))
    else:
        idle_w = thresholds.model_idle_ratio * max_w
    label = f"linear model {idle_w:.1f}-{max_w:.1f} W over {len(cpus)} CPU package(s)"

    def line(idle: float, name: str) -> PowerCurve:
        return PowerCurve(((0.0, idle), (1.0, max_w)), "model", name, estimated=True)

    return (
        line(idle_w, label),
        line(thresholds.model_idle_ratio_low * max_w, label + " (idle ratio 0.14)"),
        line(thresholds.model_idle_ratio_high * max_w, label + " (idle ratio 0.23)"),
    )
