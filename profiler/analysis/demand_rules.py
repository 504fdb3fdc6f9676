"""Findings that see time: PEAK_SIZED_HOST, OFF_HOURS_IDLE, PEAK_SIZED_GPU; pure.

From a device's `DemandProfile` and its `PowerSchedule`:

- both need recurring busy windows that at least `demand_regular_share` of the observed
  weeks show (and no busy hour outside them), over at least `demand_min_weeks` weeks;
- `OFF_HOURS_IDLE`: every on hour falls Monday to Friday and the windows hold at least
  `off_hours_min_daily_h` busy hours per working day (UAT, dev, VDI, reporting);
- `PEAK_SIZED_HOST` otherwise, when the on hours are at most `peak_sized_max_share` of
  the week; `PEAK_SIZED_GPU` is the same for a GPU (activity: SM activity, else
  utilisation; busy at the IDLE_GPU bound): release it, or MIG or time-slice it, outside.

Savings: the idle power x the off seconds per week, less `schedule_transition_s` of idle
power per off span (shutdown and boot or resume), annualised. The idle power is the mean
measured power of the device in its idle hours where its power is measured, else the
labelled fallback (the host power model); confidence is low below `demand_full_weeks`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from profiler.analysis.confidence import Quality
from profiler.analysis.demand import DemandProfile
from profiler.analysis.host_rules import IdlePower
from profiler.analysis.power_schedule import PowerSchedule, known_idle, power_schedule
from profiler.analysis.savings import savings_from_power
from profiler.analysis.schedule_forms import schedule_forms
from profiler.analysis.thresholds import Thresholds, at_least, at_most
from profiler.analysis.week import HOURS_PER_WEEK, WEEK_S
from profiler.model.findings import Finding
from profiler.model.provenance import is_measured
from profiler.model.savings import Estimate, Site


def measured_idle_power(
    profile: DemandProfile, provenance: str | None, thresholds: Thresholds
) -> IdlePower | None:
    """Return the mean measured power over the profile's idle hours, None if not measured."""
    if not is_measured(provenance):
        return None
    cells = known_idle(profile, thresholds) & ~np.isnan(profile.power_mean_w)
    weights = profile.observed_share[cells]
    if not cells.any() or weights.sum() <= 0:
        return None
    watts = float(np.average(profile.power_mean_w[cells], weights=weights))
    label = f"mean measured power ({provenance}) in the {int(cells.sum())} idle hours of the week"
    return IdlePower(Estimate(watts, watts, watts), "measured", label)


def pattern_rule(
    profile: DemandProfile, schedule: PowerSchedule, kind: str, thresholds: Thresholds
) -> str | None:
    """Return the rule the pattern meets (None: no regular, short enough pattern)."""
    regular = at_least(profile.regularity, thresholds.demand_regular_share)
    if not profile.recurring or not regular:
        return None
    if not at_least(float(profile.n_weeks), thresholds.demand_min_weeks):
        return None
    on_weekdays = all(cell < 5 * 24 for w in schedule.on for cell in w.cells)
    busy_per_day = sum(w.hours for w in profile.recurring) / 5.0
    if kind == "gpu":
        return (
            "PEAK_SIZED_GPU"
            if at_most(schedule.on_share, thresholds.peak_sized_max_share)
            else None
        )
    if on_weekdays and at_least(busy_per_day, thresholds.off_hours_min_daily_h):
        return "OFF_HOURS_IDLE"
    if at_most(schedule.on_share, thresholds.peak_sized_max_share):
        return "PEAK_SIZED_HOST"
    return None


def schedule_saving_w(idle: Estimate, schedule: PowerSchedule, thresholds: Thresholds) -> Estimate:
    """Return the mean watts a schedule saves: idle x (off - transitions) / one week."""
    off_s = schedule.off_s_per_week - len(schedule.off) * thresholds.schedule_transition_s
    return idle.scaled(max(0.0, off_s) / WEEK_S)


_ACTIONS = {
    "PEAK_SIZED_HOST": "suspend, shut down or scale down outside the windows, or move the "
    "windows' job onto shared capacity",
    "OFF_HOURS_IDLE": "suspend or shut down nights and weekends",
    "PEAK_SIZED_GPU": "release the GPU, or share it by MIG or time-slicing, outside the windows",
}


def schedule_finding(
    profile: DemandProfile,
    tz: str,
    provenance: str | None,
    fallback: IdlePower | None,
    site: Site,
    quality: Quality,
    thresholds: Thresholds,
    kind: str = "host",
) -> Finding | None:
    """Return the device's PEAK_SIZED_HOST, OFF_HOURS_IDLE or PEAK_SIZED_GPU finding.

    Args:
        profile: the device's demand profile.
        tz: the IANA zone the profile's local times are in.
        provenance: provenance of the device's power figures (measured: used as idle).
        fallback: the labelled idle power where none is measured (the power model).
        site: PUE, grid and tariff.
        quality: what the figures rest on (history is lowered below four weeks).
        thresholds: `demand_*`, `schedule_*` and `peak_sized_max_share`.
        kind: "host" or "gpu".
    """
    schedule = power_schedule(profile, tz, thresholds)
    if schedule is None:
        return None
    rule = pattern_rule(profile, schedule, kind, thresholds)
    if rule is None:
        return None
    idle = measured_idle_power(profile, provenance, thresholds) or fallback
    savings = (
        savings_from_power(schedule_saving_w(idle.watts, schedule, thresholds), site)
        if idle
        else None
    )
    quality = dataclasses.replace(quality, site_defaulted=quality.site_defaulted or site.defaulted)
    if profile.weeks_observed < thresholds.demand_full_weeks - 1e-9:
        quality = dataclasses.replace(quality, history="low")
    if idle is not None and idle.source == "model":
        quality = dataclasses.replace(quality, power="low")
    windows = ", ".join(w.label for w in profile.recurring)
    saves = f"; saves about {savings.it_kwh_per_year.point:,.0f} kWh/yr IT" if savings else ""
    message = (
        f"{profile.device_id} is busy only in {windows} ({tz}), in {profile.regular_weeks} of "
        f"{profile.n_weeks} weeks, and idle the other {schedule.off_s_per_week / 3600:.1f} h "
        f"of the week: {_ACTIONS[rule]}{saves}."
    )
    return Finding(
        rule=rule,
        device=profile.device_id,
        severity="warning",
        message=message,
        evidence=_evidence(profile, schedule, idle, thresholds),
        recommendation={
            "action": _ACTIONS[rule],
            "schedule": schedule.as_dict(),
            "forms": schedule_forms(schedule, profile.device_id),
        },
        savings=savings,
        confidence=quality.tier(with_savings=savings is not None),
        assumptions=(
            *quality.notes,
            *_notes(profile, idle, thresholds),
            *(site.assumptions() if savings else ()),
        ),
    )


def _evidence(
    profile: DemandProfile,
    schedule: PowerSchedule,
    idle: IdlePower | None,
    thresholds: Thresholds,
) -> dict[str, Any]:
    off_h = schedule.off_s_per_week / 3600.0
    cost = idle.watts.point * off_h * (8_760.0 / HOURS_PER_WEEK) / 1000.0 if idle else None
    return {
        "windows": [w.as_dict() for w in profile.recurring],
        "regular_weeks": profile.regular_weeks,
        "observed_weeks": profile.n_weeks,
        "weeks_observed": profile.weeks_observed,
        "busy_hours_per_week": profile.busy_hours_per_week,
        "on_share_of_week": schedule.on_share,
        "off_hours_per_week": off_h,
        "off_spans_per_week": len(schedule.off),
        "transition_s": thresholds.schedule_transition_s,
        "wake_margin_s": thresholds.schedule_margin_s,
        "idle_power_w": idle.watts.point if idle else None,
        "idle_power_source": idle.source if idle else None,
        "off_hours_it_kwh_per_year": cost,
        "peak_to_mean_util": profile.peak_to_mean_util,
        "busy_level_util": profile.busy_level,
    }


def _notes(profile: DemandProfile, idle: IdlePower | None, thresholds: Thresholds) -> list[str]:
    notes = [
        f"busy hour: a 5-min mean at or above {profile.busy_level:.0%} in local time; a "
        f"window recurs when busy in >= {thresholds.demand_recurring_share:.0%} of its weeks",
        "off spans contain no hour any observed week found busy, nor any hour observed idle "
        f"in fewer than {thresholds.demand_min_weeks:g} weeks",
        f"wake {thresholds.schedule_margin_s / 60:g} min before each window; each off span "
        f"costs {thresholds.schedule_transition_s:g} s of idle power (shutdown, boot/resume)",
        "off hours per year = off hours per week x 8,760 / 168",
    ]
    if idle is None:
        notes.append("no power figure for the device: savings not computed")
    else:
        notes.append(f"idle power {idle.watts.point:.1f} W: {idle.label}")
    if profile.weeks_observed < thresholds.demand_full_weeks - 1e-9:
        notes.append(
            f"{profile.weeks_observed:.1f} weeks of history (< {thresholds.demand_full_weeks:g}):"
            " confidence low"
        )
    return notes
