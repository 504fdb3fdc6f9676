"""Requests against use: a pod container's CPU request beside the CPU it used, and the cost.

From `monitor --attribute`'s named pod rows (`kubernetes:<ns>/<pod>/<container>`, whose
details carry the container's `cpu_request`, `cpu_limit`, `memory_request`,
`memory_limit`): the cores it used on average while it ran (`cpu_s / seconds`, measured
CPU time), its request and limit, and the cores requested but not used.

**The energy the excess costs** is an estimate, labelled `estimated:reserved-idle-share`:
a request reserves cores the scheduler then places no other pod on, so the node's idle
(static) power is charged by reserved cores: excess cores / node cores x the node's idle
power x the seconds the container ran. The node's idle power is the idle energy of the
window's attribution rows (allocated or not) over their seconds. A container with no
request, or one that uses what it asks for, costs nothing here; Goldilocks and VPA
recommend sizes, this says what the unused part of today's size costs.

Memory use is not measured per cgroup yet: memory requests and limits are reported, their
use and excess are None (docs/kubernetes.md#requests-against-use). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from profiler.analysis.chargeback import NOT_A_POD, POD_NOT_NAMED, details_of, pod_group
from profiler.model.attribution_rows import IDLE_GROUP, GroupEnergy

EXCESS_PROVENANCE = "estimated:reserved-idle-share"


@dataclass(frozen=True)
class PodRequestRow:
    """One pod container's requests against its use over a window.

    Attributes:
        group: `<namespace>/<pod>/<container>`.
        seconds: sampled seconds it ran in.
        used_cores: average cores it used while it ran (measured CPU time).
        cpu_request: requested cores (None: no request).
        cpu_limit: limit in cores (None: none).
        memory_request: requested bytes (None: none).
        memory_limit: limit in bytes (None: none).
        excess_cores: requested cores it did not use (0 when it used them, None without
            a request).
        attributed_j: its attributed energy (`attributed:cpu-time(...)`), in joules.
        excess_j: the estimated energy its unused request costs, in joules (None without
            a request or without the node's cores).
    """

    group: str
    seconds: float
    used_cores: float
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None
    excess_cores: float | None
    attributed_j: float
    excess_j: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the row as plain JSON values, the excess's provenance with it."""
        return {
            "group": self.group,
            "seconds": self.seconds,
            "used_cores": self.used_cores,
            "cpu_request": self.cpu_request,
            "cpu_limit": self.cpu_limit,
            "memory_request_bytes": self.memory_request,
            "memory_limit_bytes": self.memory_limit,
            "memory_used_bytes": None,
            "excess_cores": self.excess_cores,
            "attributed_j": self.attributed_j,
            "excess_j": self.excess_j,
            "excess_provenance": EXCESS_PROVENANCE if self.excess_j is not None else None,
        }


def _number(details: dict[str, str], key: str) -> float | None:
    text = details.get(key)
    return float(text) if text is not None else None


def node_idle_w(groups: Sequence[GroupEnergy]) -> float:
    """The node's idle power over the rows' window: all idle energy / the idle row's seconds."""
    idle_row = next((g for g in groups if g.group == IDLE_GROUP), None)
    if idle_row is None or idle_row.seconds <= 0.0:
        return 0.0
    return sum(g.idle_j for g in groups) / idle_row.seconds


def requests_against_use(
    groups: Sequence[GroupEnergy], node_cores: int | None
) -> list[PodRequestRow]:
    """Return one row per named pod container, largest excess energy (then cores) first.

    Args:
        groups: `energy_by_group(..., "cgroup")` over the window (the `idle` row included).
        node_cores: the node's logical cores (None: the excess energy is None).
    """
    idle_w = node_idle_w(groups)
    rows = []
    for group in groups:
        if pod_group(group, "namespace", None) in (NOT_A_POD, POD_NOT_NAMED):
            continue
        details = details_of(group.detail)
        used = group.cpu_s / group.seconds if group.seconds > 0 else 0.0
        request = _number(details, "cpu_request")
        excess = None if request is None else max(0.0, request - used)
        excess_j = None
        if excess is not None and node_cores:
            excess_j = excess / node_cores * idle_w * group.seconds
        rows.append(
            PodRequestRow(
                group=group.group.removeprefix("kubernetes:"),
                seconds=group.seconds,
                used_cores=used,
                cpu_request=request,
                cpu_limit=_number(details, "cpu_limit"),
                memory_request=_number(details, "memory_request"),
                memory_limit=_number(details, "memory_limit"),
                excess_cores=excess,
                attributed_j=group.energy_j,
                excess_j=excess_j,
            )
        )
    return sorted(rows, key=lambda r: (-(r.excess_j or 0.0), -(r.excess_cores or 0.0), r.group))
