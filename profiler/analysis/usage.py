"""Usage statistics of one device: windows, percentiles, span and valid hours (vectorised).

docs/methodology.md#usage-statistics:

- 5-minute mean windows for right-sizing statistics;
- for the idle test, 30-minute windows holding the max of 1-minute means;
- nearest-rank percentiles on the window series, rank = ceil(q * n);
- eligibility: a span of at least 7 days and at least 30 hours of valid data (AWS Compute
  Optimizer, Azure Advisor), both settings.

Windows are anchored at a shared `origin` (the first sample of the analysed window), so
shifting every timestamp by the same amount changes no window and no finding. A window
holds the samples with origin + k * width <= t < origin + (k + 1) * width; a window with
no valid sample is absent from the series (not zero).

Span is last - first sample time plus one typical interval (each sample stands for the
interval ending at it). Valid time is the sum, over samples with a valid utilisation, of
the interval since the previous valid sample, each capped at twice the median interval,
so an outage between two runs does not count as data.

A rolled-up series (one entry per minute, see `series`) gives the same window means:
each minute's mean is weighted by its sample count, so a window's mean is the mean of its
samples, and windows anchored at the first minute hold whole minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiler.analysis.stats import nearest_rank
from profiler.analysis.thresholds import Thresholds
from profiler.model.series import DeviceSeries, FloatArray
from profiler.model.units import DAY_S


def window_means(
    t: FloatArray,
    values: FloatArray,
    origin: float,
    width_s: float,
    weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Return (window start offsets from origin, mean of each window with data).

    `weights` (samples behind each value, default 1 each) make the mean of entries that
    are themselves means the mean of the samples behind them.
    """
    valid = ~np.isnan(values)
    if not valid.any():
        return np.empty(0), np.empty(0)
    index = np.floor((t[valid] - origin) / width_s).astype(np.int64)
    if weights is None:
        sums = np.bincount(index, weights=values[valid])
        counts = np.bincount(index)
    else:
        w = weights[valid]
        sums = np.bincount(index, weights=values[valid] * w)
        counts = np.bincount(index, weights=w)
    present = counts > 0
    starts = np.flatnonzero(present).astype(np.float64) * width_s
    return starts, sums[present] / counts[present]


def window_max_of_means(
    t: FloatArray,
    values: FloatArray,
    origin: float,
    inner_s: float,
    outer_s: float,
    weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Return (window start offsets, max of the `inner_s` means in each `outer_s` window)."""
    inner_starts, inner_means = window_means(t, values, origin, inner_s, weights)
    if inner_means.size == 0:
        return inner_starts, inner_means
    outer = np.floor(inner_starts / outer_s + 1e-9).astype(np.int64)
    maxima = np.full(int(outer.max()) + 1, -np.inf)
    np.maximum.at(maxima, outer, inner_means)
    present = np.isfinite(maxima)
    return np.flatnonzero(present).astype(np.float64) * outer_s, maxima[present]


def typical_interval_s(t: FloatArray) -> float:
    """Return the median interval between samples in seconds (0 with fewer than two)."""
    if t.size < 2:
        return 0.0
    return float(np.median(np.diff(t)))


def valid_seconds(t: FloatArray, values: FloatArray) -> float:
    """Return the seconds of data the non-NaN `values` stand for (see the module notes)."""
    step = typical_interval_s(t)
    times = t[~np.isnan(values)]
    if times.size == 0:
        return 0.0
    gaps = np.minimum(np.diff(times), 2 * step)
    return float(gaps.sum() + step)


@dataclass(frozen=True)
class UsageStats:
    """Utilisation and memory statistics of one device over the analysed window.

    Attributes:
        device_id: the device.
        samples: number of samples.
        span_s: first to last sample plus one typical interval, in seconds.
        valid_s: seconds covered by samples with a utilisation (see module notes).
        util_mean: mean utilisation of the samples (0..1), None without any.
        util_max: highest sampled utilisation.
        sizing_starts: start offset (s from origin) of each 5-min window with data.
        sizing_util: mean utilisation of each such 5-min window.
        idle_starts: start offset of each 30-min idle-test window.
        idle_util: max of the 1-min means in each 30-min window.
        half_hour_starts: start offset of each 30-min mean window.
        half_hour_util: mean utilisation of each 30-min window.
        sm_mean: mean SM activity (GPUs), None where not available.
        mem_max_bytes: highest memory used, None where not available.
        daily_mem_peaks_bytes: the peak memory used of each day with data.
    """

    device_id: str
    samples: int
    span_s: float
    valid_s: float
    util_mean: float | None
    util_max: float | None
    sizing_starts: FloatArray
    sizing_util: FloatArray
    idle_starts: FloatArray
    idle_util: FloatArray
    half_hour_starts: FloatArray
    half_hour_util: FloatArray
    sm_mean: float | None
    mem_max_bytes: float | None
    daily_mem_peaks_bytes: FloatArray

    @property
    def valid_hours(self) -> float:
        """Hours of valid utilisation data."""
        return self.valid_s / 3600.0

    @property
    def coverage(self) -> float:
        """Valid time over span (0..1)."""
        return min(1.0, self.valid_s / self.span_s) if self.span_s > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile of the 5-min mean utilisation series."""
        return nearest_rank(self.sizing_util, q)

    def eligible(self, thresholds: Thresholds) -> bool:
        """True when span and valid hours meet docs/methodology.md#eligibility."""
        # A microsecond of slack: 7 days of 1-min samples spans exactly 7 days.
        return (
            self.span_s >= thresholds.min_span_s - 1e-6
            and self.valid_hours >= thresholds.min_valid_hours - 1e-9
        )

    def recent_half_hour_max(self, recent_s: float, width_s: float) -> float | None:
        """Max 30-min mean among windows starting within `recent_s` of the last window's end."""
        if self.half_hour_util.size == 0:
            return None
        end = float(self.half_hour_starts[-1]) + width_s
        recent = self.half_hour_starts >= end - recent_s - 1e-9
        return float(self.half_hour_util[recent].max())


def _nanmean(values: FloatArray, weights: FloatArray) -> float | None:
    valid = ~np.isnan(values)
    total = float(weights[valid].sum())
    return float((values[valid] * weights[valid]).sum()) / total if total > 0 else None


def _nanmax(values: FloatArray) -> float | None:
    finite = values[~np.isnan(values)]
    return float(finite.max()) if finite.size else None


def usage_stats(series: DeviceSeries, origin: float, thresholds: Thresholds) -> UsageStats:
    """Compute the usage statistics of one device, windows anchored at `origin`."""
    t = series.t
    step = typical_interval_s(t)
    span_s = float(t[-1] - t[0]) + step if t.size else 0.0
    weights = series.util_n
    sizing_starts, sizing_util = window_means(
        t, series.util, origin, thresholds.sizing_window_s, weights
    )
    idle_starts, idle_util = window_max_of_means(
        t, series.util, origin, thresholds.minute_s, thresholds.idle_window_s, weights
    )
    half_starts, half_util = window_means(t, series.util, origin, thresholds.idle_window_s, weights)
    mem = series.mem_used_bytes
    has_mem = ~np.isnan(mem)
    if has_mem.any():
        day = np.floor((t[has_mem] - origin) / DAY_S).astype(np.int64)
        peaks = np.full(int(day.max()) + 1, -np.inf)
        np.maximum.at(peaks, day, mem[has_mem])
        daily_peaks = peaks[np.isfinite(peaks)]
    else:
        daily_peaks = np.empty(0)
    return UsageStats(
        device_id=series.spec.device_id,
        samples=int(series.n_samples.sum()),
        span_s=span_s,
        valid_s=valid_seconds(t, series.util),
        util_mean=_nanmean(series.util, series.util_n),
        util_max=_nanmax(series.util_peak),
        sizing_starts=sizing_starts,
        sizing_util=sizing_util,
        idle_starts=idle_starts,
        idle_util=idle_util,
        half_hour_starts=half_starts,
        half_hour_util=half_util,
        sm_mean=_nanmean(series.sm_active, series.sm_n),
        mem_max_bytes=_nanmax(mem),
        daily_mem_peaks_bytes=daily_peaks,
    )
