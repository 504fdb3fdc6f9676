"""One device's samples as numpy arrays on one time axis: the analyzer's input.

`t` is seconds on any axis (run-relative for one run, absolute epoch seconds across
runs); analysis results depend only on differences of `t`, never on its origin. Absent
metrics are NaN, never zero (STYLE.md principle 1).

Energy is kept as `energy_delta_j`: the energy of the interval ending at each sample, so
runs whose cumulative counters each restart at 0 (at run start) concatenate without a
seam.

An entry is either one raw sample or one minute of rolled-up samples (`minute_series`,
from the store's `sample_minute` table): `util` and `sm_active` are then the minute's
means, `util_n`/`sm_n` how many samples they average (the weights that keep window means
exact), `util_peak` its highest sample, `n_samples` its sample count, `energy_delta_j`
its energy and `interval_s` the seconds that energy covers. For raw samples the weights
are 1 (0 where the metric is absent) and `util_peak` is `util`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.energy import interval_energy, median_hold_s
from profiler.model.series import FIELDS, DeviceSeries, FloatArray


def _column(values: Sequence[float | None] | FloatArray | None, n: int) -> FloatArray:
    if values is None:
        return np.full(n, np.nan)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"metric has {array.size} values for {n} sample times")
    return array


def device_series(
    spec: DeviceInfo,
    t: Sequence[float] | FloatArray,
    *,
    util: Sequence[float | None] | FloatArray | None = None,
    power_w: Sequence[float | None] | FloatArray | None = None,
    energy_j: Sequence[float | None] | FloatArray | None = None,
    mem_used_bytes: Sequence[float | None] | FloatArray | None = None,
    sm_active: Sequence[float | None] | FloatArray | None = None,
    offset_s: float = 0.0,
    hold: float | None = None,
) -> DeviceSeries:
    """Build a series from one run's samples (t since run start, cumulative energy).

    Args:
        spec: the device.
        t: seconds since run start, sorted.
        util: utilisation 0..1 per sample.
        power_w: power in watts per sample.
        energy_j: cumulative energy in joules since run start per sample.
        mem_used_bytes: memory used per sample.
        sm_active: SM activity 0..1 per sample.
        offset_s: added to `t` to place the run on a shared axis (e.g. its start time).
        hold: seconds a power reading may cover (`profiler.model.energy.interval_energy`):
            `run_hold_s` of the run's stated interval, as its rollups use; None:
            `median_hold_s(t)` of these samples.

    Raises:
        ValueError: a metric's length differs from `t`'s.
    """
    times = np.asarray(t, dtype=np.float64)
    n = times.size
    power = _column(power_w, n)
    held = median_hold_s(times) if hold is None else hold
    energy, covered = interval_energy(times, _column(energy_j, n), power, held)
    return DeviceSeries(
        spec,
        times + offset_s,
        _column(util, n),
        power,
        energy,
        _column(mem_used_bytes, n),
        _column(sm_active, n),
        covered,
    )


def minute_series(
    spec: DeviceInfo,
    minute_start_s: FloatArray,
    *,
    n_samples: FloatArray,
    util: FloatArray,
    util_n: FloatArray,
    util_peak: FloatArray,
    power_w: FloatArray,
    energy_delta_j: FloatArray,
    energy_s: FloatArray,
    mem_used_bytes: FloatArray,
    sm_active: FloatArray,
    sm_n: FloatArray,
    offset_s: float = 0.0,
) -> DeviceSeries:
    """Build a series from one run's minute rollups, one entry per minute (NaN: absent).

    Each entry sits at its minute's start, so windows anchored at a minute boundary hold
    exactly the minutes, and the samples, they would hold from raw data.

    Args:
        spec: the device.
        minute_start_s: start of each minute, seconds since run start, sorted.
        n_samples: samples in each minute.
        util: mean utilisation of the minute's samples.
        util_n: samples with a utilisation.
        util_peak: highest utilisation sampled.
        power_w: mean power in watts.
        energy_delta_j: energy of the minute in joules.
        energy_s: seconds that energy covers.
        mem_used_bytes: highest memory used.
        sm_active: mean SM activity.
        sm_n: samples with an SM activity.
        offset_s: added to the times to place the run on a shared axis.
    """
    return DeviceSeries(
        spec,
        minute_start_s + offset_s,
        util,
        power_w,
        energy_delta_j,
        mem_used_bytes,
        sm_active,
        np.nan_to_num(energy_s, nan=0.0),
        n_samples,
        np.nan_to_num(util_n, nan=0.0),
        util_peak,
        np.nan_to_num(sm_n, nan=0.0),
    )


def concatenate(parts: Sequence[DeviceSeries]) -> DeviceSeries:
    """Join one device's series from several runs (already on one axis) in time order."""
    if not parts:
        raise ValueError("nothing to concatenate")
    if len(parts) == 1:
        return parts[0]
    joined = DeviceSeries(
        parts[0].spec,
        *(np.concatenate([getattr(p, name) for p in parts]) for name in FIELDS),
    )
    order = np.argsort(joined.t, kind="stable")
    return DeviceSeries(
        joined.spec,
        *(getattr(joined, name)[order] for name in FIELDS),
    )
