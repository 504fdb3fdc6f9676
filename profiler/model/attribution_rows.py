"""Attribution rows of `monitor --attribute`: one group's share of one minute (docs/attribution.md).

A row says how much of the CPU packages' energy in one minute of a run went to one
group: a process (`group_kind` `process`, named `comm[pid]`), a cgroup (`cgroup`, named
by its recognised owner: `docker:4f1a2b3c4d5e`, `kubernetes:pod:<uid>`,
`systemd:nginx.service`, `slurm:job_42`), the remainder of each kind (`other`: groups
beyond the top N and CPU time no process claimed) and the idle energy no group was
charged (`host` / `idle`). Per minute and kind, the named rows, `other` and `idle` add
up to the packages' energy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

GroupKind = Literal["process", "cgroup", "host"]

IDLE_GROUP = "idle"
"""The `host` row holding the idle energy not allocated to any group."""


@dataclass(frozen=True)
class AttributionRow:
    """One group's share of one minute of a run (the `attribution_minute` table).

    Attributes:
        minute: the minute of run time (`floor(t / 60)`, as the sample rollups count).
        group_kind: `process`, `cgroup` or `host`.
        group_name: `comm[pid]`, the cgroup owner's `kind:name`, `other` or `idle`.
        owner: the command name of a process, the recognised kind of a cgroup
            (`docker`, `containerd`, `kubernetes`, `slurm`, `systemd`, `cgroup`).
        detail: the command line of a process, the path (and QoS) of a cgroup.
        seconds: the seconds of the minute the sampler covered.
        cpu_s: CPU seconds the group used in those seconds.
        dynamic_j: its share of the dynamic energy, in joules.
        idle_j: its share of the idle energy (by the idle policy), in joules.
        provenance: `attributed:cpu-time(<source>)`, or the source itself for `idle`.
    """

    minute: int
    group_kind: GroupKind
    group_name: str
    owner: str | None
    detail: str | None
    seconds: float
    cpu_s: float
    dynamic_j: float
    idle_j: float
    provenance: str | None

    @property
    def energy_j(self) -> float:
        """Dynamic plus idle share, in joules."""
        return self.dynamic_j + self.idle_j


@dataclass(frozen=True)
class GroupEnergy:
    """A group's attributed energy summed over a window (`chargeback --by cgroup`).

    Attributes:
        group: the group's name (`other` and `idle` included).
        owner: its recognised kind (cgroups) or command name (processes).
        energy_j: dynamic plus idle share, in joules.
        dynamic_j: the dynamic share, in joules.
        idle_j: the idle share, in joules.
        cpu_s: CPU seconds used.
        provenance: the distinct provenances of its rows, comma-joined.
        detail: its first row's detail (a cgroup's path and `key=value` details: a named
            pod's `namespace`, `pod`, `label.<key>`, `cpu_request`).
        seconds: the sampled seconds of the minutes it has rows in.
    """

    group: str
    owner: str | None
    energy_j: float
    dynamic_j: float
    idle_j: float
    cpu_s: float
    provenance: str | None
    detail: str | None = None
    seconds: float = 0.0


AttributedPart = tuple[str, str, float, str]
"""(group kind, group, joules, provenance) of one tick: `process`/comm, or a cgroup owner's
kind/name; provenance `attributed:cpu-time(<source>)`, `unknown` for a source-less device."""

PartListener = Callable[[list[AttributedPart]], None]
"""Called with each tick's attributed parts (the exporter's attributed-energy counter)."""

DEFAULT_TOP_N = 10
"""Groups of each kind kept per minute when `--top` is not given."""

MAX_TOP_N = 100
"""`--top` may not exceed this: rows and exported series stay bounded."""


def check_top_n(top_n: int) -> int:
    """Return `top_n` if within 1..MAX_TOP_N, else raise ValueError naming the range."""
    if not 1 <= top_n <= MAX_TOP_N:
        raise ValueError(f"--top {top_n} is out of range: use 1 to {MAX_TOP_N}")
    return top_n
