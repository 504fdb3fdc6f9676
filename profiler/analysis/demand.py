"""One device's demand by local weekday x hour: when is the capacity used; pure.

Times are placed in the site's zone from the `ZoneInfo` passed in (or from local seconds
the caller computed): local seconds = t + the zone's UTC offset at t, so every figure is
in wall-clock time across daylight-saving changes. An hour of the week is `weekday x 24 +
hour`, Monday 00:00 = 0. A week is a local Monday-to-Sunday week.

- **Grid** (168 cells): mean utilisation and power of each cell, and its share of the
  observed time (each sample observes the interval before it, capped at twice the median
  interval, as `usage.py` counts valid time).
- **Hours**: each observed local hour's peak is the highest 5-min mean in it (windows
  anchored on local time). An hour is busy when its peak reaches `demand_busy_util`
  (the IDLE_HOST P95 bound), so an hour that is not busy passes the idle test.
- **Recurring windows**: cells busy in at least `demand_recurring_share` of the weeks that
  observed them (and observed in at least `demand_min_weeks`), joined into contiguous
  spans of the week (Sunday 23:00 runs on into Monday 00:00). A week is regular when its
  busy hours all fall in those windows and each window it observed was busy in it.
- **Load-duration curve**: the share of observed time at or above each load level.

Where the local clock is repeated (autumn), both passes fall into the same local hour;
where it is skipped (spring), that week has no such hour (it is unobserved, not idle).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from profiler.analysis.thresholds import Thresholds, at_least, at_most
from profiler.analysis.week import (
    HOURS_PER_WEEK,
    WEEK_S,
    BoolArray,
    IntArray,
    Window,
    hour_of_week,
    local_seconds,
    week_index,
    windows_of,
)
from profiler.model.series import DeviceSeries, FloatArray


@dataclass(frozen=True)
class DemandProfile:
    """When one device is used, by local weekday x hour (see the module docstring).

    Attributes:
        device_id: the device.
        util_mean: mean utilisation of each of the 168 cells (NaN: never observed).
        power_mean_w: mean power of each cell in watts (NaN: no power figure).
        observed_share: each cell's share of the observed time (sums to 1).
        hour_peak: weeks x 168 peak 5-min utilisation of each observed hour (NaN: not
            observed).
        weeks: the local week number of each row of `hour_peak`.
        busy: weeks x 168, True where the hour was observed and busy.
        load_levels: the load levels of the load-duration curve (0..1 by 0.01).
        load_share: share of observed time at or above each level.
        busy_hours_per_week: busy hours per observed week (observed hours / 168).
        peak_to_mean_util: highest 5-min mean utilisation / mean utilisation.
        peak_to_mean_power: highest 5-min mean power / mean power (None: no power).
        weeks_observed: observed seconds / one week.
        recurring: the recurring busy windows.
        regular_weeks: weeks that show exactly those windows (each observed one busy,
            no busy hour outside them).
        n_weeks: weeks with at least one observed hour.
        observed_weeks_per_cell: weeks that observed each cell.
        busy_weeks_per_cell: weeks in which each cell was busy.
        busy_level: the utilisation at which an hour counts as busy.
    """

    device_id: str
    util_mean: FloatArray
    power_mean_w: FloatArray
    observed_share: FloatArray
    hour_peak: FloatArray
    weeks: IntArray
    busy: BoolArray
    load_levels: FloatArray
    load_share: FloatArray
    busy_hours_per_week: float
    peak_to_mean_util: float | None
    peak_to_mean_power: float | None
    weeks_observed: float
    recurring: tuple[Window, ...]
    regular_weeks: int
    n_weeks: int
    observed_weeks_per_cell: IntArray
    busy_weeks_per_cell: IntArray
    busy_level: float

    @property
    def regularity(self) -> float:
        """Return the share of observed weeks that show the recurring windows (0 when none)."""
        return self.regular_weeks / self.n_weeks if self.n_weeks and self.recurring else 0.0

    @property
    def ever_busy(self) -> BoolArray:
        """Return the cells busy in at least one observed week."""
        result: BoolArray = self.busy_weeks_per_cell > 0
        return result

    def share_at_or_above(self, level: float) -> float:
        """Return the share of observed time at or above utilisation `level` (0..1)."""
        index = int(np.searchsorted(self.load_levels, level - 1e-12))
        return float(self.load_share[index]) if index < self.load_share.size else 0.0

    def grid_dict(self) -> dict[str, object]:
        """Return the 7 x 24 grids (Monday first) and the summary figures, JSON-ready."""

        def grid(values: FloatArray) -> list[list[float | None]]:
            rows = values.reshape(7, 24)
            return [[None if np.isnan(v) else float(v) for v in row] for row in rows]

        return {
            "util_mean": grid(self.util_mean),
            "power_mean_w": grid(self.power_mean_w),
            "observed_share": grid(self.observed_share),
            "busy_hours_per_week": self.busy_hours_per_week,
            "peak_to_mean_util": self.peak_to_mean_util,
            "peak_to_mean_power": self.peak_to_mean_power,
            "weeks_observed": self.weeks_observed,
            "recurring_windows": [w.as_dict() for w in self.recurring],
            "regular_weeks": self.regular_weeks,
            "observed_weeks": self.n_weeks,
        }


def observed_seconds(series: DeviceSeries) -> FloatArray:
    """Return the seconds each sample observes: its interval, capped at 2 x the median."""
    steps = series.interval_s
    finite = steps[np.isfinite(steps) & (steps > 0)]
    cap = 2.0 * float(np.median(finite)) if finite.size else 0.0
    seconds: FloatArray = np.where(np.isfinite(steps), np.clip(steps, 0.0, cap), 0.0)
    return seconds


def sample_power_w(series: DeviceSeries) -> FloatArray:
    """Return each sample's power in watts: `power_w`, else energy / interval, else NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        from_energy = np.where(
            series.interval_s > 0, series.energy_delta_j / series.interval_s, np.nan
        )
    power: FloatArray = np.where(np.isnan(series.power_w), from_energy, series.power_w)
    return power


def _cell_means(cells: IntArray, values: FloatArray, weights: FloatArray) -> FloatArray:
    ok = ~np.isnan(values) & (weights > 0)
    sums = np.bincount(cells[ok], weights=values[ok] * weights[ok], minlength=HOURS_PER_WEEK)
    totals = np.bincount(cells[ok], weights=weights[ok], minlength=HOURS_PER_WEEK)
    with np.errstate(divide="ignore", invalid="ignore"):
        means: FloatArray = np.where(totals > 0, sums / totals, np.nan)
    return means


def _hour_peaks(
    local_s: FloatArray, util: FloatArray, weights: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return (local hour keys, peak 5-min mean of each, highest 5-min mean) of valid util."""
    ok = ~np.isnan(util)
    five = np.floor(local_s[ok] / 300.0).astype(np.int64)
    keys, inverse = np.unique(five, return_inverse=True)
    sums = np.bincount(inverse, weights=util[ok] * weights[ok])
    counts = np.bincount(inverse, weights=weights[ok])
    means = np.where(counts > 0, sums / np.maximum(counts, 1e-300), np.nan)
    hour_of_five = keys // 12
    hours, hour_inverse = np.unique(hour_of_five, return_inverse=True)
    peaks = np.full(hours.size, -np.inf)
    np.maximum.at(peaks, hour_inverse, np.nan_to_num(means, nan=-np.inf))
    peaks[np.isinf(peaks)] = np.nan
    return hours, peaks, means


def profile_demand(
    series: DeviceSeries,
    local: ZoneInfo | FloatArray,
    thresholds: Thresholds,
    util: FloatArray | None = None,
    busy_level: float | None = None,
) -> DemandProfile:
    """Return the demand profile of one device.

    Args:
        series: the device's samples (`t` epoch seconds).
        local: the site's zone, or each sample's local wall-clock seconds at the middle
            of the interval it observed (`local_seconds(t - interval / 2, tz)`, for a
            caller that has them already, e.g. from a store query).
        thresholds: `demand_*` thresholds.
        util: the activity to profile, default `series.util` (GPUs: SM activity).
        busy_level: the utilisation at which an hour is busy, default `demand_busy_util`.
    """
    values = series.util if util is None else util
    level = thresholds.demand_busy_util if busy_level is None else busy_level
    seconds = observed_seconds(series)
    if isinstance(local, ZoneInfo):
        # each sample stands for the interval before it: place it at that interval's middle
        # before reading the clock, so a sample before a clock change stays before it
        local_s = local_seconds(series.t - seconds / 2.0, local)
    else:
        local_s = local
    valid = ~np.isnan(values)
    cells = hour_of_week(local_s)
    weights = series.util_n if util is None else np.ones(values.size)
    power = sample_power_w(series)
    util_mean = _cell_means(cells, values, weights)
    power_mean = _cell_means(cells, power, seconds)
    observed = np.bincount(cells[valid], weights=seconds[valid], minlength=HOURS_PER_WEEK)
    total_s = float(observed.sum())
    share = observed / total_s if total_s > 0 else np.zeros(HOURS_PER_WEEK)

    hour_keys, peaks, five_means = _hour_peaks(local_s, values, weights)
    hour_local = hour_keys.astype(np.float64) * 3_600.0
    row_weeks = week_index(hour_local)
    weeks = np.unique(row_weeks)
    grid = np.full((weeks.size, HOURS_PER_WEEK), np.nan)
    grid[np.searchsorted(weeks, row_weeks), hour_of_week(hour_local)] = peaks
    seen = ~np.isnan(grid)
    busy = seen & (grid >= level - 1e-9 * max(1.0, level))

    levels, load_share = load_duration(values[valid], seconds[valid])

    observed_weeks = seen.sum(axis=0)
    busy_weeks = busy.sum(axis=0)
    recurring = _recurring(observed_weeks, busy_weeks, thresholds)
    n_weeks = int(seen.any(axis=1).sum())
    mean_util = float(np.average(values[valid], weights=seconds[valid])) if total_s else None
    peak_util = float(np.nanmax(five_means)) if five_means.size else None
    return DemandProfile(
        device_id=series.spec.device_id,
        util_mean=util_mean,
        power_mean_w=power_mean,
        observed_share=share,
        hour_peak=grid,
        weeks=weeks.astype(np.int64),
        busy=busy,
        load_levels=levels,
        load_share=load_share,
        busy_hours_per_week=float(busy.sum()) / (seen.sum() / HOURS_PER_WEEK)
        if seen.any()
        else 0.0,
        peak_to_mean_util=_ratio(peak_util, mean_util),
        peak_to_mean_power=_peak_to_mean_power(power, seconds),
        weeks_observed=total_s / WEEK_S,
        recurring=recurring,
        regular_weeks=_regular_weeks(seen, busy, recurring),
        n_weeks=n_weeks,
        observed_weeks_per_cell=observed_weeks.astype(np.int64),
        busy_weeks_per_cell=busy_weeks.astype(np.int64),
        busy_level=level,
    )


def load_duration(values: FloatArray, seconds: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return load levels 0..1 by 0.01 and the share of `seconds` at or above each."""
    levels = np.round(np.arange(0, 101) / 100.0, 2)
    total_s = float(seconds.sum())
    if total_s <= 0:
        return levels, np.zeros(levels.size)
    order = np.argsort(values, kind="stable")
    tail = np.concatenate([np.cumsum(seconds[order][::-1])[::-1], [0.0]])
    share: FloatArray = tail[np.searchsorted(values[order], levels - 1e-12)] / total_s
    return levels, share


def _ratio(peak: float | None, mean: float | None) -> float | None:
    if peak is None or mean is None or mean <= 0:
        return None
    return peak / mean


def _peak_to_mean_power(power: FloatArray, seconds: FloatArray) -> float | None:
    ok = ~np.isnan(power) & (seconds > 0)
    if not ok.any():
        return None
    return _ratio(float(power[ok].max()), float(np.average(power[ok], weights=seconds[ok])))


def _recurring(
    observed_weeks: IntArray, busy_weeks: IntArray, thresholds: Thresholds
) -> tuple[Window, ...]:
    enough = observed_weeks >= thresholds.demand_min_weeks
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(observed_weeks > 0, busy_weeks / np.maximum(observed_weeks, 1), 0.0)
    cells = enough & np.array(
        [at_least(float(s), thresholds.demand_recurring_share) for s in share]
    )
    return windows_of(cells)


def _regular_weeks(seen: BoolArray, busy: BoolArray, recurring: tuple[Window, ...]) -> int:
    if not recurring:
        return 0
    inside = np.zeros(HOURS_PER_WEEK, dtype=bool)
    for window in recurring:
        inside[list(window.cells)] = True
    regular = 0
    for row in range(seen.shape[0]):
        if not seen[row].any() or (busy[row] & ~inside).any():
            continue
        shown = all(
            busy[row, list(w.cells)].any() or not seen[row, list(w.cells)].any() for w in recurring
        )
        regular += int(shown)
    return regular


@dataclass(frozen=True)
class HotWindows:
    """Where a host runs hot: the recurring windows in which its CPU use is above a level.

    Attributes:
        windows: the recurring hot windows (local time).
        share: their share of the week.
        regular_weeks: weeks showing those windows and no hot hour outside them.
        n_weeks: observed weeks.
        level: the utilisation at which an hour is hot.
    """

    windows: tuple[Window, ...]
    share: float
    regular_weeks: int
    n_weeks: int
    level: float

    @property
    def hours_per_week(self) -> int:
        """Return the windows' hours per week."""
        return sum(w.hours for w in self.windows)

    def short_and_regular(self, thresholds: Thresholds) -> bool:
        """Return True when the windows recur regularly in at most `peak_sized_max_share`."""
        return (
            bool(self.windows)
            and at_most(self.share, thresholds.peak_sized_max_share)
            and at_least(self.regular_weeks / max(1, self.n_weeks), thresholds.demand_regular_share)
            and at_least(float(self.n_weeks), thresholds.demand_min_weeks)
        )


def hot_windows(
    series: DeviceSeries, local: ZoneInfo | FloatArray, level: float, thresholds: Thresholds
) -> HotWindows:
    """Return the recurring windows whose hourly peak 5-min utilisation reaches `level`."""
    profile = profile_demand(series, local, thresholds, busy_level=level)
    share = sum(w.hours for w in profile.recurring) / HOURS_PER_WEEK
    return HotWindows(profile.recurring, share, profile.regular_weeks, profile.n_weeks, level)
