"""A run's attribution summed over its minutes: what `monitor --attribute` prints.

The stored rows (`attribution_minute`) keep the top N groups of each minute; summing them
over the run gives each group's energy in the minutes it was among the top N (the rest
is in `other`), so the groups, `other` and `idle` still add up to the CPU packages'
energy of the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from profiler.model.attribution_rows import IDLE_GROUP, AttributionRow
from profiler.store.database import Store


@dataclass(frozen=True)
class GroupTotal:
    """One group's figures over a run.

    Attributes:
        group: `comm[pid]`, a cgroup owner's `kind:name`, `other` or `idle`.
        owner: command name (processes) or the cgroup's recognised kind.
        detail: command line or cgroup path.
        cpu_s: CPU seconds used.
        energy_j: dynamic plus idle share, in joules.
        dynamic_j: dynamic share, in joules.
        idle_j: idle share, in joules.
        provenance: the rows' provenances, comma-joined (`attributed:cpu-time(...)`).
    """

    group: str
    owner: str | None
    detail: str | None
    cpu_s: float
    energy_j: float
    dynamic_j: float
    idle_j: float
    provenance: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as plain JSON values."""
        return asdict(self)


@dataclass(frozen=True)
class RunAttribution:
    """A run's attribution: processes and cgroups, largest first, and the idle row.

    Attributes:
        processes: per process (top N per minute, then `other`).
        cgroups: per cgroup owner (likewise).
        idle: the idle energy charged to no group (None without rows).
        minutes: how many minutes have rows.
    """

    processes: list[GroupTotal]
    cgroups: list[GroupTotal]
    idle: GroupTotal | None
    minutes: int

    def as_dict(self) -> dict[str, Any]:
        """Return the attribution as plain JSON values."""
        return {
            "minutes": self.minutes,
            "processes": [g.as_dict() for g in self.processes],
            "cgroups": [g.as_dict() for g in self.cgroups],
            "idle": self.idle.as_dict() if self.idle else None,
        }


def _totals(rows: list[AttributionRow]) -> list[GroupTotal]:
    sums: dict[str, list[float]] = {}
    first: dict[str, AttributionRow] = {}
    provenance: dict[str, dict[str, None]] = {}
    for r in rows:
        total = sums.setdefault(r.group_name, [0.0, 0.0, 0.0])
        total[0] += r.cpu_s
        total[1] += r.dynamic_j
        total[2] += r.idle_j
        first.setdefault(r.group_name, r)
        if r.provenance:
            provenance.setdefault(r.group_name, {})[r.provenance] = None
    out = [
        GroupTotal(
            group=name,
            owner=first[name].owner,
            detail=first[name].detail,
            cpu_s=cpu,
            energy_j=dynamic + idle,
            dynamic_j=dynamic,
            idle_j=idle,
            provenance=",".join(provenance[name]) if name in provenance else None,
        )
        for name, (cpu, dynamic, idle) in sums.items()
    ]
    return sorted(out, key=lambda g: (-g.energy_j, g.group))


def run_attribution(db_path: Path, run_id: str) -> RunAttribution:
    """Read a run's attribution rows and sum them per group."""
    with Store(db_path) as store:
        rows = store.attribution.for_run(run_id)
    idle = _totals([r for r in rows if r.group_kind == "host" and r.group_name == IDLE_GROUP])
    return RunAttribution(
        processes=_totals([r for r in rows if r.group_kind == "process"]),
        cgroups=_totals([r for r in rows if r.group_kind == "cgroup"]),
        idle=idle[0] if idle else None,
        minutes=len({r.minute for r in rows}),
    )
