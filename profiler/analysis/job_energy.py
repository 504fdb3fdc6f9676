"""A job's energy from the devices' cumulative energy and its process tree's CPU time (pure).

The job workflow (`profiler.workflows.job`) records, at every sampler tick, each device's
cumulative energy, the host's busy CPU seconds and the job tree's CPU seconds;
`attribute_job` turns those into the job's dynamic energy, its allocated idle energy and
the idle left unallocated, interval by interval, by the model of
`profiler.analysis.attribution` (docs/attribution.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from profiler.analysis.attribution import (
    CPU_TIME,
    OTHER,
    GpuBasis,
    IdlePolicy,
    allocate_idle,
    attributed_provenance,
    cpu_groups,
    share_by_weight,
    share_dynamic_energy,
    split_idle_j,
)
from profiler.analysis.reconcile import WALL_KINDS

JOB = "job"
CPU_TIME_KINDS = ("cpu", "dram")
"""Device kinds whose energy is shared by CPU time (packages and their memory)."""


@dataclass(frozen=True)
class JobTick:
    """What the job workflow saw at one tick (every figure cumulative from the run start).

    Attributes:
        t_s: seconds since the run started.
        energy_j_by_device: each device's cumulative energy in joules (None unreadable).
        host_busy_cpu_s: the host's busy CPU seconds since the run started.
        job_cpu_s: the job tree's CPU seconds since it started.
    """

    t_s: float
    energy_j_by_device: Mapping[str, float | None]
    host_busy_cpu_s: float
    job_cpu_s: float
    gpu: Mapping[str, GpuWeights] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuWeights:
    """One GPU's per-process figures at a tick, summed for the job and for everyone.

    Attributes:
        basis: `gpu-util` (SM percent per process) or `gpu-memory` (bytes held).
        job: the job's processes' weight.
        total: every process's weight (the job's included).
    """

    basis: GpuBasis
    job: float
    total: float


@dataclass(frozen=True)
class DeviceBasis:
    """How one device's energy is split into idle and dynamic.

    Attributes:
        device_id: `cpu:0`, `dram:0`, `gpu:0`.
        kind: `cpu`, `dram`, `gpu`.
        provenance: its energy's provenance (`measured:rapl`, `estimated:vcpu-average`).
        idle_power_w: its idle power in watts, None when unknown (then the lowest
            interval power of the window stands in; `idle_source` says so).
        idle_source: where `idle_power_w` came from (`power model`, `window minimum`).
    """

    device_id: str
    kind: str
    provenance: str | None
    idle_power_w: float | None
    idle_source: str


@dataclass
class JobEnergy:
    """A job's attributed energy over its window, in joules.

    Attributes:
        dynamic_j: its share of the devices' dynamic energy (CPU time; GPU weights).
        idle_j: idle energy allocated to it by the policy.
        idle_unallocated_j: the window's idle energy not allocated to it.
        host_energy_j: every device's energy over the window.
        provenance: `attributed:cpu-time(<source>)` per source, comma-joined; None when
            no device had energy.
        by_device: per device: energy_j, dynamic_j, idle_j, idle_power_w, idle_source,
            intervals (with a reading at both ends), and `basis` for a GPU.
        gpu_s: the job's GPU-busy seconds (SM utilisation x time), None without
            per-process utilisation.
    """

    dynamic_j: float = 0.0
    idle_j: float = 0.0
    idle_unallocated_j: float = 0.0
    host_energy_j: float = 0.0
    provenance: str | None = None
    by_device: dict[str, dict[str, float | str | None]] = field(default_factory=dict)
    gpu_s: float | None = None


def _deltas(ticks: Sequence[JobTick]) -> list[tuple[float, float, float]]:
    """Per interval: (seconds, host busy CPU s, job CPU s); job CPU never goes backwards."""
    out = []
    job_high = 0.0
    for before, after in itertools.pairwise(ticks):
        job_cpu = max(0.0, after.job_cpu_s - max(job_high, before.job_cpu_s))
        job_high = max(job_high, before.job_cpu_s, after.job_cpu_s)
        out.append(
            (
                max(0.0, after.t_s - before.t_s),
                max(0.0, after.host_busy_cpu_s - before.host_busy_cpu_s),
                job_cpu,
            )
        )
    return out


def _window_min_power_w(ticks: Sequence[JobTick], device_id: str) -> float | None:
    powers = []
    for before, after in itertools.pairwise(ticks):
        e0, e1 = before.energy_j_by_device.get(device_id), after.energy_j_by_device.get(device_id)
        dt = after.t_s - before.t_s
        if e0 is not None and e1 is not None and dt > 0:
            powers.append((e1 - e0) / dt)
    return min(powers) if powers else None


def attribute_job(
    ticks: Sequence[JobTick],
    devices: Sequence[DeviceBasis],
    policy: IdlePolicy,
    *,
    job_cores: float | None = None,
    host_cores: float | None = None,
) -> JobEnergy:
    """Share each device's energy between the job and everything else, interval by interval.

    Args:
        ticks: the job workflow's ticks, oldest first, the first one the baseline.
        devices: every device with energy; CPU packages and DRAM are shared by CPU time,
            GPUs by the ticks' per-process weights (`JobTick.gpu`; without them a GPU's
            energy counts in `host_energy_j` only). A wall device (`node`) is skipped:
            its energy is the parts' energy, shown in the reconciliation, never added.
        policy: the idle policy (`none`, `cpu-time`, `cores`).
        job_cores: cores the job may use (its CPU affinity), for `cores`.
        host_cores: the host's cores, for `cores`.

    """
    result = JobEnergy()
    intervals = _deltas(ticks)
    parts: list[str] = []
    for device in devices:
        if device.kind in WALL_KINDS:
            continue  # the wall holds the parts' energy: adding it would count them twice
        idle_w = device.idle_power_w
        idle_source = device.idle_source
        if idle_w is None:
            idle_w = _window_min_power_w(ticks, device.device_id) or 0.0
            idle_source = "window minimum"
        if device.kind in CPU_TIME_KINDS:
            figures = _device_energy(
                ticks, intervals, device, idle_w, policy, job_cores, host_cores
            )
        else:
            figures = _gpu_energy(ticks, device, idle_w, policy)
        figures.update(idle_power_w=idle_w, idle_source=idle_source)
        result.by_device[device.device_id] = figures
        energy_j = float(figures["energy_j"] or 0.0)
        result.host_energy_j += energy_j
        basis = figures.get("basis")
        methods = [CPU_TIME] if device.kind in CPU_TIME_KINDS else str(basis or "").split(",")
        methods = [m for m in methods if m]
        if figures.get("intervals") and methods:
            result.dynamic_j += float(figures["dynamic_j"] or 0.0)
            result.idle_j += float(figures["idle_j"] or 0.0)
            result.idle_unallocated_j += float(figures["idle_unallocated_j"] or 0.0)
            if device.provenance:
                parts += [attributed_provenance(m, device.provenance) for m in methods]
        if figures.get("gpu_s") is not None:
            result.gpu_s = (result.gpu_s or 0.0) + float(figures["gpu_s"] or 0.0)
    if parts:
        result.provenance = ",".join(dict.fromkeys(",".join(parts).split(",")))
    return result


def _gpu_energy(
    ticks: Sequence[JobTick], device: DeviceBasis, idle_w: float, policy: IdlePolicy
) -> dict[str, float | str | None]:
    """A GPU's energy shared by the job's per-process weight, interval by interval.

    An interval without per-process figures gives the job nothing (the energy stays with
    `other`); idle is allocated by the same weight under `cpu-time` (the activity share),
    never under `cores` (a job holds no share of a GPU's cores).
    """
    totals: dict[str, float] = dict.fromkeys(
        ("energy_j", "dynamic_j", "idle_j", "idle_unallocated_j", "intervals"), 0.0
    )
    bases: list[str] = []
    gpu_s: float | None = None
    for before, after in itertools.pairwise(ticks):
        e0 = before.energy_j_by_device.get(device.device_id)
        e1 = after.energy_j_by_device.get(device.device_id)
        if e0 is None or e1 is None:
            continue
        energy_j = max(0.0, e1 - e0)
        seconds = max(0.0, after.t_s - before.t_s)
        dynamic_j, idle_j = split_idle_j(energy_j, idle_w, seconds)
        totals["energy_j"] += energy_j
        totals["intervals"] += 1
        weights = after.gpu.get(device.device_id)
        share = {JOB: 0.0, OTHER: 1.0}
        if weights is not None:
            share = share_by_weight(1.0, {JOB: weights.job, OTHER: weights.total - weights.job})
            bases.append(weights.basis)
            if weights.basis == "gpu-util":
                gpu_s = (gpu_s or 0.0) + weights.job / 100.0 * seconds
        totals["dynamic_j"] += dynamic_j * share[JOB]
        allocated = idle_j * share[JOB] if policy == "cpu-time" else 0.0
        totals["idle_j"] += allocated
        totals["idle_unallocated_j"] += idle_j - allocated
    figures: dict[str, float | str | None] = dict(totals)
    figures["basis"] = ",".join(dict.fromkeys(bases)) or None
    figures["gpu_s"] = gpu_s
    return figures


def _device_energy(
    ticks: Sequence[JobTick],
    intervals: Sequence[tuple[float, float, float]],
    device: DeviceBasis,
    idle_w: float,
    policy: IdlePolicy,
    job_cores: float | None,
    host_cores: float | None,
) -> dict[str, float | str | None]:
    totals = dict.fromkeys(
        ("energy_j", "dynamic_j", "idle_j", "idle_unallocated_j", "intervals"), 0.0
    )
    for (before, after), (seconds, host_cpu_s, job_cpu_s) in zip(
        itertools.pairwise(ticks), intervals, strict=True
    ):
        e0 = before.energy_j_by_device.get(device.device_id)
        e1 = after.energy_j_by_device.get(device.device_id)
        if e0 is None or e1 is None:
            continue
        energy_j = max(0.0, e1 - e0)
        dynamic_j, idle_j = split_idle_j(energy_j, idle_w, seconds)
        groups = cpu_groups(host_cpu_s, {JOB: job_cpu_s})
        totals["energy_j"] += energy_j
        totals["intervals"] += 1
        totals["dynamic_j"] += share_dynamic_energy(dynamic_j, groups)[JOB]
        if policy == "cores":
            allocated = allocate_idle(
                idle_j, policy, cores_by_group={JOB: job_cores or 0.0}, host_cores=host_cores
            )[JOB]
        else:
            allocated = allocate_idle(idle_j, policy, cpu_s_by_group=groups)[JOB]
        totals["idle_j"] += allocated
        totals["idle_unallocated_j"] += idle_j - allocated
    return dict(totals)
