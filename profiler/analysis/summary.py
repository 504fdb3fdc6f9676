"""Per-device summary of a recorded run: samples, utilisation, energy, mean power.

Pure functions over stored data (no I/O, no sensors): `finwatt monitor`, `measure()` and
the reports all summarise a run the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from profiler.analysis.stats import nearest_rank
from profiler.model.device import DeviceRecord
from profiler.model.series import DeviceSeries, cumulative_energy


@dataclass(frozen=True)
class DeviceSummary:
    """One device over one run; None where the device has no such metric.

    `energy_j` is the device's energy from run start to its last sample with a known
    interval energy, `mean_power_w` that energy over the same span; `provenance` says
    whether both were measured or estimated.
    """

    device: str
    kind: str
    provenance: str | None
    status: str
    samples: int
    seconds: float | None
    util_mean: float | None
    util_p95: float | None
    energy_j: float | None
    mean_power_w: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of `finwatt monitor --json` devices."""
        return asdict(self)


def summarise_series(device: DeviceRecord, series: DeviceSeries) -> DeviceSummary:
    """Summarise one device from its series of one run (`t` since run start).

    Its energy is `cumulative_energy` at the last entry whose interval energy is known.
    """
    t, util = series.t, series.util
    energy_j = cumulative_energy(series)
    known_util = util[~np.isnan(util)]
    with_energy = np.flatnonzero(~np.isnan(energy_j))
    energy = float(energy_j[with_energy[-1]]) if with_energy.size else None
    span_s = float(t[with_energy[-1]]) if with_energy.size else None
    return DeviceSummary(
        device=device.info.device_id,
        kind=device.info.kind,
        provenance=device.info.provenance,
        status=device.status,
        samples=int(t.size),
        seconds=float(t[-1]) if t.size else None,
        util_mean=float(known_util.mean()) if known_util.size else None,
        util_p95=nearest_rank(known_util, 0.95),
        energy_j=energy,
        mean_power_w=energy / span_s if energy is not None and span_s else None,
    )
