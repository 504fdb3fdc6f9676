"""Every device's demand profile of one host, and what `finwatt demand` shows of it; pure.

For one host's window (`profiles_of`): the host and each CPU package by utilisation,
each GPU by its activity (SM activity, else utilisation; busy at the IDLE_GPU bound),
and memory where the host's total is known (used / total; memory held is not work, so
memory has no busy hours and no schedule). Each comes with its capacity, the capacity
its peak needs (the P99.5 of its load, at 1 % resolution from the load-duration curve,
/ (1 - `under_cpu_headroom`), as UNDER_PROVISIONED_CPU sizes; memory: x `mem_margin`);
hosts and GPUs (what a schedule switches: a CPU package or memory goes with its host)
also with the power schedule their profile allows and the rule the pattern meets
(`demand_rules.pattern_rule`; the finding itself, with its savings, is `analyze`'s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from profiler.analysis.demand import DemandProfile, profile_demand
from profiler.analysis.demand_rules import pattern_rule
from profiler.analysis.power_schedule import PowerSchedule, power_schedule
from profiler.analysis.schedule_forms import schedule_forms
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock, gpu_activity, gpu_profile
from profiler.model.series import DeviceSeries, FloatArray

SCHEDULED = ("host", "gpu")
"""What a schedule switches; a CPU package or memory goes with its host."""
ORDER = {"host": 0, "cpu": 1, "gpu": 2, "memory": 3}
PEAK_SHARE = 0.005
"""The load at or above which the busiest 0.5 % of the time runs: the P99.5."""


@dataclass(frozen=True)
class DeviceDemand:
    """One device's demand profile and what it allows.

    Attributes:
        device_id: the device.
        kind: host, cpu, gpu or memory.
        measure: what is profiled: "util", "sm_active" or "mem_used_share".
        profile: the demand profile.
        capacity: provisioned capacity (cores; GPUs: 1; memory: bytes), None if unknown.
        needed: the capacity its peak needs (same unit), None if unknown.
        schedule: the power schedule the profile allows (None: none, or memory).
        rule: the rule its pattern meets (PEAK_SIZED_HOST, ...), None when none.
        tz: the IANA zone of the local times.
    """

    device_id: str
    kind: str
    measure: str
    profile: DemandProfile
    capacity: float | None
    needed: float | None
    schedule: PowerSchedule | None
    rule: str | None
    tz: str

    def as_dict(self) -> dict[str, Any]:
        """Return the device's profile, load-duration curve and schedule, JSON-ready."""
        busy = self.kind != "memory"
        figures = self.profile.grid_dict()
        if not busy:
            figures["busy_hours_per_week"] = None
            figures["recurring_windows"] = []
        return {
            "device": self.device_id,
            "kind": self.kind,
            "measure": self.measure,
            **figures,
            "regularity": self.profile.regularity if busy else None,
            "busy_level": self.profile.busy_level if busy else None,
            "load_duration": {
                "levels": [float(v) for v in self.profile.load_levels],
                "share_at_or_above": [float(v) for v in self.profile.load_share],
                "provisioned": self.capacity,
                "needed": self.needed,
            },
            "schedule": self.schedule.as_dict() if self.schedule else None,
            "forms": schedule_forms(self.schedule, self.device_id) if self.schedule else None,
            "rule": self.rule,
        }


def peak_load(profile: DemandProfile) -> float:
    """Return the lowest load level the busiest `PEAK_SHARE` of the time reaches or exceeds."""
    over = np.flatnonzero(profile.load_share > PEAK_SHARE + 1e-12)
    return float(profile.load_levels[over[-1]]) if over.size else 0.0


def _device(
    series: DeviceSeries,
    kind: str,
    measure: str,
    profile: DemandProfile,
    capacity: float | None,
    tz: str,
    thresholds: Thresholds,
) -> DeviceDemand:
    needed = (
        peak_load(profile) * capacity / (1.0 - thresholds.under_cpu_headroom) if capacity else None
    )
    schedule = power_schedule(profile, tz, thresholds) if kind in SCHEDULED else None
    rule = (
        pattern_rule(profile, schedule, "gpu" if kind == "gpu" else "host", thresholds)
        if schedule
        else None
    )
    return DeviceDemand(
        series.spec.device_id, kind, measure, profile, capacity, needed, schedule, rule, tz
    )


def hourly_profile(
    means: DeviceSeries,
    peaks: FloatArray,
    local: ZoneInfo | FloatArray,
    thresholds: Thresholds,
    util: FloatArray | None = None,
    busy_level: float | None = None,
) -> DemandProfile:
    """Return a profile from hourly rows: each hour's mean, and its highest 5-min mean.

    For a store that aggregates in the query (Prometheus: `avg_over_time` over each
    hour and `max_over_time` of the 5-min means in it). The busy hours, windows and
    regularity come from the peaks, exactly as from 5-min data; the cell means, power
    and the load-duration curve from the hourly means (so the curve is of hourly loads).
    """
    values = means.util if util is None else util
    from_peaks = profile_demand(means, local, thresholds, util=peaks, busy_level=busy_level)
    from_means = profile_demand(means, local, thresholds, util=values, busy_level=busy_level)
    mean = float(np.nanmean(values)) if not np.isnan(values).all() else 0.0
    top = float(np.nanmax(peaks)) if not np.isnan(peaks).all() else None
    return dataclasses.replace(
        from_peaks,
        util_mean=from_means.util_mean,
        power_mean_w=from_means.power_mean_w,
        load_levels=from_means.load_levels,
        load_share=from_means.load_share,
        peak_to_mean_util=top / mean if top is not None and mean > 0 else None,
    )


def profiles_of(
    series: Sequence[DeviceSeries],
    clock: LocalClock,
    thresholds: Thresholds,
    peaks: Mapping[str, FloatArray] | None = None,
) -> list[DeviceDemand]:
    """Return the demand of every host, CPU package, GPU and (where known) memory.

    `peaks`: device id -> each entry's highest 5-min mean activity, for hourly rows
    (`hourly_profile`); without one a device's entries are its samples.
    """
    found: list[DeviceDemand] = []
    hourly = peaks or {}
    for s in series:
        kind = s.spec.kind
        if not s.n:
            continue
        peak = hourly.get(s.spec.device_id)
        view = clock.view(s)
        if kind in ("host", "cpu") and not np.isnan(s.util).all():
            profile = (
                profile_demand(view, clock.local(view), thresholds)
                if peak is None
                else hourly_profile(view, peak, clock.local(view), thresholds)
            )
            cores = float(s.spec.logical_cores) if s.spec.logical_cores else None
            found.append(_device(s, kind, "util", profile, cores, clock.tz, thresholds))
        elif kind == "gpu" and not (np.isnan(s.util).all() and np.isnan(s.sm_active).all()):
            measure = "util" if np.isnan(s.sm_active).all() else "sm_active"
            profile = (
                gpu_profile(s, clock, thresholds)
                if peak is None
                else hourly_profile(
                    view,
                    peak,
                    clock.local(view),
                    thresholds,
                    util=gpu_activity(view),
                    busy_level=thresholds.demand_busy_gpu,
                )
            )
            found.append(_device(s, kind, measure, profile, 1.0, clock.tz, thresholds))
        total = s.spec.mem_total_bytes
        if kind == "host" and total and not np.isnan(s.mem_used_bytes).all():
            used = view.mem_used_bytes / float(total)
            profile = profile_demand(view, clock.local(view), thresholds, util=used, busy_level=2.0)
            memory = DeviceDemand(
                f"{s.spec.device_id}/memory",
                "memory",
                "mem_used_share",
                profile,
                float(total),
                peak_load(profile) * float(total) * thresholds.mem_margin,
                None,
                None,
                clock.tz,
            )
            found.append(memory)
    return sorted(found, key=lambda d: (ORDER.get(d.kind, 9), d.device_id))
