"""Per-phase figures of a profiling run: energy, power, efficiency, CPU share, validity.

Methodology sections 2-3: a phase's energy is the energy of the devices it ran on (all
CPU packages for a CPU phase, the GPU for a GPU phase, with the CPU packages' energy over
the same window beside it as the host's cost of feeding the GPU). A phase is valid when
its achieved load is within 5 points of target and at least 95% of its expected samples
are present; invalid phases are kept and shown, and excluded from curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from profiler.analysis.energy import coverage, energy_series, window_energy_j
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import SampleRow

LOAD_TOLERANCE = 0.05
"""Achieved load must be within ±5 points of target (methodology section 3.2)."""

MIN_COVERAGE = 0.95
"""At least 95% of expected samples present (methodology section 3.2)."""


def energy_devices(phase_device: str, devices: Sequence[DeviceRecord]) -> list[str]:
    """Return the device ids whose energy a phase on `phase_device` is charged with."""
    if phase_device == "cpu":
        return [d.info.device_id for d in devices if d.info.kind == "cpu"]
    return [phase_device]


def _sum_energy(
    by_device: dict[str, list[SampleRow]], ids: Sequence[str], t0: float, t1: float
) -> float | None:
    total = 0.0
    for device_id in ids:
        energy = window_energy_j(energy_series(by_device.get(device_id, [])), t0, t1)
        if energy is None:
            return None
        total += energy
    return total if ids else None


def phase_metrics(
    phase: PhaseRecord,
    devices: Sequence[DeviceRecord],
    samples: Sequence[SampleRow],
    interval_s: float,
) -> PhaseMetrics:
    """Return the phase's figures with its energy figures added from the samples.

    Figures (None where unknown): seconds, energy_j, mean_power_w, units_per_s,
    units_per_j, j_per_1000_units, coverage, cpu_share, provenance, invalid_reasons
    (empty when valid); for GPU phases also host_cpu_energy_j and units_per_j_incl_host.
    """
    by_device: dict[str, list[SampleRow]] = {}
    for sample in samples:
        if phase.t_start - interval_s <= sample.t <= phase.t_end + interval_s:
            by_device.setdefault(sample.device_id, []).append(sample)
    info = {d.info.device_id: d.info for d in devices}
    ids = energy_devices(phase.device_id, devices)
    t0, t1 = phase.t_start, phase.t_end
    seconds = t1 - t0
    energy_j = _sum_energy(by_device, ids, t0, t1)
    units = phase.units or 0.0
    covered = min((coverage(by_device.get(i, []), t0, t1, interval_s) for i in ids), default=0.0)
    provenances = sorted({info[i].provenance or "none" for i in ids if i in info})
    metrics = phase.metrics.updated(
        seconds=seconds,
        energy_devices=ids,
        energy_j=energy_j,
        mean_power_w=energy_j / seconds if energy_j is not None and seconds > 0 else None,
        units_per_s=units / seconds if seconds > 0 else None,
        units_per_j=units / energy_j if energy_j else None,
        j_per_1000_units=1000 * energy_j / units if energy_j is not None and units else None,
        coverage=covered,
        provenance=",".join(provenances) if provenances else None,
        cpu_share=_cpu_share(phase, by_device, info, seconds),
    )
    if phase.device_id.startswith("gpu:"):
        cpu_ids = energy_devices("cpu", devices)
        host_j = _sum_energy(by_device, cpu_ids, t0, t1)
        both = (energy_j or 0.0) + host_j if host_j is not None and energy_j is not None else None
        metrics = metrics.updated(
            host_cpu_energy_j=host_j, units_per_j_incl_host=units / both if both else None
        )
    reasons = []
    if phase.achieved_load is None or abs(phase.achieved_load - phase.target_load) > LOAD_TOLERANCE:
        reasons.append("achieved load misses target by more than 5 points")
    if covered < MIN_COVERAGE:
        reasons.append(f"only {covered:.0%} of expected samples present (need 95%)")
    if energy_j is None:
        reasons.append("no energy figure for the phase's device")
    return metrics.updated(invalid_reasons=reasons)


def evaluated(
    phase: PhaseRecord,
    devices: Sequence[DeviceRecord],
    samples: Sequence[SampleRow],
    interval_s: float,
) -> PhaseRecord:
    """Return the phase with its figures (`phase_metrics`) and its validity set."""
    metrics = phase_metrics(phase, devices, samples, interval_s)
    return replace(phase, metrics=metrics, valid=not metrics.invalid_reasons)


def _cpu_share(
    phase: PhaseRecord,
    by_device: dict[str, list[SampleRow]],
    info: dict[str, DeviceInfo],
    seconds: float,
) -> float | None:
    """Workers' CPU time over all CPU time on the host in the phase (Scaphandre/Kepler)."""
    worker_cpu_s = phase.metrics.worker_cpu_seconds
    host = info.get("host")
    utils = [
        s.util
        for s in by_device.get("host", [])
        if phase.t_start < s.t <= phase.t_end and s.util is not None
    ]
    if worker_cpu_s is None or host is None or not host.logical_cores or not utils:
        return None
    busy_cpu_s = sum(utils) / len(utils) * host.logical_cores * seconds
    return min(1.0, float(worker_cpu_s) / busy_cpu_s) if busy_cpu_s > 0 else None
