"""CPU power models for hosts without RAPL; every figure they give is `estimated:<model>`.

docs/methodology.md#power-models:

- `estimated:linear-tdp`: P(u) = P_idle + (P_max - P_idle) * u, P_max = the CPU's TDP
  (the `cpu_tdp_w` setting, else codecarbon's CPU power table matched by model name)
  scaled by the share of the package's threads visible to us, P_idle = 0.2 * P_max
  unless configured (cloud SPECpower medians 2012-2021: idle/peak 0.14-0.23).
- `estimated:vcpu-average`: when nothing matches (VMs whose CPU says only "Intel Xeon
  Processor"): Cloud Carbon Footprint's per-logical-CPU averages, 0.74 W idle to 3.5 W
  at full load, linear in utilisation.

Energy is integrated as P(u_interval) * dt, where u_interval is the mean utilisation over
the interval; for a model linear in u that is exact, not a rectangle approximation.
"""

from __future__ import annotations

import csv
import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from profiler.model.device import DeviceInfo
from profiler.model.provenance import ESTIMATED_LINEAR_TDP, ESTIMATED_VCPU_AVERAGE
from profiler.model.samples import Reading
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.cpu import CpuSensors, read_package_siblings

DEFAULT_IDLE_RATIO = 0.2
"""P_idle / P_max default; docs/methodology.md#power-models (SPECpower cloud medians 0.14-0.23)."""

VCPU_IDLE_W = 0.74
VCPU_MAX_W = 3.5
"""Cloud Carbon Footprint per-vCPU averages (docs/methodology.md#power-models)."""

CPU_TDP_FIX = (
    "set cpu_tdp_w (FINWATT_CPU_TDP_W=<watts> or cpu_tdp_w = <watts> in "
    "~/.config/finwatt/config.toml) to the CPU's TDP for a better estimate"
)

_NOISE = re.compile(
    r"\(r\)|\(tm\)|\bcpu\b|\bprocessor\b|@.*$|\b\d+-core\b|\bwith radeon.*$", re.IGNORECASE
)


def normalise_cpu_name(name: str) -> list[str]:
    """Return the lower-case tokens of a CPU model name without trademarks, clocks, 'CPU'."""
    return _NOISE.sub(" ", name).lower().split()


@cache
def _tdp_table() -> tuple[tuple[tuple[str, ...], str, float], ...]:
    """Return codecarbon's CPU TDP table; empty when codecarbon is not installed.

    Without the table no model name matches, so the CPU gets the vCPU average (or the
    `cpu_tdp_w` setting); the device's model note says the table was missing.
    """
    try:
        ref = importlib.resources.files("codecarbon") / "data" / "hardware" / "cpu_power.csv"
    except ModuleNotFoundError:
        return ()
    rows = []
    with ref.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                tdp_w = float(row["TDP"])
            except (KeyError, ValueError):
                continue
            rows.append((tuple(normalise_cpu_name(row["Name"])), row["Name"], tdp_w))
    return tuple(rows)


def lookup_tdp(model_name: str | None) -> tuple[str, float] | None:
    """Find a CPU's TDP in codecarbon's table; returns (table name, watts) or None.

    A table entry matches when all its tokens appear in the model name and it names a
    model number (has a digit), so "Intel Xeon Processor" matches nothing rather than
    some arbitrary Xeon; the longest such entry wins ("Gold 6248R" over "Gold 6248").
    """
    if not model_name:
        return None
    tokens = set(normalise_cpu_name(model_name))
    best: tuple[int, str, float] | None = None
    for entry_tokens, name, tdp_w in _tdp_table():
        if not entry_tokens or not any(ch.isdigit() for ch in name):
            continue
        if set(entry_tokens) <= tokens and (best is None or len(entry_tokens) > best[0]):
            best = (len(entry_tokens), name, tdp_w)
    return (best[1], best[2]) if best else None


@dataclass(frozen=True)
class LinearPowerModel:
    """P(u) = idle_w + (max_w - idle_w) * u for one CPU package, in watts."""

    provenance: str
    idle_w: float
    max_w: float
    source: str

    def power_w(self, util: float) -> float:
        """Return modelled power in watts at utilisation `util` (0..1)."""
        return self.idle_w + (self.max_w - self.idle_w) * util


def choose_cpu_model(
    model_name: str | None,
    logical_cores: int,
    *,
    cpu_tdp_w: float | None = None,
    idle_ratio: float | None = None,
    package_threads: int | None = None,
) -> LinearPowerModel:
    """Pick the power model for one CPU package, per docs/methodology.md#power-models.

    Args:
        model_name: CPU model from /proc/cpuinfo.
        logical_cores: logical CPUs of this package visible to us.
        cpu_tdp_w: the user's TDP setting (W), which wins over the table.
        idle_ratio: P_idle / P_max (default 0.2).
        package_threads: logical CPUs in the whole package (`siblings`); the TDP is
            scaled by logical_cores / package_threads when we see only part of it.

    """
    ratio = DEFAULT_IDLE_RATIO if idle_ratio is None else idle_ratio
    share = 1.0
    if package_threads and package_threads > logical_cores:
        share = logical_cores / package_threads
    if cpu_tdp_w is not None:
        max_w = cpu_tdp_w * share
        return LinearPowerModel(
            ESTIMATED_LINEAR_TDP, ratio * max_w, max_w, f"cpu_tdp_w setting {cpu_tdp_w:g} W"
        )
    found = lookup_tdp(model_name)
    if found is not None:
        name, tdp_w = found
        max_w = tdp_w * share
        return LinearPowerModel(
            ESTIMATED_LINEAR_TDP,
            ratio * max_w,
            max_w,
            f"codecarbon cpu_power.csv: {name} TDP {tdp_w:g} W x {share:.3g} of package",
        )
    return LinearPowerModel(
        ESTIMATED_VCPU_AVERAGE,
        VCPU_IDLE_W * logical_cores,
        VCPU_MAX_W * logical_cores,
        f"Cloud Carbon Footprint vCPU average {VCPU_IDLE_W}-{VCPU_MAX_W} W x "
        f"{logical_cores} logical CPUs (model {model_name!r} "
        + (
            "not in codecarbon's table)"
            if _tdp_table()
            else "unmatched: codecarbon, whose "
            "TDP table finwatt reads, is not installed; pip install codecarbon or set cpu_tdp_w)"
        ),
    )


class UtilisationPowerModel:
    """A `model` family: each package's P(u), integrated over each tick's mean utilisation.

    Read it after `CpuSensors` in the same tick: it uses that family's package
    utilisation over the same interval. Subclasses give each package's power at a
    utilisation (`package_power_w`) and their availability and device records.

    Args:
        cpu: the psutil family whose `package_util` drives the model.
        packages: the packages modelled.
    """

    name = "model"

    def __init__(self, cpu: CpuSensors, packages: Iterable[int]) -> None:
        self._cpu = cpu
        self._energy_j = dict.fromkeys(packages, 0.0)
        self._t_prev: float | None = None

    def package_power_w(self, pkg: int, util: float) -> float:
        """Return package `pkg`'s power in watts at utilisation `util` (0..1)."""
        raise NotImplementedError

    def start(self, t_mono: float) -> None:
        """Energy counts from `t_mono`."""
        self._t_prev = t_mono
        self._energy_j = dict.fromkeys(self._energy_j, 0.0)

    @property
    def poll_interval_s(self) -> float | None:
        """Any cadence: each tick integrates the interval's mean utilisation."""
        return None

    def read(self, t_mono: float) -> list[Reading]:
        """Return modelled power (W) and cumulative energy (J) per package."""
        dt = 0.0 if self._t_prev is None else max(0.0, t_mono - self._t_prev)
        self._t_prev = t_mono
        readings = []
        for pkg in self._energy_j:
            util = self._cpu.package_util.get(pkg)
            if util is None:
                readings.append(Reading(f"cpu:{pkg}"))
                continue
            power_w = self.package_power_w(pkg, util)
            self._energy_j[pkg] += power_w * dt
            readings.append(Reading(f"cpu:{pkg}", power_w=power_w, energy_j=self._energy_j[pkg]))
        return readings

    def close(self) -> None:
        """Nothing to release."""


class CpuPowerModel(UtilisationPowerModel):
    """Estimated power and energy for each `cpu:N` from the psutil family's utilisation.

    `packages` limits it to the packages no sensor measures (default: all).
    """

    def __init__(
        self,
        cpu: CpuSensors,
        *,
        cpu_tdp_w: float | None = None,
        idle_ratio: float | None = None,
        cpuinfo: Path = Path("/proc/cpuinfo"),
        packages: Iterable[int] | None = None,
    ) -> None:
        siblings = read_package_siblings(cpuinfo)
        self.models = {
            pkg: choose_cpu_model(
                cpu.cpu_model,
                cpu.packages.count(pkg),
                cpu_tdp_w=cpu_tdp_w,
                idle_ratio=idle_ratio,
                package_threads=siblings,
            )
            for pkg in (cpu.package_util if packages is None else packages)
        }
        super().__init__(cpu, self.models)

    def availability(self) -> Availability:
        """Report the model in use and where its figures come from (always found)."""
        first = next(iter(self.models.values()))
        fix = CPU_TDP_FIX if first.provenance == ESTIMATED_VCPU_AVERAGE else None
        return Availability("model", FamilyState.FOUND, f"{first.provenance}: {first.source}", fix)

    def devices(self) -> list[DeviceInfo]:
        """One `cpu:N` record per package carrying the model's provenance and source."""
        return [
            DeviceInfo(
                f"cpu:{pkg}",
                "cpu",
                power_limit_w=m.max_w,
                provenance=m.provenance,
                details={
                    "power_source": m.source,
                    "model_idle_w": m.idle_w,
                    "model_max_w": m.max_w,
                },
            )
            for pkg, m in self.models.items()
        ]

    def package_power_w(self, pkg: int, util: float) -> float:
        """Return the package's model power in watts at utilisation `util`."""
        return self.models[pkg].power_w(util)
