"""Chargeback: the host's energy over a window, per group of jobs, plus `idle` and `unattributed`.

Each job (`finwatt exec`) is charged its attributed energy (dynamic share + the idle its
policy allocated). The host's energy for the window is what the devices used: from the
`monitor`/`scheduled` runs that cover it, plus, for a job no such run covers, the host
energy of the job's own window. Two rows close the account so the rows add up to the
host's energy: `idle` (idle energy nobody was charged) and `unattributed` (dynamic energy
of processes outside any job). Without monitor runs, concurrent jobs' windows overlap and
their host energy is counted once per job (docs/attribution.md).

Pure: records in, rows out; the site's factors turn joules into kWh, CO2e and cost. With
the site's hourly grid series each row's energy is placed in time (a job's over its own
window at its mean power; `idle` and `unattributed` over the host's windows, in proportion
to each window's energy) and takes the factor of its hours (`model.carbon.co2e_of_spans`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from profiler.analysis.attribution import attributed_sources
from profiler.model.attribution_rows import IDLE_GROUP, GroupEnergy
from profiler.model.carbon import NO_MARKET, co2e_of_spans, market_of
from profiler.model.savings import Site
from profiler.model.units import J_PER_KWH

IDLE_ROW = "idle"
UNATTRIBUTED_ROW = "unattributed"
UNTAGGED = "(untagged)"


@dataclass(frozen=True)
class JobCharge:
    """One job as chargeback needs it.

    Attributes:
        run_id: the job's run.
        start_s: start, epoch seconds.
        end_s: end, epoch seconds.
        command: argv.
        tags: its tags.
        unit: its unit's name.
        units: its units of work.
        charged_j: dynamic + allocated idle, in joules.
        idle_j: the allocated idle part, in joules.
        idle_unallocated_j: idle of its window not allocated to it, in joules.
        host_energy_j: every device's energy over its window, in joules.
        provenance: its attributed provenance.
    """

    run_id: str
    start_s: float
    end_s: float
    command: Sequence[str]
    tags: dict[str, str]
    unit: str | None
    units: float | None
    charged_j: float
    idle_j: float
    idle_unallocated_j: float
    host_energy_j: float
    provenance: str | None


@dataclass(frozen=True)
class HostWindow:
    """A monitor (or scheduled) run's energy inside the chargeback window.

    Attributes:
        run_id: the run.
        start_s: start, epoch seconds.
        end_s: end, epoch seconds.
        energy_j: the parts' (CPU, DRAM, GPU; never the wall) energy inside the window
            and outside every earlier window, in joules: overlapping runs count each
            stretch of time once (`workflows.chargeback.host_windows`).
        idle_j: the idle part of it, in joules.
        provenance: its devices' provenance, comma-joined.
    """

    run_id: str
    start_s: float
    end_s: float
    energy_j: float
    idle_j: float
    provenance: str | None


@dataclass
class ChargeRow:
    """One chargeback row: a group, or `idle` / `unattributed`."""

    group: str
    jobs: int = 0
    energy_j: float = 0.0
    units: float | None = None
    provenance: set[str] = field(default_factory=set)
    spans: list[tuple[float, float, float]] = field(default_factory=list)
    """When the energy was used: (start epoch s, end epoch s, joules), for hourly factors."""

    def as_dict(self, site: Site) -> dict[str, Any]:
        """Return the row with kWh (IT and facility), CO2e (g, its basis and source) and cost."""
        kwh = self.energy_j / J_PER_KWH
        facility_kwh = kwh * site.pue
        co2e = co2e_of_spans(site, self.spans or [(0.0, 0.0, self.energy_j)])
        return {
            "group": self.group,
            "jobs": self.jobs,
            "energy_j": self.energy_j,
            "kwh": kwh,
            "facility_kwh": facility_kwh,
            "co2e_g": facility_kwh * site.grid_g_per_kwh if site.hourly is None else co2e.grams,
            **co2e.as_dict(),
            **_market(site, facility_kwh),
            "cost": None if site.price_per_kwh is None else facility_kwh * site.price_per_kwh,
            "units": self.units,
            "j_per_unit": _per_unit(self.energy_j, self.units),
            "provenance": ",".join(sorted(self.provenance)) or None,
        }


@dataclass(frozen=True)
class Chargeback:
    """The rows, the host's energy for the window and how it was found."""

    rows: list[ChargeRow]
    host_energy_j: float
    host_sources: dict[str, int]

    @property
    def total_j(self) -> float:
        """The rows' sum, in joules (equals `host_energy_j` by construction)."""
        return sum(r.energy_j for r in self.rows)


def _per_unit(energy_j: float, units: float | None) -> float | None:
    """Joules per unit; None without units or where the ratio overflows (1e-320 units)."""
    if not units:
        return None
    ratio = energy_j / units
    return ratio if math.isfinite(ratio) else None


POD_KINDS = ("namespace", "pod", "label")
"""`--by` forms over `monitor --attribute`'s named pod cgroups (`charge_pods`)."""

NOT_A_POD = "(not a pod)"
POD_NOT_NAMED = "(pod not named)"


def parse_group_by(text: str) -> tuple[str, str | None]:
    """Parse `--by`: tag:KEY, unit, command, cgroup, account, namespace, pod or label:KEY.

    Raises:
        ValueError: anything else (the message lists the forms).
    """
    kind, _, key = text.partition(":")
    if kind in ("tag", "label") and key:
        return kind, key
    if kind in ("unit", "command", "cgroup", "namespace", "pod") and not key:
        return kind, None
    if kind == "account" and not key:  # Slurm's account (`exec` under Slurm), or --tag account=
        return "tag", "account"
    raise ValueError(
        f"{text!r}: use tag:KEY, unit, command, cgroup, account, namespace, pod or label:KEY"
    )


def group_of(job: JobCharge, kind: str, key: str | None) -> str:
    """Return the group a job falls in for `--by kind[:key]`."""
    if kind == "tag":
        return job.tags.get(key or "", UNTAGGED)
    if kind == "unit":
        return job.unit or "(no unit)"
    return " ".join(job.command[:1]) if job.command else "(no command)"


def _covered(job: JobCharge, windows: Sequence[HostWindow]) -> bool:
    return any(job.start_s < w.end_s and w.start_s < job.end_s for w in windows)


def charge(
    jobs: Sequence[JobCharge], windows: Sequence[HostWindow], kind: str, key: str | None
) -> Chargeback:
    """Group the jobs' energy and close the account with `idle` and `unattributed`.

    Args:
        jobs: the jobs in the window.
        windows: the monitor runs' energy in the window.
        kind: `tag`, `unit` or `command`.
        key: the tag key for `tag`.

    """
    rows: dict[str, ChargeRow] = defaultdict(lambda: ChargeRow(""))
    host_j = sum(w.energy_j for w in windows)
    idle_j = sum(w.idle_j for w in windows)
    sources = {"monitor runs": len(windows), "job windows": 0}
    host_provenances = {w.provenance for w in windows if w.provenance}
    host_spans = [(w.start_s, w.end_s, w.energy_j) for w in windows]
    for job in jobs:
        group = group_of(job, kind, key)
        row = rows[group]
        row.group = group
        row.jobs += 1
        row.energy_j += job.charged_j
        row.spans.append((job.start_s, job.end_s, job.charged_j))
        if job.units:
            row.units = (row.units or 0.0) + job.units
        if job.provenance:
            row.provenance.add(job.provenance)
        if _covered(job, windows):
            idle_j -= job.idle_j
        else:
            host_j += job.host_energy_j
            host_spans.append((job.start_s, job.end_s, job.host_energy_j))
            idle_j += job.idle_unallocated_j
            sources["job windows"] += 1
            host_provenances.update(attributed_sources(job.provenance))
    charged_j = sum(r.energy_j for r in rows.values())
    idle_row = ChargeRow(IDLE_ROW, energy_j=idle_j)
    rest = ChargeRow(UNATTRIBUTED_ROW, energy_j=host_j - charged_j - idle_j)
    for extra in (idle_row, rest):
        extra.provenance.update(host_provenances)
        extra.spans = _spread(extra.energy_j, host_spans)
    ordered = sorted(rows.values(), key=lambda r: -r.energy_j)
    return Chargeback([*ordered, idle_row, rest], host_j, sources)


def _market(site: Site, facility_kwh: float) -> dict[str, Any]:
    """The market-based keys beside the location-based `co2e_g` (null without instruments)."""
    figure = market_of(site, facility_kwh)
    return dict(NO_MARKET) if figure is None else figure.as_dict()


def _spread(
    energy_j: float, spans: Sequence[tuple[float, float, float]]
) -> list[tuple[float, float, float]]:
    """Share `energy_j` over the host's spans in proportion to each span's energy."""
    total = sum(j for _, _, j in spans)
    if not spans or total <= 0:
        return []
    return [(a, b, energy_j * j / total) for a, b, j in spans]


def charge_groups(groups: Sequence[GroupEnergy]) -> Chargeback:
    """Rows from `monitor --attribute`'s per-minute groups (`--by cgroup`).

    Those rows already add up to the packages' energy of the minutes covered: each
    cgroup is a row, `other` (CPU time beyond the top N or in no cgroup) becomes
    `unattributed`, and `idle` stays `idle`.
    """
    rows = []
    idle_row = ChargeRow(IDLE_ROW)
    rest = ChargeRow(UNATTRIBUTED_ROW)
    for group in groups:
        if group.group == IDLE_GROUP:
            row = idle_row
        elif group.group == "other":
            row = rest
        else:
            row = ChargeRow(group.group)
            rows.append(row)
        row.energy_j += group.energy_j
        if group.provenance:
            row.provenance.update(p for p in group.provenance.split(",") if p)
    rows.sort(key=lambda r: -r.energy_j)
    host_j = sum(g.energy_j for g in groups)
    return Chargeback([*rows, idle_row, rest], host_j, {"attribution minutes": len(groups)})


def details_of(detail: str | None) -> dict[str, str]:
    """The `key=value` words of a cgroup row's detail (label keys and values hold no spaces)."""
    words = (detail or "").split(" ")[1:]
    return dict(w.split("=", 1) for w in words if "=" in w)


def pod_group(group: GroupEnergy, kind: str, key: str | None) -> str:
    """Return the row a cgroup group falls in for `--by namespace|pod|label:KEY`.

    A named pod (`kubernetes:<namespace>/<pod>/<container>`) gives its namespace,
    `<namespace>/<pod>` or its label's value (`(no label KEY)` without it); a pod the pod
    list did not name is `(pod not named)`; any other cgroup is `(not a pod)`.
    """
    if group.owner != "kubernetes":
        return NOT_A_POD
    parts = group.group.removeprefix("kubernetes:").split("/")
    if len(parts) < 2 or parts[0].startswith("pod:"):
        return POD_NOT_NAMED
    if kind == "namespace":
        return parts[0]
    if kind == "pod":
        return f"{parts[0]}/{parts[1]}"
    return details_of(group.detail).get(f"label.{key}", f"(no label {key})")


def charge_pods(groups: Sequence[GroupEnergy], kind: str, key: str | None) -> Chargeback:
    """Rows by namespace, pod or pod label from `monitor --attribute`'s cgroup groups.

    As `charge_groups`, regrouped: the rows, `idle` and `unattributed` add up to the
    packages' energy of the minutes covered, non-pod cgroups in `(not a pod)`.
    """
    merged: dict[str, GroupEnergy] = {}
    for group in groups:
        name = group.group
        if name not in (IDLE_GROUP, "other"):
            name = pod_group(group, kind, key)
        seen = merged.get(name)
        if seen is None:
            merged[name] = GroupEnergy(
                name,
                group.owner,
                group.energy_j,
                group.dynamic_j,
                group.idle_j,
                group.cpu_s,
                group.provenance,
            )
            continue
        provenances = dict.fromkeys(
            p for p in f"{seen.provenance or ''},{group.provenance or ''}".split(",") if p
        )
        merged[name] = GroupEnergy(
            name,
            seen.owner,
            seen.energy_j + group.energy_j,
            seen.dynamic_j + group.dynamic_j,
            seen.idle_j + group.idle_j,
            seen.cpu_s + group.cpu_s,
            ",".join(provenances) or None,
        )
    result = charge_groups(list(merged.values()))
    return Chargeback(result.rows, result.host_energy_j, {"attribution minutes": len(groups)})
