"""One device's samples as numpy columns on one time axis: the analyzer's input record.

`t` is seconds on any axis (run-relative for one run, absolute epoch seconds across
runs); results depend only on differences of `t`. Absent metrics are NaN, never zero
(docs/style.md#evidence). An entry is one raw sample or one minute of rolled-up samples;
`profiler.analysis.series` builds these records and explains the minute fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from profiler.model.device import DeviceInfo

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

    def __post_init__(self) -> None:
        n = self.t.size
        for name in ("n_samples", "util_n", "util_peak", "sm_n"):
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
        values = self.util if name == "util_n" else self.sm_active
        return (~np.isnan(values)).astype(np.float64)

    @property
    def n(self) -> int:
        """Number of entries (samples, or minutes of a rolled-up series)."""
        return int(self.t.size)

    def shifted(self, offset_s: float) -> DeviceSeries:
        """Return the same series with every time moved by `offset_s` seconds."""
        return dataclasses.replace(self, t=self.t + offset_s)
