"""Confidence tiers of a finding (docs/methodology.md#confidence).

| tier   | power source       | curve                            | usage history               |
| high   | measured at wall   | ladder on this host              | >= 14 days, >= 90% coverage |
| medium | RAPL, NVML, BMC    | (none: measured or model)        | >= 7 days and >= 30 h       |
| low    | model only         | model                            | less                        |

A finding's tier is the lowest tier of the dimensions it rests on. A defaulted PUE or
grid intensity, or GPU utilisation used where SM activity is missing, lowers it by one
(once, whichever of them apply; never below low).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from profiler.analysis.curve import PowerCurve
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.usage import UsageStats
from profiler.model.findings import Tier
from profiler.model.provenance import is_measured

TIERS: tuple[Tier, ...] = ("low", "medium", "high")

WALL_PROVENANCE_PREFIX = "measured:wall"


def power_tier(provenances: Iterable[str | None]) -> Tier:
    """Return the tier of the power figures used: wall meter, sensors (RAPL/NVML), model."""
    seen = list(provenances)
    if not seen or not all(is_measured(p) for p in seen):
        return "low"
    if all(p is not None and p.startswith(WALL_PROVENANCE_PREFIX) for p in seen):
        return "high"
    return "medium"


def curve_tier(curve: PowerCurve | None) -> Tier:
    """Return the tier of the host power curve: measured ladder on this host, else model."""
    if curve is None or curve.source == "model" or curve.estimated:
        return "low"
    return "high"


def history_tier(usage: UsageStats, thresholds: Thresholds) -> Tier:
    """Return the tier of the usage history (14 d and 90% coverage; 7 d and 30 h; less)."""
    if usage.span_s >= thresholds.high_history_s - 1e-6 and (
        usage.coverage >= thresholds.high_history_coverage
    ):
        return "high"
    if usage.eligible(Thresholds()):
        return "medium"
    return "low"


def lowest(tiers: Iterable[Tier]) -> Tier:
    """Return the lowest of the tiers (high when none)."""
    return min(tiers, key=TIERS.index, default="high")


def lowered(tier: Tier) -> Tier:
    """Return the tier one below (low stays low)."""
    return TIERS[max(0, TIERS.index(tier) - 1)]


@dataclass(frozen=True)
class Quality:
    """What a finding's figures rest on, to grade its confidence.

    Attributes:
        power: tier of the power source, None when the finding uses no power figure.
        curve: tier of the host power curve, None when the finding uses none.
        history: tier of the usage history, None for findings from a profiling run.
        site_defaulted: PUE or grid intensity defaulted (applies when savings exist).
        gpu_util_fallback: GPU utilisation stood in for missing SM activity.
        notes: assumption lines to attach (provenance, eligibility overrides).
    """

    power: Tier | None = None
    curve: Tier | None = None
    history: Tier | None = None
    site_defaulted: bool = False
    gpu_util_fallback: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def tier(self, *, with_savings: bool) -> Tier:
        """Return the finding's confidence tier."""
        base = lowest(t for t in (self.power, self.curve, self.history) if t is not None)
        if (with_savings and self.site_defaulted) or self.gpu_util_fallback:
            return lowered(base)
        return base
