"""The power schedule a demand profile allows: when a device may be off, in local time; pure.

The device stays on in every hour of the week that any observed week found busy, and in
every hour observed idle in fewer than `demand_min_weeks` weeks (unknown is never idle):
so no proposed off span contains a busy observed hour. Each off span starts at the end
of an on window and ends `schedule_margin_s` before the next one starts (the wake-up
margin); a span shorter than `schedule_min_off_s` is dropped (the device stays on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiler.analysis.demand import DemandProfile
from profiler.analysis.thresholds import Thresholds, at_least
from profiler.analysis.week import DAY_NAMES, HOURS_PER_WEEK, WEEK_S, BoolArray, Window, windows_of

MINUTES_PER_WEEK = HOURS_PER_WEEK * 60


def minute_label(minute: int) -> str:
    """Return a minute of the week as `Tue 22:45` (local time)."""
    minute %= MINUTES_PER_WEEK
    day, rest = divmod(minute, 24 * 60)
    return f"{DAY_NAMES[day]} {rest // 60:02d}:{rest % 60:02d}"


@dataclass(frozen=True)
class OffSpan:
    """One span of the week the device may be off, in local wall-clock minutes.

    Attributes:
        start_min: minute of the week it goes off (0 = Monday 00:00).
        minutes: how long it stays off; it wakes at start + minutes (mod one week).
    """

    start_min: int
    minutes: int

    @property
    def end_min(self) -> int:
        """Return the minute of the week it wakes (0..10079)."""
        return (self.start_min + self.minutes) % MINUTES_PER_WEEK

    @property
    def label(self) -> str:
        """Return the span as `Tue 01:00-Tue 22:45`."""
        return f"{minute_label(self.start_min)}-{minute_label(self.end_min)}"

    def as_dict(self) -> dict[str, object]:
        """Return the span with its local start, wake time and length, JSON-ready."""
        return {
            "off_at": minute_label(self.start_min),
            "wake_at": minute_label(self.end_min),
            "start_minute_of_week": self.start_min,
            "minutes": self.minutes,
        }


@dataclass(frozen=True)
class PowerSchedule:
    """When the device must be on and when it may be off, in the site's local time.

    Attributes:
        on: the on windows (every hour some week found busy, or not known idle).
        off: the off spans, each ending the wake-up margin before the next on window.
        margin_s: the wake-up margin in seconds.
        tz: the IANA zone the times are in.
    """

    on: tuple[Window, ...]
    off: tuple[OffSpan, ...]
    margin_s: float
    tz: str

    @property
    def off_s_per_week(self) -> float:
        """Return the seconds per week the device is off."""
        return 60.0 * sum(span.minutes for span in self.off)

    @property
    def on_share(self) -> float:
        """Return the on windows' share of the week (margins not counted)."""
        return sum(w.hours for w in self.on) / HOURS_PER_WEEK

    def off_share(self) -> float:
        """Return the off spans' share of the week."""
        return self.off_s_per_week / WEEK_S

    def as_dict(self) -> dict[str, object]:
        """Return the schedule, JSON-ready."""
        return {
            "tz": self.tz,
            "on_windows": [w.as_dict() for w in self.on],
            "off_spans": [s.as_dict() for s in self.off],
            "off_hours_per_week": self.off_s_per_week / 3600.0,
            "wake_margin_s": self.margin_s,
        }


def known_idle(profile: DemandProfile, thresholds: Thresholds) -> BoolArray:
    """Return the cells never busy and observed in at least `demand_min_weeks` weeks."""
    enough = np.array(
        [at_least(float(n), thresholds.demand_min_weeks) for n in profile.observed_weeks_per_cell]
    )
    result: BoolArray = enough & ~profile.ever_busy
    return result


def power_schedule(profile: DemandProfile, tz: str, thresholds: Thresholds) -> PowerSchedule | None:
    """Return the schedule of the profile, None when nothing is on or nothing may be off."""
    on_cells = ~known_idle(profile, thresholds)
    on = windows_of(on_cells)
    if not on or on_cells.all():
        return None
    margin_min = round(thresholds.schedule_margin_s / 60.0)
    spans: list[OffSpan] = []
    for k, window in enumerate(on):
        following = on[(k + 1) % len(on)]
        end = window.start + window.hours
        gap_hours = (following.start - end) % HOURS_PER_WEEK if len(on) > 1 else None
        if gap_hours is None:  # one on window: the rest of the week is the gap
            gap_hours = HOURS_PER_WEEK - window.hours
        minutes = gap_hours * 60 - margin_min
        start = end * 60
        if minutes > 0 and at_least(60.0 * minutes, thresholds.schedule_min_off_s):
            spans.append(OffSpan(start % MINUTES_PER_WEEK, minutes))
    if not spans:
        return None
    return PowerSchedule(on, tuple(spans), thresholds.schedule_margin_s, tz)
