"""Per-phase figures of a profiling run: energy, power, efficiency, CPU share, validity.

docs/methodology.md#units-of-work-and-efficiency: a phase's energy is the energy of the
devices it ran on (all CPU packages for a CPU phase, the GPU for a GPU phase, with the CPU
packages' energy over the same window beside it as the host's cost of feeding the GPU). A
phase is valid when its achieved load is within 5 points of target (the unthrottled 100 %
level, the reference, is not judged on load), at least 95% of its expected samples are
present and other processes did not disturb it; invalid phases are kept and shown, and
excluded from curves. A disturbed CPU phase also carries the workload's own energy, its
share by CPU time (docs/methodology.md#ladder-and-validity, shared host).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from profiler.analysis.attribution import DEFAULT_IDLE_POLICY, IdlePolicy
from profiler.analysis.energy import (
    coverage,
    energy_curve,
    resets_within,
    window,
    window_energy_j,
)
from profiler.analysis.job_energy import CPU_TIME_KINDS, DeviceBasis, JobTick, attribute_job
from profiler.analysis.thresholds import above, below
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.energy import run_hold_s
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.series import DeviceSeries

LOAD_TOLERANCE = 0.05
"""Achieved load must be within ±5 points of target (docs/methodology.md#ladder-and-validity)."""

MIN_COVERAGE = 0.95
"""At least 95% of expected samples present (docs/methodology.md#ladder-and-validity)."""

MAX_FOREIGN_CPU_SHARE = 0.05
"""A phase is `disturbed` when other processes used more than 5 % of the host's CPU
capacity during it: as much as the ±5-point load tolerance, so foreign load alone could
move the level out of it, and their power is charged to the workload."""


HOST_CPU = "cpu"
"""The phase device of a CPU phase on a whole host: every CPU package, their energy summed.

One vocabulary for runner, store, interchange and analysis: a phase runs on `cpu` (the
host's packages together), on one package `cpu:N`, or on `gpu:N`. On a one-package host
the runner records `cpu:0`, which is the same curve as `cpu` (`is_host_cpu`)."""


def cpu_ids(devices: Sequence[DeviceRecord]) -> list[str]:
    """Return the ids of the host's CPU packages (`cpu:N`), in device order."""
    return [d.info.device_id for d in devices if d.info.kind == "cpu"]


def is_host_cpu(phase_device: str, packages: Sequence[str]) -> bool:
    """Return True when a phase on `phase_device` measures the whole host's CPU.

    `cpu` always does; `cpu:N` does when it is the host's only package.
    """
    return phase_device == HOST_CPU or list(packages) == [phase_device]


def energy_devices(phase_device: str, devices: Sequence[DeviceRecord]) -> list[str]:
    """Return the device ids whose energy a phase on `phase_device` is charged with."""
    if phase_device == HOST_CPU:
        return cpu_ids(devices)
    return [phase_device]


def misses_target(target_load: float, achieved_load: float | None) -> bool:
    """Return True when a level's achieved load is more than 5 points off its target.

    The unthrottled 100 % level never misses: its throughput is what 100 % means, the
    reference the lower levels are shares of (docs/methodology.md#ladder-and-validity),
    so it can neither overshoot nor undershoot itself; foreign load that slows it is
    judged as disturbance.
    """
    if target_load >= 1.0:
        return False
    return achieved_load is None or above(abs(achieved_load - target_load), LOAD_TOLERANCE)


def _device_energies(
    series: Mapping[str, DeviceSeries], ids: Sequence[str], window_s: tuple[float, float, float]
) -> dict[str, float] | None:
    """Each device's energy over [t0, t1] from its curve's points within margin.

    None when a device has none (or `ids` is empty). Where a device's points stop less
    than a hold before t1 (an imported ladder's recorder that stopped a tick early), the
    last interval's power is held to t1 (`window_energy_j`'s `hold_s`).
    """
    t0, t1, margin = window_s
    energies: dict[str, float] = {}
    for device_id in ids:
        one = series.get(device_id)
        if one is None:
            return None
        curve = window(energy_curve(one), t0 - margin, t1 + margin)
        energy = window_energy_j(curve, t0, t1, hold_s=run_hold_s(margin))
        if energy is None:
            return None
        energies[device_id] = energy
    return energies or None


def _total(energies: dict[str, float] | None) -> float | None:
    return sum(energies.values()) if energies is not None else None


def phase_metrics(
    phase: PhaseRecord,
    devices: Sequence[DeviceRecord],
    series: Mapping[str, DeviceSeries],
    interval_s: float,
    idle_share: IdlePolicy = DEFAULT_IDLE_POLICY,
) -> PhaseMetrics:
    """Return the phase's figures with its energy figures added from the run's series.

    The one function that computes a phase's figures (the runner's workflow, the live
    panel and the analyzer call it). `series`: {device id: the run's raw `DeviceSeries`};
    the phase's window of each is found by `np.searchsorted`, and points within one
    interval of the window bound its energy. Figures (None where unknown): seconds,
    energy_j, mean_power_w, units_per_s, units_per_j, j_per_1000_units, coverage,
    cpu_share, provenance, invalid_reasons (empty when valid); for GPU phases also
    host_cpu_energy_j and units_per_j_incl_host; for a disturbed CPU phase the
    workload's own share by CPU time with `idle_share`'s idle (`_shared_host`).
    """
    info = {d.info.device_id: d.info for d in devices}
    ids = energy_devices(phase.device_id, devices)
    t0, t1 = phase.t_start, phase.t_end
    seconds = t1 - t0
    energies = _device_energies(series, ids, (t0, t1, interval_s))
    energy_j = _total(energies)
    units = phase.units or 0.0
    covered = min(
        (coverage(series[i], t0, t1, interval_s) if i in series else 0.0 for i in ids),
        default=0.0,
    )
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
        cpu_share=_cpu_share(phase, series, info, seconds),
    )
    foreign = _foreign_cpu_share(phase, series, info, seconds)
    if foreign is None:  # no host samples: the runner's own measurement, if any
        foreign = phase.metrics.foreign_cpu_share
    if foreign is not None:
        metrics = metrics.updated(
            foreign_cpu_share=foreign, disturbed=above(foreign, MAX_FOREIGN_CPU_SHARE)
        )
    if phase.device_id.startswith("gpu:"):
        host_j = _total(_device_energies(series, cpu_ids(devices), (t0, t1, interval_s)))
        both = (energy_j or 0.0) + host_j if host_j is not None and energy_j is not None else None
        metrics = metrics.updated(
            host_cpu_energy_j=host_j, units_per_j_incl_host=units / both if both else None
        )
    elif metrics.disturbed and energies is not None:
        metrics = metrics.updated(**_shared_host(phase, info, series, energies, idle_share))
    return metrics.updated(invalid_reasons=_invalid_reasons(phase, metrics, series, ids))


def _invalid_reasons(
    phase: PhaseRecord,
    metrics: PhaseMetrics,
    series: Mapping[str, DeviceSeries],
    ids: Sequence[str],
) -> list[str]:
    """Why the phase is not valid (docs/methodology.md#ladder-and-validity); empty if it is."""
    reasons = []
    if misses_target(phase.target_load, phase.achieved_load):
        reasons.append("achieved load misses target by more than 5 points")
    covered = metrics.coverage or 0.0
    if below(covered, MIN_COVERAGE):
        reasons.append(f"only {covered:.0%} of expected samples present (need 95%)")
    if metrics.energy_j is None:
        reasons.append("no energy figure for the phase's device")
    t0, t1 = phase.t_start, phase.t_end
    resets = sum(resets_within(series[i], t0, t1) for i in ids if i in series)
    if resets:
        reasons.append(f"energy counter reset {resets} time(s) during the phase")
    if metrics.disturbed:
        reasons.append(
            f"disturbed: other processes used {metrics.foreign_cpu_share or 0.0:.0%} of the "
            f"host's CPU (limit {MAX_FOREIGN_CPU_SHARE:.0%})"
        )
    return reasons


def evaluated(
    phase: PhaseRecord,
    devices: Sequence[DeviceRecord],
    series: Mapping[str, DeviceSeries],
    interval_s: float,
    idle_share: IdlePolicy = DEFAULT_IDLE_POLICY,
) -> PhaseRecord:
    """Return the phase with its figures (`phase_metrics`) and its validity set."""
    metrics = phase_metrics(phase, devices, series, interval_s, idle_share)
    return replace(phase, metrics=metrics, valid=not metrics.invalid_reasons)


@dataclass(frozen=True)
class WorkloadFigures:
    """A phase's power and efficiency charged to its workload.

    The one definition the phase tables (CLI and report) and `run --json`'s `own_*`
    fields show. On a clean phase the workload's energy is its devices' (nothing else ran); on a
    shared host (a disturbed CPU phase with `attributed_energy_j`) it is the workload's
    own share by CPU time (docs/methodology.md#ladder-and-validity), `shared` True.

    Attributes:
        mean_power_w: the energy over the phase's seconds.
        units_per_j: units per joule of that energy.
        j_per_1000_units: joules per 1,000 units.
        shared: True when the figures are the workload's share on a shared host.
    """

    mean_power_w: float | None
    units_per_j: float | None
    j_per_1000_units: float | None
    shared: bool = False


def workload_figures(phase: PhaseRecord) -> WorkloadFigures:
    """Return the phase's figures charged to its workload (`WorkloadFigures`)."""
    d = phase.metrics
    if not d.shared_host or d.attributed_energy_j is None:
        return WorkloadFigures(d.mean_power_w, d.units_per_j, d.j_per_1000_units)
    own_j = float(d.attributed_energy_j)
    units = phase.units or 0.0
    return WorkloadFigures(
        own_j / d.seconds if d.seconds else None,
        units / own_j if own_j > 0 and units else None,
        1000 * own_j / units if units else None,
        shared=True,
    )


def _idle_basis(device: DeviceInfo, series: DeviceSeries | None) -> DeviceBasis:
    """A package's idle power: its power model's, else the lowest power of the run."""
    model_idle_w = device.details.get("model_idle_w")
    if model_idle_w is not None:
        idle_w, source = float(model_idle_w), "power model idle"
    else:
        powers = series.power_w[~np.isnan(series.power_w)] if series is not None else None
        idle_w = float(powers.min()) if powers is not None and powers.size else 0.0
        source = "run minimum"
    return DeviceBasis(device.device_id, device.kind, device.provenance, idle_w, source)


def _shared_host(
    phase: PhaseRecord,
    info: dict[str, DeviceInfo],
    series: Mapping[str, DeviceSeries],
    energies: dict[str, float],
    idle_share: IdlePolicy,
) -> dict[str, Any]:
    """The workload's own energy in a disturbed phase, shared by CPU time as `exec` does.

    One interval, the phase: each CPU package's (and DRAM's) energy is split into idle
    (`_idle_basis` x the phase) and dynamic; the workers' CPU seconds over the host's busy
    CPU seconds share the dynamic part, and `idle_share` allocates idle
    (`profiler.analysis.job_energy.attribute_job`, docs/attribution.md#the-model). Empty
    where the share cannot be taken: no host utilisation, the workers' CPU time unknown
    under load, or a device whose energy is not shared by CPU time.
    """
    seconds = phase.t_end - phase.t_start
    busy_cpu_s = _host_busy_cpu_s(phase, series, info, seconds)
    worker_cpu_s = phase.metrics.worker_cpu_seconds
    if worker_cpu_s is None and phase.target_load == 0:
        worker_cpu_s = 0.0  # an idle phase without a figure: idle workers
    kinds = {info[d].kind if d in info else "" for d in energies}
    if busy_cpu_s is None or worker_cpu_s is None or not kinds <= set(CPU_TIME_KINDS):
        return {}
    ticks = [
        JobTick(phase.t_start, dict.fromkeys(energies, 0.0), 0.0, 0.0),
        JobTick(phase.t_end, dict(energies), busy_cpu_s, float(worker_cpu_s)),
    ]
    host = info.get("host")
    job = attribute_job(
        ticks,
        [_idle_basis(info[d], series.get(d)) for d in energies],
        idle_share,
        job_cores=float(phase.metrics.workers or 0),
        host_cores=float(host.logical_cores or 0) if host is not None else None,
    )
    if job.provenance is None:
        return {}
    return {
        "shared_host": True,
        "attributed_energy_j": job.dynamic_j + job.idle_j,
        "attributed_provenance": job.provenance,
        "idle_share": idle_share,
    }


def _host_mean_util(phase: PhaseRecord, series: Mapping[str, DeviceSeries]) -> float | None:
    """The host's mean utilisation over the phase, None without samples covering it.

    A utilisation sample at t is the host's mean over (t_prev, t], so each counts by the
    time that interval shares with [t_start, t_end]: the first sample after `t_start`
    mostly measured the phase before (a 100 % level's load leaked into the next one's
    foreign share), and the first sample after `t_end` measured the phase's tail.
    """
    host = series.get("host")
    if host is None or host.t.size == 0:
        return None
    lo = int(np.searchsorted(host.t, phase.t_start, side="right"))
    hi = int(np.searchsorted(host.t, phase.t_end, side="left")) + 1
    t, util = host.t[lo:hi], host.util[lo:hi]
    first = host.t[lo - 1] if lo > 0 else phase.t_start
    starts = np.concatenate(([first], t[:-1]))
    overlap = np.clip(t, phase.t_start, phase.t_end) - np.clip(starts, phase.t_start, phase.t_end)
    known = ~np.isnan(util) & (overlap > 0)
    weight = float(overlap[known].sum())
    return float((util[known] * overlap[known]).sum()) / weight if weight > 0 else None


def _host_busy_cpu_s(
    phase: PhaseRecord,
    series: Mapping[str, DeviceSeries],
    info: dict[str, DeviceInfo],
    seconds: float,
) -> float | None:
    """The host's busy CPU seconds in the phase: mean utilisation x logical cores x seconds.

    None without the `host` device, its core count or utilisation samples in the phase.
    """
    host = info.get("host")
    util = _host_mean_util(phase, series)
    if host is None or not host.logical_cores or util is None or seconds <= 0:
        return None
    return util * host.logical_cores * seconds


def _cpu_share(
    phase: PhaseRecord,
    by_device: Mapping[str, DeviceSeries],
    info: dict[str, DeviceInfo],
    seconds: float,
) -> float | None:
    """Workers' CPU time over all CPU time on the host in the phase (Scaphandre/Kepler)."""
    worker_cpu_s = phase.metrics.worker_cpu_seconds
    busy_cpu_s = _host_busy_cpu_s(phase, by_device, info, seconds)
    if worker_cpu_s is None or busy_cpu_s is None:
        return None
    return min(1.0, float(worker_cpu_s) / busy_cpu_s) if busy_cpu_s > 0 else None


def _foreign_cpu_share(
    phase: PhaseRecord,
    by_device: Mapping[str, DeviceSeries],
    info: dict[str, DeviceInfo],
    seconds: float,
) -> float | None:
    """Other processes' CPU time over the host's CPU capacity during the phase (0..1).

    Host busy time (`_host_busy_cpu_s`) minus the workload's own process-tree CPU time
    (`worker_cpu_seconds`, 0 for an idle phase without one) and finwatt's own
    (`profiler_cpu_seconds`, its measurement overhead); None without host utilisation
    samples in the phase.
    """
    busy_cpu_s = _host_busy_cpu_s(phase, by_device, info, seconds)
    worker_cpu_s = phase.metrics.worker_cpu_seconds
    if busy_cpu_s is None or (worker_cpu_s is None and phase.target_load > 0):
        return None  # no host figures, or a loaded phase whose own CPU time is unknown
    capacity_cpu_s = float(info["host"].logical_cores or 1) * seconds
    own_cpu_s = float(worker_cpu_s or 0.0) + float(phase.metrics.profiler_cpu_seconds or 0.0)
    foreign_cpu_s = busy_cpu_s - own_cpu_s
    return min(1.0, max(0.0, foreign_cpu_s / capacity_cpu_s))
