"""Per-device summary of a recorded run: samples, utilisation, energy, mean power.

Pure functions over stored data (no I/O, no sensors): `finwatt monitor`, `measure()` and
the reports all summarise a run the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from profiler.analysis.stats import nearest_rank
from profiler.model.device import DeviceRecord


@dataclass(frozen=True)
class DeviceSummary:
    """One device over one run; None where the device has no such metric.

    `energy_j` is the device's cumulative energy at its last sample (counters start at 0
    at run start), `mean_power_w` that energy over the same span; `provenance` says
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


def summarise_columns(
    device: DeviceRecord,
    t: npt.NDArray[np.float64],
    util: npt.NDArray[np.float64],
    energy_j: npt.NDArray[np.float64],
) -> DeviceSummary:
    """Summarise one device from time-ordered columns (NaN = absent), no per-sample objects."""
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
