"""Per-phase figures of a profiling run: energy, power, efficiency, CPU share, validity.

docs/methodology.md#units-of-work-and-efficiency: a phase's energy is the energy of the
devices it ran on (all CPU packages for a CPU phase, the GPU for a GPU phase, with the CPU
packages' energy over the same window beside it as the host's cost of feeding the GPU). A
phase is valid when its achieved load is within 5 points of target and at least 95% of its
expected samples are present; invalid phases are kept and shown, and excluded from curves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from profiler.analysis.energy import (
    coverage,
    energy_curve,
    resets_within,
    window,
    window_energy_j,
)
from profiler.analysis.thresholds import above, below
from profiler.model.device import DeviceInfo, DeviceRecord
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


def _sum_energy(
    series: Mapping[str, DeviceSeries], ids: Sequence[str], window_s: tuple[float, float, float]
) -> float | None:
    """The energy of [t0, t1] summed over `ids`, from each curve's points within margin."""
    t0, t1, margin = window_s
    total = 0.0
    for device_id in ids:
        one = series.get(device_id)
        if one is None:
            return None
        curve = window(energy_curve(one), t0 - margin, t1 + margin)
        energy = window_energy_j(curve, t0, t1)
        if energy is None:
            return None
        total += energy
    return total if ids else None


def phase_metrics(
    phase: PhaseRecord,
    devices: Sequence[DeviceRecord],
    series: Mapping[str, DeviceSeries],
    interval_s: float,
) -> PhaseMetrics:
    """Return the phase's figures with its energy figures added from the run's series.

    The one function that computes a phase's figures (the runner's workflow, the live
    panel and the analyzer call it). `series`: {device id: the run's raw `DeviceSeries`};
    the phase's window of each is found by `np.searchsorted`, and points within one
    interval of the window bound its energy. Figures (None where unknown): seconds,
    energy_j, mean_power_w, units_per_s, units_per_j, j_per_1000_units, coverage,
    cpu_share, provenance, invalid_reasons (empty when valid); for GPU phases also
    host_cpu_energy_j and units_per_j_incl_host.
    """
    info = {d.info.device_id: d.info for d in devices}
    ids = energy_devices(phase.device_id, devices)
    t0, t1 = phase.t_start, phase.t_end
    seconds = t1 - t0
    energy_j = _sum_energy(series, ids, (t0, t1, interval_s))
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
        host_j = _sum_energy(series, cpu_ids(devices), (t0, t1, interval_s))
        both = (energy_j or 0.0) + host_j if host_j is not None and energy_j is not None else None
        metrics = metrics.updated(
            host_cpu_energy_j=host_j, units_per_j_incl_host=units / both if both else None
        )
    reasons = []
    if phase.achieved_load is None or above(
        abs(phase.achieved_load - phase.target_load), LOAD_TOLERANCE
    ):
        reasons.append("achieved load misses target by more than 5 points")
    if below(covered, MIN_COVERAGE):
        reasons.append(f"only {covered:.0%} of expected samples present (need 95%)")
    if energy_j is None:
        reasons.append("no energy figure for the phase's device")
    resets = sum(resets_within(series[i], t0, t1) for i in ids if i in series)
    if resets:
        reasons.append(f"energy counter reset {resets} time(s) during the phase")
    if metrics.disturbed:
        reasons.append(
            f"disturbed: other processes used {foreign:.0%} of the host's CPU "
            f"(limit {MAX_FOREIGN_CPU_SHARE:.0%})"
        )
    return metrics.updated(invalid_reasons=reasons)


def evaluated(
    phase: PhaseRecord,
    devices: Sequence[DeviceRecord],
    series: Mapping[str, DeviceSeries],
    interval_s: float,
) -> PhaseRecord:
    """Return the phase with its figures (`phase_metrics`) and its validity set."""
    metrics = phase_metrics(phase, devices, series, interval_s)
    return replace(phase, metrics=metrics, valid=not metrics.invalid_reasons)


def _host_utils(phase: PhaseRecord, series: Mapping[str, DeviceSeries]) -> list[float]:
    """The host's utilisation samples with t_start < t <= t_end (NaN left out)."""
    host = series.get("host")
    if host is None:
        return []
    lo = int(np.searchsorted(host.t, phase.t_start, side="right"))
    hi = int(np.searchsorted(host.t, phase.t_end, side="right"))
    return [u for u in host.util[lo:hi].tolist() if u == u]


def _cpu_share(
    phase: PhaseRecord,
    by_device: Mapping[str, DeviceSeries],
    info: dict[str, DeviceInfo],
    seconds: float,
) -> float | None:
    """Workers' CPU time over all CPU time on the host in the phase (Scaphandre/Kepler)."""
    worker_cpu_s = phase.metrics.worker_cpu_seconds
    host = info.get("host")
    utils = _host_utils(phase, by_device)
    if worker_cpu_s is None or host is None or not host.logical_cores or not utils:
        return None
    busy_cpu_s = sum(utils) / len(utils) * host.logical_cores * seconds
    return min(1.0, float(worker_cpu_s) / busy_cpu_s) if busy_cpu_s > 0 else None


def _foreign_cpu_share(
    phase: PhaseRecord,
    by_device: Mapping[str, DeviceSeries],
    info: dict[str, DeviceInfo],
    seconds: float,
) -> float | None:
    """Other processes' CPU time over the host's CPU capacity during the phase (0..1).

    Host busy time (the `host` device's utilisation x logical cores x seconds) minus the
    workload's own process-tree CPU time (`worker_cpu_seconds`, 0 for an idle phase
    without one) and finwatt's own (`profiler_cpu_seconds`, its measurement overhead);
    None without host utilisation samples in the phase.
    """
    host = info.get("host")
    utils = _host_utils(phase, by_device)
    if host is None or not host.logical_cores or not utils or seconds <= 0:
        return None
    worker_cpu_s = phase.metrics.worker_cpu_seconds
    if worker_cpu_s is None and phase.target_load > 0:
        return None  # a loaded phase whose own CPU time is unknown: cannot tell
    capacity_cpu_s = host.logical_cores * seconds
    busy_cpu_s = sum(utils) / len(utils) * capacity_cpu_s
    own_cpu_s = float(worker_cpu_s or 0.0) + float(phase.metrics.profiler_cpu_seconds or 0.0)
    foreign_cpu_s = busy_cpu_s - own_cpu_s
    return min(1.0, max(0.0, foreign_cpu_s / capacity_cpu_s))
