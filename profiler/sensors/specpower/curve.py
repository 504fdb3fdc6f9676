"""`estimated:specpower-curve`: each package's power from its CPU group's SPECpower curve.

For a host or VM with no power sensor, the CPU model name chooses a group of the shipped
table (`table`): the first of exact model, generation, family, vendor, all results that
rests on at least `MIN_RESULTS` published results. A package's power at utilisation u is

    P_pkg(u) = W(u) x (t / t_ref) ^ b(u),   t = threads seen in the package

interpolated between SPECpower's 11 levels: for model and generation groups t_ref = 1,
b = 1 and W the median watts per thread; for family, vendor and all results a power law
fitted over the group's thread counts (`table.fit`). It is the package's share of a whole
server's wall power (CPU, memory, fans, power-supply losses) as SPECpower measures it,
like `estimated:host-curve`. The low/high band is the group's curve -/+ its largest
leave-one-out error at each level
(docs/estimates.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.provenance import Provenance
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.cpu import CpuSensors
from profiler.sensors.power_model import UtilisationPowerModel
from profiler.sensors.specpower.groups import cpu_groups
from profiler.sensors.specpower.table import LOADS, MIN_RESULTS, CurveRow, parse_table

ESTIMATED_SPECPOWER_CURVE = Provenance("estimated:specpower-curve")
TABLE_FILE = "specpower_curves.csv"


@cache
def shipped_table() -> dict[str, CurveRow]:
    """Return the shipped curve table by group key."""
    text = (files("profiler.sensors.specpower") / "data" / TABLE_FILE).read_text("utf-8")
    return {row.group.key: row for row in parse_table(text)}


def choose_group(model_name: str | None, table: dict[str, CurveRow] | None = None) -> CurveRow:
    """Return the most specific group of `model_name` resting on `MIN_RESULTS` results.

    Falls back to the group of all results, which every table has.
    """
    rows = shipped_table() if table is None else table
    for group in cpu_groups(model_name):
        row = rows.get(group.key)
        if row is not None and (row.results >= MIN_RESULTS or group.level == "all"):
            return row
    return rows["all"]


def describe(row: CurveRow) -> str:
    """One line naming the group, its size and its measured error, for doctor and reports."""
    error = (
        f"leave-one-out error median {row.err_median_pct:.0f} %, "
        f"90th percentile {row.err_p90_pct:.0f} %"
        if row.err_median_pct is not None and row.err_p90_pct is not None
        else "error not measured (one result)"
    )
    return (
        f"SPECpower group {row.group.label} ({row.group.level}, "
        f"{row.results} published results): {error}"
    )


@dataclass(frozen=True)
class PackageCurve:
    """One package's modelled power: the group's curve at the threads the package has."""

    row: CurveRow
    threads: int

    def power_w(self, util: float) -> float:
        """Return watts at utilisation `util` (0..1) on the group's median curve."""
        return float(np.interp(util, LOADS, self.row.watts(self.threads)))

    def points(self, curve: Sequence[float]) -> list[list[float]]:
        """Return [load, watts] at the 11 levels of one of the row's curves, for records."""
        watts = self.row.watts(self.threads, curve)
        return [[load, round(float(w), 4)] for load, w in zip(LOADS, watts, strict=True)]


class SpecpowerCurveModel(UtilisationPowerModel):
    """Estimated power and energy for each `cpu:N` from its CPU group's SPECpower curve."""

    def __init__(
        self,
        cpu: CpuSensors,
        *,
        packages: Iterable[int] | None = None,
        table: dict[str, CurveRow] | None = None,
    ) -> None:
        self.row = choose_group(cpu.cpu_model, table)
        chosen = list(cpu.package_util if packages is None else packages)
        self.packages = {
            pkg: PackageCurve(self.row, max(1, cpu.packages.count(pkg))) for pkg in chosen
        }
        threads = sum(m.threads for m in self.packages.values())
        if self.row.ref_threads == 1.0:
            scaling = "threads x median W per thread"
        elif threads < self.row.ref_threads:
            scaling = f"{threads} threads' share of a {self.row.ref_threads:.0f}-thread server"
        else:
            scaling = "power law in threads fitted over the group"
        self.source = f"{describe(self.row)}; P(u) = {scaling}"
        super().__init__(cpu, self.packages)

    def availability(self) -> Availability:
        """Report the group in use and its measured error (always found)."""
        return Availability(
            "model", FamilyState.FOUND, f"{ESTIMATED_SPECPOWER_CURVE}: {self.source}"
        )

    def devices(self) -> list[DeviceInfo]:
        """One `cpu:N` record per package: provenance, group, result count, curves, error."""
        row = self.row
        return [
            DeviceInfo(
                f"cpu:{pkg}",
                "cpu",
                power_limit_w=m.power_w(1.0),
                provenance=ESTIMATED_SPECPOWER_CURVE,
                details={
                    "power_source": self.source,
                    "specpower_group": row.group.label,
                    "specpower_group_level": row.group.level,
                    "specpower_results": row.results,
                    "model_error_median_pct": row.err_median_pct,
                    "model_error_p90_pct": row.err_p90_pct,
                    "model_idle_w": m.power_w(0.0),
                    "model_max_w": m.power_w(1.0),
                    "model_curve_w": m.points(row.ref_w),
                    "model_curve_low_w": m.points(row.ref_low_w),
                    "model_curve_high_w": m.points(row.ref_high_w),
                },
            )
            for pkg, m in self.packages.items()
        ]

    def package_power_w(self, pkg: int, util: float) -> float:
        """Return the package's modelled power in watts at utilisation `util`."""
        return self.packages[pkg].power_w(util)
