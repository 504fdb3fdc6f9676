"""INSUFFICIENT_DATA: a window too short for idle and right-sizing findings; pure.

Below the eligibility limits (`min_span_s`, `min_valid_hours`) a device gets this one
finding, with indicative observations that are not recommendations: the share of its
1-minute means below the idle bound, and the energy drawn in those minutes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from profiler.analysis.thresholds import Thresholds
from profiler.analysis.usage import UsageStats
from profiler.model.findings import Finding
from profiler.model.series import DeviceSeries, FloatArray
from profiler.model.units import DAY_S

IntArray = npt.NDArray[np.int64]


def _minute_bins(series: DeviceSeries, origin: float, minute_s: float) -> IntArray:
    return np.floor((series.t - origin) / minute_s).astype(np.int64)


def indicative(
    subject: DeviceSeries,
    power_devices: Sequence[DeviceSeries],
    origin: float,
    idle_util: float,
    thresholds: Thresholds,
) -> tuple[float | None, float | None]:
    """Return (share of 1-min means below `idle_util`, energy in J of those minutes)."""
    valid = ~np.isnan(subject.util)
    if not valid.any():
        return None, None
    bins = _minute_bins(subject, origin, thresholds.minute_s)[valid]
    weights = subject.util_n[valid]
    sums = np.bincount(bins, weights=subject.util[valid] * weights)
    counts = np.bincount(bins, weights=weights)
    present = counts > 0
    means: FloatArray = np.where(present, sums / np.maximum(counts, 1), np.nan)
    idle = present & (means < idle_util)
    share = float(idle.sum() / present.sum())
    energies = []
    for device in power_devices:
        has = ~np.isnan(device.energy_delta_j)
        if not has.any():
            continue
        dbins = _minute_bins(device, origin, thresholds.minute_s)[has]
        per_minute = np.bincount(dbins, weights=device.energy_delta_j[has])
        n = min(per_minute.size, idle.size)
        energies.append(float(per_minute[:n][idle[:n]].sum()))
    return share, (sum(energies) if energies else None)


def insufficient(
    usage: UsageStats,
    share: float | None,
    idle_energy_j: float | None,
    notes: tuple[str, ...],
    thresholds: Thresholds,
) -> Finding:
    """Return INSUFFICIENT_DATA for `usage`, with the indicative observations (if any)."""
    observed = (
        f" Indicative only, not a recommendation: idle in {share:.0%} of minutes"
        + (f", {idle_energy_j:,.1f} J drawn while idle." if idle_energy_j is not None else ".")
        if share is not None
        else ""
    )
    return Finding(
        rule="INSUFFICIENT_DATA",
        device=usage.device_id,
        severity="info",
        message=(
            f"{usage.device_id}: {usage.span_s / DAY_S:.2f} days and "
            f"{usage.valid_hours:.1f} h of data, below the {thresholds.min_span_s / DAY_S:g} "
            f"days and {thresholds.min_valid_hours:g} h needed for idle and right-sizing "
            f"findings; keep monitoring.{observed}"
        ),
        evidence={
            "span_s": usage.span_s,
            "valid_hours": usage.valid_hours,
            "required_span_s": thresholds.min_span_s,
            "required_hours": thresholds.min_valid_hours,
            "indicative": {"idle_share": share, "idle_energy_j": idle_energy_j},
        },
        confidence="low",
        assumptions=(
            *notes,
            "eligibility: >= 7 days span and >= 30 h of valid data (AWS Compute Optimizer, "
            "Azure Advisor)",
            "indicative observations are not recommendations",
        ),
    )
