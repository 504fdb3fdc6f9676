"""SHIFT_WINDOW: a recurring batch that could finish in cleaner hours within its stated deadline.

Pure (docs/methodology.md#carbon). Input: the jobs of a window (`finwatt exec` records as
`BatchRun`s), the site's hourly grid series and its zone. A job states its deadline with
the tag `deadline=HH:MM` (local time of the site's zone, by when the batch must be done);
a job without one is never moved, whatever it saves. For each command whose jobs carry
one deadline and ran on at least `MIN_DAYS` distinct local days:

- its usual run: the median local start, the median duration and the median energy;
- the grid by local hour of the day: the mean g/kWh of the hourly file's lines that fall
  in that hour, over the whole file (time-weighted); an hour the file never covers makes
  every start that would run in it unusable (no guess);
- the candidates: starts every quarter-hour from its usual start (never earlier: its
  inputs may not be ready before) to the deadline less the duration;
- the best candidate's CO2e per run against the usual one's, times runs per year (runs
  on distinct days over the days observed, x 365).

A finding needs the best start to save at least `MIN_SAVED_SHARE` of the run's CO2e.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from profiler.model.carbon import HourlyIntensity
from profiler.model.findings import Finding
from profiler.model.savings import Estimate, Savings, Site
from profiler.model.units import J_PER_KWH

RULE = "SHIFT_WINDOW"
DEADLINE_TAG = "deadline"
MIN_DAYS = 3
"""A batch is recurring when it ran on at least this many distinct local days."""
MIN_SAVED_SHARE = 0.05
"""The best start must save at least this share of a run's CO2e."""
STEP_S = 900.0
"""Candidate starts every quarter-hour."""
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class BatchRun:
    """One job as the rule needs it: its command, tags, window (epoch s) and IT joules."""

    group: str
    tags: dict[str, str]
    start_s: float
    end_s: float
    energy_j: float


def hour_of_day_g(hourly: HourlyIntensity, zone: ZoneInfo) -> list[float | None]:
    """Return the file's mean g/kWh for each local hour 0-23 (None: the file never covers it)."""
    grams, seconds = [0.0] * 24, [0.0] * 24
    for start, end, g in zip(hourly.starts, hourly.ends, hourly.g_per_kwh, strict=True):
        t = start
        while t < end:
            local = datetime.fromtimestamp(t, UTC).astimezone(zone)
            stop = min(end, t + 3600.0 - (local.minute * 60 + local.second))
            grams[local.hour] += g * (stop - t)
            seconds[local.hour] += stop - t
            t = stop
    return [g / s if s > 0 else None for g, s in zip(grams, seconds, strict=True)]


def _mean_g(profile: Sequence[float | None], start_min: float, duration_s: float) -> float | None:
    """The mean g/kWh of a run starting at local minute `start_min` (evenly spread)."""
    t, end = start_min * 60.0, start_min * 60.0 + max(duration_s, 1.0)
    total = 0.0
    while t < end:
        hour = int(t // 3600) % 24
        stop = min(end, (t // 3600 + 1) * 3600)
        g = profile[hour]
        if g is None:
            return None
        total += g * (stop - t)
        t = stop
    return total / (end - start_min * 60.0)


def shift_findings(runs: Sequence[BatchRun], site: Site, zone: ZoneInfo) -> list[Finding]:
    """Return a SHIFT_WINDOW finding per recurring batch with a stated deadline (see module)."""
    if site.hourly is None:
        return []
    profile = hour_of_day_g(site.hourly, zone)
    by_batch: dict[tuple[str, str], list[BatchRun]] = defaultdict(list)
    for run in runs:
        deadline = run.tags.get(DEADLINE_TAG, "").strip()
        if _HHMM.fullmatch(deadline):  # no stated deadline, no shift
            by_batch[(run.group, deadline)].append(run)
    findings = []
    for (group, deadline), batch in sorted(by_batch.items()):
        finding = _batch_finding(group, deadline, batch, profile, site, zone)
        if finding is not None:
            findings.append(finding)
    return findings


def _batch_finding(
    group: str,
    deadline: str,
    batch: Sequence[BatchRun],
    profile: Sequence[float | None],
    site: Site,
    zone: ZoneInfo,
) -> Finding | None:
    local = [datetime.fromtimestamp(r.start_s, UTC).astimezone(zone) for r in batch]
    days = sorted({d.date() for d in local})
    if len(days) < MIN_DAYS:
        return None
    start_min = statistics.median(d.hour * 60 + d.minute + d.second / 60 for d in local)
    duration_s = statistics.median(r.end_s - r.start_s for r in batch)
    kwh = statistics.median(r.energy_j for r in batch) / J_PER_KWH * site.pue
    hours, minutes = (int(x) for x in deadline.split(":"))
    deadline_min = hours * 60 + minutes
    if deadline_min * 60 < start_min * 60 + duration_s:
        deadline_min += 24 * 60  # the deadline falls on the next day
    now_g = _mean_g(profile, start_min, duration_s)
    if now_g is None or now_g <= 0:
        return None
    latest_min = deadline_min - duration_s / 60.0
    best = (now_g, start_min)
    for k in range(math.floor((latest_min - start_min) * 60 / STEP_S) + 1):
        candidate = start_min + k * STEP_S / 60
        g = _mean_g(profile, candidate, duration_s)
        if g is not None and g < best[0]:
            best = (g, candidate)
    best_g, best_min = best
    if (now_g - best_g) / now_g < MIN_SAVED_SHARE:
        return None
    per_year = len(days) / ((days[-1] - days[0]).days + 1) * 365.0
    saved_kg = per_year * kwh * (now_g - best_g) / 1000.0
    return _finding(group, deadline, batch, (start_min, best_min), (now_g, best_g), saved_kg, site)


def _clock(minutes: float) -> str:
    whole = round(minutes) % (24 * 60)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _finding(
    group: str,
    deadline: str,
    batch: Sequence[BatchRun],
    starts: tuple[float, float],
    grams: tuple[float, float],
    saved_kg: float,
    site: Site,
) -> Finding:
    hourly = site.hourly
    assert hourly is not None  # checked by the caller
    now, best = (_clock(m) for m in starts)
    zero = Estimate(0.0, 0.0, 0.0)
    savings = Savings(zero, zero, Estimate(saved_kg, saved_kg, saved_kg), None, hourly.gas)
    return Finding(
        rule=RULE,
        device=group,
        severity="info",
        message=(
            f"Start {group} at {best} instead of {now}: it still finishes by its deadline "
            f"{deadline} and runs on a grid of {grams[1]:.0f} instead of {grams[0]:.0f} g/kWh"
        ),
        evidence={
            "runs": len(batch),
            "usual_start_local": now,
            "deadline_local": deadline,
            "grid_now_g_per_kwh": grams[0],
            "grid_best_g_per_kwh": grams[1],
        },
        recommendation={"start_local": best},
        savings=savings,
        confidence="medium" if len(batch) >= 7 else "low",
        assumptions=(
            f"grid by local hour of the day: the mean of the {hourly.label}",
            "delayed only: never earlier than the batch starts now (its inputs may not be ready)",
            f"energy per run: the median of {len(batch)} runs; CO2e only, no energy saved",
        ),
    )
