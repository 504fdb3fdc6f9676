"""The yearly figure of a window or run, and how far it can be trusted (pure).

The figure is `profiler.model.annual`'s: every counted device (CPU packages, DRAM, GPUs;
not the `host` view, not the wall's `node`, which contains the parts) annualised from
its own covered seconds. Its confidence is the lowest of the power source's tier and
the covered time's (docs/methodology.md#confidence: >= 14 days with >= 90 % of the span
covered is high; >= 7 days span and >= 30 h covered is medium; less is low), one lower
when the site's PUE or grid intensity was defaulted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from profiler.analysis.confidence import Quality, power_tier
from profiler.analysis.reconcile import WALL_KINDS
from profiler.analysis.thresholds import Thresholds
from profiler.model.annual import Annual, annualised
from profiler.model.findings import Tier
from profiler.model.provenance import is_estimate
from profiler.model.savings import Site
from profiler.model.series import DeviceSeries

NOT_COUNTED = ("host", *WALL_KINDS)
"""Device kinds a yearly figure leaves out: the host view has no energy of its own, the
wall's `node` contains the parts."""


def covered_tier(covered_s: float, span_s: float, thresholds: Thresholds) -> Tier:
    """Return the tier of a yearly figure's data: how much time it covers, of what span."""
    share = covered_s / span_s if span_s > 0 else 0.0
    if covered_s >= thresholds.high_history_s - 1e-6 and share >= thresholds.high_history_coverage:
        return "high"
    if span_s >= thresholds.min_span_s - 1e-6 and covered_s >= thresholds.min_valid_hours * 3600:
        return "medium"
    return "low"


def device_totals(series: DeviceSeries) -> tuple[float, float] | None:
    """Return a device's (energy J, covered seconds), None without an energy figure."""
    known = ~np.isnan(series.energy_delta_j)
    if not known.any():
        return None
    return float(series.energy_delta_j[known].sum()), float(series.interval_s[known].sum())


def yearly(
    parts: Sequence[tuple[float, float]],
    provenances: Sequence[str | None],
    span_s: float,
    site: Site,
    thresholds: Thresholds,
) -> Annual | None:
    """Return the yearly figure of devices given as (energy J, covered s), with its tier."""
    figure = annualised(parts, span_s)
    if figure is None:
        return None
    quality = Quality(
        power=power_tier(provenances),
        history=covered_tier(figure.covered_s, figure.span_s, thresholds),
        site_defaulted=site.defaulted,
    )
    tier = quality.tier(with_savings=True)
    estimated = any(is_estimate(p) for p in provenances)
    return replace(figure, confidence=tier, estimated=estimated)


def series_yearly(
    series: Sequence[DeviceSeries], span_s: float, site: Site, thresholds: Thresholds
) -> Annual | None:
    """Return the yearly figure of one host's series over a window or run of `span_s`."""
    counted = [
        (s, totals)
        for s in series
        if s.spec.kind not in NOT_COUNTED and (totals := device_totals(s)) is not None
    ]
    return yearly(
        [totals for _, totals in counted],
        [s.spec.provenance for s, _ in counted],
        span_s,
        site,
        thresholds,
    )
