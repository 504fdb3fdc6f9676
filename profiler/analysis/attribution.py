"""Share a device's energy among the processes, jobs or cgroups that used it (pure).

The model (docs/attribution.md, after Kepler's and Scaphandre's published ones):

- **CPU, per package, per interval:** the interval's energy is split into an *idle* part
  (the package's idle power x the interval) and a *dynamic* part (the rest, never below
  zero). The dynamic part is shared among groups in proportion to the CPU time each used
  in that interval (`share_dynamic_energy`); CPU time nobody claims stays with the
  remainder group (`OTHER`) so shares always add up to the energy that was there.
- **Idle:** shown separately, never folded into the dynamic share; allocated by a stated
  policy (`allocate_idle`): `none` (the default: idle is the cost of keeping the host
  powered, charged to nobody and reported as its own row), `cpu-time` (in proportion to
  CPU time, Scaphandre's choice) or `cores` (in proportion to the cores a group holds).
- **GPU:** energy shared by per-process GPU utilisation (NVML
  `nvmlDeviceGetProcessUtilization`) where the driver gives it, else by GPU memory held
  (`nvmlDeviceGetComputeRunningProcesses`), and the basis is named in the provenance.
- **Provenance:** every attributed figure says how it was shared and where the energy
  came from: `attributed:cpu-time(measured:rapl)`,
  `attributed:cpu-time(estimated:vcpu-average)`, `attributed:gpu-memory(measured:nvml-energy)`;
  `profiler.model.provenance.is_estimate` sees the estimate inside.

Everything here is a pure function over numbers: no /proc, no clock, no store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

IdlePolicy = Literal["none", "cpu-time", "cores"]
IDLE_POLICIES: tuple[str, ...] = get_args(IdlePolicy)
DEFAULT_IDLE_POLICY: IdlePolicy = "none"
"""Idle energy is charged to nobody by default: on a shared host it is the cost of the
host being on, which no single job caused; chargeback shows it as its own `idle` row.
`--idle-share cpu-time` charges it as Scaphandre does (whole power by CPU time)."""

OTHER = "other"
"""The remainder group: energy of CPU or GPU time no named group claims."""

GpuBasis = Literal["gpu-util", "gpu-memory"]
AttributionMethod = Literal["cpu-time", "gpu-util", "gpu-memory", "cores"]
CPU_TIME: AttributionMethod = "cpu-time"
GPU_UTIL: GpuBasis = "gpu-util"
GPU_MEMORY: GpuBasis = "gpu-memory"
CORES: AttributionMethod = "cores"

_ATTRIBUTED = re.compile(r"attributed:[^(,]+\((?P<source>[^)]+)\)")


def attributed_provenance(method: str, source_provenance: str) -> str:
    """Return the provenance of an attributed figure: `attributed:<method>(<source>)`.

    A comma-joined source (several devices) becomes one attributed part per source, so
    each part stays self-describing and `is_estimate` finds any estimate inside.

    Args:
        method: how the energy was shared (`cpu-time`, `gpu-util`, `gpu-memory`, `cores`).
        source_provenance: where the energy came from (`measured:rapl`,
            `estimated:vcpu-average`, or several joined by commas).

    Raises:
        ValueError: the method or the source is empty.

    """
    parts = [p.strip() for p in source_provenance.split(",") if p.strip()]
    if not method or not parts:
        raise ValueError(
            f"attribution needs a method and a source provenance, got {method!r} and "
            f"{source_provenance!r}"
        )
    return ",".join(f"attributed:{method}({part})" for part in dict.fromkeys(parts))


def attributed_sources(provenance: str | None) -> list[str]:
    """Return the sources inside attributed provenance parts (`measured:rapl`), in order."""
    return [m.group("source") for m in _ATTRIBUTED.finditer(provenance or "")]


def split_idle_j(energy_j: float, idle_power_w: float, seconds: float) -> tuple[float, float]:
    """Split an interval's energy into (dynamic_j, idle_j).

    Idle is `idle_power_w x seconds`, capped at the energy measured (a package cannot
    spend less than nothing on work); dynamic is the rest.

    Args:
        energy_j: the device's energy over the interval, in joules.
        idle_power_w: the device's idle power, in watts.
        seconds: the interval's length, in seconds.

    """
    if energy_j <= 0.0:
        return 0.0, 0.0
    idle_j = min(energy_j, max(0.0, idle_power_w) * max(0.0, seconds))
    return energy_j - idle_j, idle_j


def share_dynamic_energy(dynamic_j: float, cpu_s_by_group: Mapping[str, float]) -> dict[str, float]:
    """Share dynamic energy among groups in proportion to their CPU seconds.

    Pass every consumer of the interval, including the remainder (`OTHER`), so the
    shares add up to `dynamic_j`. With no CPU time at all, nothing can be shared: every
    group gets 0 and the caller keeps the energy as unattributed.

    Args:
        dynamic_j: the interval's dynamic energy, in joules.
        cpu_s_by_group: CPU seconds per group over the same interval (negative values
            are treated as 0).

    Returns:
        Joules per group, in the order given.

    """
    return _proportional(dynamic_j, cpu_s_by_group)


def share_by_weight(energy_j: float, weights: Mapping[str, float]) -> dict[str, float]:
    """Share energy in proportion to non-negative weights (GPU utilisation, memory, cores)."""
    return _proportional(energy_j, weights)


def _proportional(energy_j: float, weights: Mapping[str, float]) -> dict[str, float]:
    clean = {group: max(0.0, w) for group, w in weights.items()}
    total = sum(clean.values())
    if total <= 0.0 or energy_j <= 0.0:
        return dict.fromkeys(clean, 0.0)
    return {group: energy_j * (w / total) for group, w in clean.items()}


def cpu_groups(
    host_busy_cpu_s: float, cpu_s_by_group: Mapping[str, float], other: str = OTHER
) -> dict[str, float]:
    """Return the groups' CPU seconds plus the remainder of the host's busy CPU seconds.

    Process CPU times and /proc/stat are read at slightly different instants, so the
    groups may claim a little more than the host reports busy; the host figure is then
    raised to the groups' sum (the remainder is never negative).

    Args:
        host_busy_cpu_s: busy CPU seconds of the package (utilisation x cores x seconds).
        cpu_s_by_group: CPU seconds per named group over the same interval.
        other: the remainder group's name.

    """
    groups = {group: max(0.0, s) for group, s in cpu_s_by_group.items()}
    groups[other] = groups.get(other, 0.0) + max(0.0, host_busy_cpu_s - sum(groups.values()))
    return groups


def allocate_idle(
    idle_j: float,
    policy: IdlePolicy,
    *,
    cpu_s_by_group: Mapping[str, float] | None = None,
    cores_by_group: Mapping[str, float] | None = None,
    host_cores: float | None = None,
) -> dict[str, float]:
    """Allocate idle energy to groups by `policy`; what is not allocated stays idle.

    Args:
        idle_j: the idle energy of the interval, in joules.
        policy: `none` (every group 0), `cpu-time` (in proportion to CPU seconds, every
            consumer including `OTHER` given, so the whole idle is allocated when there was
            any CPU time) or `cores` (each group gets `cores / host_cores` of it, capped
            so the total never exceeds `idle_j`).
        cpu_s_by_group: CPU seconds per group (`cpu-time`).
        cores_by_group: cores each group holds, e.g. its CPU affinity or quota (`cores`).
        host_cores: the host's (or container's) cores (`cores`).

    Raises:
        ValueError: an unknown policy, or the policy's inputs are missing.

    """
    if policy == "none":
        groups = cpu_s_by_group if cpu_s_by_group is not None else cores_by_group or {}
        return dict.fromkeys(groups, 0.0)
    if policy == "cpu-time":
        if cpu_s_by_group is None:
            raise ValueError("idle share cpu-time needs CPU seconds per group")
        return _proportional(idle_j, cpu_s_by_group)
    if policy == "cores":
        if cores_by_group is None or not host_cores or host_cores <= 0:
            raise ValueError("idle share cores needs each group's cores and the host's cores")
        shares = {g: max(0.0, c) / host_cores for g, c in cores_by_group.items()}
        scale = min(1.0, 1.0 / sum(shares.values())) if sum(shares.values()) > 0 else 0.0
        return {g: max(0.0, idle_j) * s * scale for g, s in shares.items()}
    raise ValueError(f"unknown idle share {policy!r}: use one of {', '.join(IDLE_POLICIES)}")


@dataclass(frozen=True)
class GpuShare:
    """A GPU's energy shared among groups, and the basis used.

    Attributes:
        energy_j_by_group: joules per group (the remainder under `OTHER`).
        basis: `gpu-util` (NVML per-process utilisation) or `gpu-memory` (memory held).
    """

    energy_j_by_group: dict[str, float]
    basis: GpuBasis


def share_gpu_energy(
    energy_j: float,
    *,
    util_by_group: Mapping[str, float] | None = None,
    mem_bytes_by_group: Mapping[str, float] | None = None,
    other: str = OTHER,
) -> GpuShare | None:
    """Share one GPU's energy over an interval by utilisation, else by memory held.

    Per-process utilisation (`nvmlDeviceGetProcessUtilization`, SM percent) is the
    better basis; where the driver does not give it (many cloud and MIG setups) memory
    held (`nvmlDeviceGetComputeRunningProcesses`) stands in, and the basis says so.

    Args:
        energy_j: the GPU's energy over the interval, in joules.
        util_by_group: SM utilisation per group (0..1 or percent; only ratios matter),
            including the remainder under `other` when known.
        mem_bytes_by_group: GPU memory held per group, in bytes.
        other: the remainder group's name.

    Returns:
        The shares and their basis, or None when neither basis has any weight.

    """
    if util_by_group and sum(max(0.0, u) for u in util_by_group.values()) > 0:
        return GpuShare(_proportional(energy_j, util_by_group), GPU_UTIL)
    if mem_bytes_by_group and sum(max(0.0, m) for m in mem_bytes_by_group.values()) > 0:
        return GpuShare(_proportional(energy_j, mem_bytes_by_group), GPU_MEMORY)
    return None


def top_groups(
    energy_j_by_group: Mapping[str, float], n: int, other: str = OTHER
) -> dict[str, float]:
    """Keep the `n` largest groups and fold the rest (and any existing `other`) into `other`.

    Bounds the cardinality of stored rows and exported series; the total is unchanged.
    """
    named = sorted(
        ((g, j) for g, j in energy_j_by_group.items() if g != other), key=lambda gj: -gj[1]
    )
    kept = dict(named[: max(0, n)])
    rest = sum(j for _, j in named[max(0, n) :]) + energy_j_by_group.get(other, 0.0)
    if rest or other in energy_j_by_group:
        kept[other] = rest
    return kept
