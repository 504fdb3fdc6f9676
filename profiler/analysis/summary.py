"""Per-device summary of a recorded run: samples, utilisation, energy, mean power.

Pure functions over stored data (no I/O, no sensors): `finwatt monitor`, `measure()` and
the reports all summarise a run the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from profiler.analysis.stats import nearest_rank
from profiler.store import DeviceRecord, SampleRow


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


def summarise_device(device: DeviceRecord, samples: Sequence[SampleRow]) -> DeviceSummary:
    """Summarise one device's samples (ordered by time)."""
    utils = [s.util for s in samples if s.util is not None]
    energy = [(s.t, s.energy_j) for s in samples if s.energy_j is not None]
    energy_j = energy[-1][1] if energy else None
    span_s = energy[-1][0] if energy else None
    return DeviceSummary(
        device=device.info.device_id,
        kind=device.info.kind,
        provenance=device.info.provenance,
        status=device.status,
        samples=len(samples),
        seconds=samples[-1].t if samples else None,
        util_mean=sum(utils) / len(utils) if utils else None,
        util_p95=nearest_rank(utils, 0.95),
        energy_j=energy_j,
        mean_power_w=energy_j / span_s if energy_j is not None and span_s else None,
    )


def summarise_run(
    devices: Iterable[DeviceRecord], samples: Iterable[SampleRow]
) -> list[DeviceSummary]:
    """Summarise every device of a run, in device order."""
    by_device: dict[str, list[SampleRow]] = {}
    for sample in samples:
        by_device.setdefault(sample.device_id, []).append(sample)
    return [summarise_device(d, by_device.get(d.info.device_id, [])) for d in devices]
