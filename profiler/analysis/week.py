"""The week in local time: epoch seconds to wall-clock seconds, hours of the week, windows.

An hour of the week is `weekday x 24 + hour`, Monday 00:00 = 0; a week is a local
Monday-to-Sunday week. Local seconds = t + the zone's UTC offset at t (from the
`ZoneInfo` passed in: no clock, no files read here), so figures follow the wall clock
across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from profiler.model.series import FloatArray

HOURS_PER_WEEK = 168
WEEK_S = 7 * 86_400.0
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
_OFFSET_STEP_S = 900.0  # zone offsets change on quarter hours

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def local_seconds(t: FloatArray, tz: ZoneInfo) -> FloatArray:
    """Return epoch seconds `t` as local wall-clock seconds in `tz` (t + UTC offset at t).

    The offset is looked up once per quarter hour of the series (zones change offset on
    quarter hours), so a month of 5-min samples costs about 3,000 look-ups.
    """
    steps = np.floor(t / _OFFSET_STEP_S)
    unique, inverse = np.unique(steps, return_inverse=True)
    offsets = np.empty(unique.size)
    for i, step in enumerate(unique):
        moment = datetime.fromtimestamp(float(step) * _OFFSET_STEP_S, tz=UTC).astimezone(tz)
        offset = moment.utcoffset()
        offsets[i] = offset.total_seconds() if offset is not None else 0.0
    local: FloatArray = t + offsets[inverse.reshape(-1)]
    return local


def hour_of_week(local_s: FloatArray) -> IntArray:
    """Return each local time's hour of the week (Monday 00:00-01:00 = 0, Sunday 23 = 167)."""
    days = np.floor(local_s / 86_400.0).astype(np.int64)
    hours = np.floor((local_s - days * 86_400.0) / 3_600.0).astype(np.int64)
    result: IntArray = ((days + _EPOCH_WEEKDAY) % 7) * 24 + hours
    return result


def week_index(local_s: FloatArray) -> IntArray:
    """Return each local time's week number (Monday-to-Sunday weeks since 29 Dec 1969)."""
    days = np.floor(local_s / 86_400.0).astype(np.int64)
    result: IntArray = (days + _EPOCH_WEEKDAY) // 7
    return result


def hour_label(hour: int) -> str:
    """Return an hour of the week as `Mon 23:00`."""
    hour %= HOURS_PER_WEEK
    return f"{DAY_NAMES[hour // 24]} {hour % 24:02d}:00"


@dataclass(frozen=True)
class Window:
    """A contiguous span of hours of the week, in local time.

    Attributes:
        start: first hour of the week (0 = Monday 00:00).
        hours: its length in hours (it may run past Sunday into Monday).
    """

    start: int
    hours: int

    @property
    def cells(self) -> tuple[int, ...]:
        """Return the hours of the week the window covers."""
        return tuple((self.start + k) % HOURS_PER_WEEK for k in range(self.hours))

    @property
    def label(self) -> str:
        """Return the window as `Mon 23:00-Tue 01:00` (local time)."""
        end = hour_label(self.start + self.hours)
        return f"{hour_label(self.start)}-{end}"

    def as_dict(self) -> dict[str, object]:
        """Return {"start_hour_of_week", "hours", "label"}."""
        return {"start_hour_of_week": self.start, "hours": self.hours, "label": self.label}


def windows_of(cells: BoolArray) -> tuple[Window, ...]:
    """Return the contiguous spans of True cells of a 168-cell week, wrapping at its end."""
    if not cells.any():
        return ()
    if cells.all():
        return (Window(0, HOURS_PER_WEEK),)
    first_false = int(np.flatnonzero(~cells)[0])
    found: list[Window] = []
    start: int | None = None
    for k in range(1, HOURS_PER_WEEK + 1):
        hour = (first_false + k) % HOURS_PER_WEEK
        if cells[hour] and start is None:
            start = first_false + k
        elif not cells[hour] and start is not None:
            found.append(Window(start % HOURS_PER_WEEK, first_false + k - start))
            start = None
    return tuple(sorted(found, key=lambda w: w.start))
