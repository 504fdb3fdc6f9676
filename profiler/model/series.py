"""One device's samples as numpy columns on one time axis: the one read model.

`store.samples.series` returns one `DeviceSeries` per device and run, read from raw samples or
from minute rollups; analysis and the analyzer's rules take it. `t` is seconds on any
axis (run-relative for one run, absolute epoch seconds across runs); results depend only
on differences of `t`. Absent metrics are NaN, never zero (docs/style.md#evidence).

Energy is kept as `energy_delta_j`: the energy of the interval ending at each entry
(`profiler.model.energy.interval_energy`), so runs whose cumulative counters each
restart at 0 (at run start) concatenate without a seam.

The interval convention, once: an entry is either one raw sample, placed at its time
and standing for the interval since the previous sample (the first since run start), or
one minute of rolled-up samples, placed at the minute's START (`minute x 60` s, so
windows anchored at a minute boundary hold exactly the minutes, and the samples, they
would hold from raw data). A minute's `util` and `sm_active` are the means of its
samples, `util_n`/`sm_n` how many samples they average (the weights that keep window
means exact), `util_peak` its highest sample, `n_samples` its sample count,
`energy_delta_j` its energy and `interval_s` the seconds that energy covers. For raw
samples the weights are 1 (0 where the metric is absent) and `util_peak` is `util`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from profiler.model.device import DeviceInfo
from profiler.model.energy import counter_resets, interval_energy, median_hold_s
from profiler.model.samples import SampleRow

FloatArray = npt.NDArray[np.float64]

FIELDS = (
    "t",
    "util",
    "power_w",
    "energy_delta_j",
    "mem_used_bytes",
    "sm_active",
    "interval_s",
    "n_samples",
    "util_n",
    "util_peak",
    "sm_n",
    "resets_n",
)


def _unset() -> FloatArray:
    return np.empty(0)


@dataclass(frozen=True)
class DeviceSeries:
    """A device's samples, sorted by `t`; every array has one entry per sample.

    Attributes:
        spec: the device.
        t: sample times in seconds.
        util: utilisation 0..1 (NaN where absent).
        power_w: power in watts (NaN where absent).
        energy_delta_j: energy in joules of the interval ending at each sample.
        mem_used_bytes: memory used in bytes.
        sm_active: GPU SM activity 0..1.
        interval_s: seconds each sample's energy covers (since the previous sample of its
            run; the first since run start).
        n_samples: samples each entry stands for (1 for a raw sample; default).
        util_n: samples behind each `util` value (1, or 0 where absent; default).
        util_peak: highest utilisation behind each entry (default `util`).
        sm_n: samples behind each `sm_active` value (1, or 0 where absent; default).
        resets_n: counter resets behind each entry (`interval_energy`'s reset intervals:
            1 on a raw sample whose interval reset the counter, the minute's count on a
            minute; default 0).
    """

    spec: DeviceInfo
    t: FloatArray
    util: FloatArray
    power_w: FloatArray
    energy_delta_j: FloatArray
    mem_used_bytes: FloatArray
    sm_active: FloatArray
    interval_s: FloatArray
    n_samples: FloatArray = field(default_factory=_unset)
    util_n: FloatArray = field(default_factory=_unset)
    util_peak: FloatArray = field(default_factory=_unset)
    sm_n: FloatArray = field(default_factory=_unset)
    resets_n: FloatArray = field(default_factory=_unset)

    def __post_init__(self) -> None:
        n = self.t.size
        for name in ("n_samples", "util_n", "util_peak", "sm_n", "resets_n"):
            value = getattr(self, name)
            if value.size == 0 and n:
                object.__setattr__(self, name, self._default(name))
            elif value.shape != (n,):
                raise ValueError(f"{name} has {value.size} values for {n} entries")

    def _default(self, name: str) -> FloatArray:
        if name == "n_samples":
            return np.ones(self.t.size)
        if name == "util_peak":
            return self.util
        if name == "resets_n":
            return np.zeros(self.t.size)
        values = self.util if name == "util_n" else self.sm_active
        return (~np.isnan(values)).astype(np.float64)

    @property
    def n(self) -> int:
        """Number of entries (samples, or minutes of a rolled-up series)."""
        return int(self.t.size)

    def shifted(self, offset_s: float) -> DeviceSeries:
        """Return the same series with every time moved by `offset_s` seconds."""
        return dataclasses.replace(self, t=self.t + offset_s)


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
    counter = _column(energy_j, n)
    energy, covered = interval_energy(times, counter, power, held)
    return DeviceSeries(
        spec,
        times + offset_s,
        _column(util, n),
        power,
        energy,
        _column(mem_used_bytes, n),
        _column(sm_active, n),
        covered,
        resets_n=counter_resets(counter).astype(np.float64),
    )


def series_of_rows(
    devices: Sequence[DeviceInfo], rows: Sequence[SampleRow], hold: float | None = None
) -> dict[str, DeviceSeries]:
    """Return {device id: `device_series`} of sample records (any order), one per device.

    For records already in memory (tests, a document being imported); the store reads
    its samples straight into a series (`store.samples.series`). `hold` as in `device_series`.
    """
    by_device: dict[str, list[SampleRow]] = {}
    for row in rows:
        by_device.setdefault(row.device_id, []).append(row)
    out = {}
    for spec in devices:
        mine = sorted(by_device.get(spec.device_id, []), key=lambda r: r.t)
        out[spec.device_id] = device_series(
            spec,
            [r.t for r in mine],
            util=[_nan(r.util) for r in mine],
            power_w=[_nan(r.power_w) for r in mine],
            energy_j=[_nan(r.energy_j) for r in mine],
            mem_used_bytes=[_nan(r.mem_used_bytes) for r in mine],
            sm_active=[_nan(r.sm_active) for r in mine],
            hold=hold,
        )
    return out


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def cumulative_energy(series: DeviceSeries) -> FloatArray:
    """Return the energy since the series' first interval at each entry, in J (the curve).

    The running sum of `energy_delta_j` (unknown intervals add nothing to later
    entries); NaN at an entry whose own interval energy is unknown. For one run's raw
    series without resets it is the device's cumulative counter.
    """
    delta = series.energy_delta_j
    return np.where(np.isnan(delta), np.nan, np.nancumsum(delta))


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
