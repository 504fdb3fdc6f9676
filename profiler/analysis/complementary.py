"""COMPLEMENTARY_PEAKS: hosts (or GPUs) whose peaks do not coincide share capacity; pure.

Each device's demand is a series of busy capacity units per step (busy cores = host
utilisation x cores; a GPU's SM activity, else utilisation, in GPUs), on steps all of
them observed (the caller's common grid; a step some device missed is dropped, so no
pool is sized on an unobserved time). Devices of the same capacity are packed first-fit
by decreasing peak: a device joins the first pool whose summed demand plus its own stays
at or under `pool_target` x capacity at every observed step, else opens a pool. Each
pool runs on one of its members (the one with the lowest idle power); the others are
freed.

A pool is complementary when its members' own peaks add up to more than the target but
their summed demand never does: they fit together only because their peaks fall at
different times. The finding needs one such pool. Reported per pool: members, the
P99.5 (`pool_quantile`) of the summed demand over the target (the capacity that sizing
on the summed series needs), the diversity factor (sum of the members' peaks / peak of
their sum). Savings: the idle power of each freed device, all year (on a linear power
curve the work's dynamic power moves with it, so the idle power is what stops);
confidence low below `demand_full_weeks` of history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.analysis.confidence import Quality, lowest
from profiler.analysis.host_rules import IdlePower
from profiler.analysis.savings import savings_from_power
from profiler.analysis.stats import nearest_rank
from profiler.analysis.thresholds import Thresholds, above, at_most
from profiler.analysis.week import WEEK_S
from profiler.model.findings import Finding, Tier
from profiler.model.savings import Estimate, Site
from profiler.model.series import FloatArray


@dataclass(frozen=True)
class Demand:
    """One device's demand on the common step grid.

    Attributes:
        name: the device (or host) name.
        busy: busy capacity units per step (cores, or GPUs), NaN where not observed.
        capacity: the device's capacity in the same units.
        idle: its idle power and where it comes from, None when unknown.
    """

    name: str
    busy: FloatArray
    capacity: float
    idle: IdlePower | None

    @property
    def peak(self) -> float:
        """Return the highest observed demand."""
        return float(np.nanmax(self.busy))


@dataclass(frozen=True)
class Pool:
    """Devices that share one device's capacity.

    Attributes:
        members: the devices, the one that carries the pool first.
        summed: their summed demand per step.
        sum_of_peaks: the sum of the members' own peaks.
    """

    members: tuple[Demand, ...]
    summed: FloatArray
    sum_of_peaks: float

    @property
    def diversity(self) -> float:
        """Return the diversity factor: sum of the members' peaks / peak of their sum."""
        peak = float(self.summed.max())
        return self.sum_of_peaks / peak if peak > 0 else 1.0


def pack(demands: Sequence[Demand], step_ok: FloatArray, target: float) -> list[Pool]:
    """Pack demands first-fit by decreasing peak so no pool exceeds `target` at any step."""
    pools: list[tuple[list[Demand], FloatArray]] = []
    for demand in sorted(demands, key=lambda d: (-d.peak, d.name)):
        busy = demand.busy[step_ok.astype(bool)]
        for members, summed in pools:
            if at_most(float((summed + busy).max()), target):
                members.append(demand)
                summed += busy
                break
        else:
            pools.append(([demand], busy.copy()))
    result = []
    for members, summed in pools:
        members.sort(key=lambda d: (d.idle.watts.point if d.idle else np.inf, d.name))
        result.append(Pool(tuple(members), summed, sum(m.peak for m in members)))
    return result


def complementary_peaks(
    demands: Sequence[Demand],
    step_s: float,
    site: Site,
    quality: Quality,
    thresholds: Thresholds,
    kind: str = "host",
) -> Finding | None:
    """Return COMPLEMENTARY_PEAKS for devices of one capacity, None when no pool is complementary.

    Args:
        demands: the devices' demand series, all of the same capacity and length.
        step_s: seconds per step of the grid.
        site: PUE, grid and tariff.
        quality: what the figures rest on (history is lowered below four weeks).
        thresholds: `pool_target`, `pool_quantile`, `demand_full_weeks`.
        kind: "host" (busy cores) or "gpu" (busy GPUs).

    Raises:
        ValueError: the series are not on one grid (their lengths differ).
    """
    if len({d.busy.size for d in demands}) > 1:
        raise ValueError("demand series must share one step grid (equal lengths)")
    if len(demands) < 2 or len({d.capacity for d in demands}) != 1:
        return None
    capacity = demands[0].capacity
    target = thresholds.pool_target * capacity
    step_ok = np.all([~np.isnan(d.busy) for d in demands], axis=0)
    if not step_ok.any():
        return None
    pools = pack(demands, step_ok.astype(np.float64), target)
    complementary = [p for p in pools if len(p.members) > 1 and above(p.sum_of_peaks, target)]
    if not complementary:
        return None
    freed = [m for p in pools for m in p.members[1:]]
    weeks = float(step_ok.sum()) * step_s / WEEK_S
    history: Tier = "low" if weeks < thresholds.demand_full_weeks - 1e-9 else "medium"
    known = all(m.idle is not None for m in freed)
    watts = (
        Estimate(
            *(
                sum(getattr(m.idle.watts, b) for m in freed if m.idle)
                for b in ("point", "low", "high")
            )
        )
        if known
        else None
    )
    savings = savings_from_power(watts, site) if watts else None
    power: Tier = "low" if any(m.idle and m.idle.source == "model" for m in freed) else "medium"
    tier_quality = Quality(
        power=power if known else None,
        history=lowest([history, quality.history or "medium"]),
        site_defaulted=site.defaulted,
        notes=quality.notes,
    )
    unit = "cores" if kind == "host" else "GPUs"
    return Finding(
        rule="COMPLEMENTARY_PEAKS",
        device=", ".join(sorted(d.name for d in demands)),
        severity="warning",
        message=(
            f"{len(demands)} {'hosts' if kind == 'host' else 'GPUs'} of {capacity:g} {unit} "
            f"peak at different times: packed on their summed demand they fit in "
            f"{len(pools)}, freeing {len(freed)} ({weeks:.1f} weeks of history)."
        ),
        evidence=_evidence(demands, pools, thresholds, target, weeks, unit),
        recommendation={
            "pools": [[m.name for m in p.members] for p in pools],
            "free": sorted(m.name for m in freed),
            "action": "share capacity" if kind == "host" else "time-slice or MIG one GPU",
        },
        savings=savings,
        confidence=tier_quality.tier(with_savings=savings is not None),
        assumptions=(
            *quality.notes,
            *_notes(thresholds, weeks, freed, known),
            *(site.assumptions() if savings else ()),
        ),
    )


def _evidence(
    demands: Sequence[Demand],
    pools: Sequence[Pool],
    thresholds: Thresholds,
    target: float,
    weeks: float,
    unit: str,
) -> dict[str, Any]:
    summed_all = np.sum([p.summed for p in pools], axis=0)
    peak_all = float(summed_all.max())
    return {
        "devices": len(demands),
        "capacity_each": demands[0].capacity,
        "unit": unit,
        "target": thresholds.pool_target,
        "weeks_of_history": weeks,
        "sum_of_peaks": float(sum(d.peak for d in demands)),
        "peak_of_sum": peak_all,
        "diversity_factor": float(sum(d.peak for d in demands)) / peak_all if peak_all else None,
        "pools": [
            {
                "members": [m.name for m in p.members],
                "carried_by": p.members[0].name,
                "sum_of_peaks": p.sum_of_peaks,
                "peak_of_sum": float(p.summed.max()),
                "quantile_of_sum": nearest_rank(p.summed, thresholds.pool_quantile),
                "sized_capacity": (nearest_rank(p.summed, thresholds.pool_quantile) or 0.0)
                / thresholds.pool_target,
                "diversity_factor": p.diversity,
                "target_capacity": target,
            }
            for p in pools
        ],
    }


def _notes(thresholds: Thresholds, weeks: float, freed: Sequence[Demand], known: bool) -> list[str]:
    notes = [
        f"packed first-fit by peak: no pool above {thresholds.pool_target:.0%} of one "
        "device's capacity at any observed step; steps any device missed are left out",
        f"pool size: P{thresholds.pool_quantile * 100:g} of the summed demand / "
        f"{thresholds.pool_target:g}",
        "saving: each freed device's idle power all year (its work's dynamic power moves "
        "with the work on a linear power curve)",
    ]
    notes += [f"idle power of {m.name}: {m.idle.label}" for m in freed if m.idle]
    if not known:
        notes.append("a freed device has no idle power figure: savings not computed")
    if weeks < thresholds.demand_full_weeks - 1e-9:
        notes.append(
            f"{weeks:.1f} weeks of history (< {thresholds.demand_full_weeks:g}): confidence low"
        )
    return notes
