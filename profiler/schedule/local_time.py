"""Cron fire times in a local time zone, across daylight-saving changes.

A cron expression names wall-clock times (`30 18 * * 1-5`: 18:30 on weekdays) in the
entry's zone (`tz`, an IANA name read by the standard library's zoneinfo; the `tzdata`
package supplies the database where the host has none). croniter walks the wall-clock
times as naive datetimes; each is then placed on the UTC time line here, so the rules
for the two days a year a zone changes offset are ours and tested:

- a wall time that does not exist (the hour skipped in spring) fires once, at the
  instant the clocks jump (02:00 BST for a 01:30 Europe/London entry on 29 March 2026);
  several skipped times collapse into that one fire;
- a wall time that happens twice (the hour repeated in autumn) fires once, at its first
  occurrence (01:30 BST, not again at 01:30 GMT on 25 October 2026).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from profiler.settings.time_zones import zone

_RESOLUTION = timedelta(seconds=1)


def wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """Place the naive wall-clock time `wall` of zone `tz` on the UTC time line.

    A repeated wall time maps to its first occurrence; a skipped one to the instant the
    clocks jump over it.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # `wall` falls in a gap: fold=0 reads it with the offset before the jump (an instant
    # after the jump), fold=1 with the offset after it (an instant before). Bisect to the
    # jump: the first instant whose wall time is later than `wall`.
    low, high = wall.replace(tzinfo=tz, fold=1).astimezone(UTC), first
    if low > high:
        low, high = high, low
    while high - low > _RESOLUTION:
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def cron_times(expression: str, tz_name: str, after: datetime) -> Iterator[datetime]:
    """Yield the fire times of `expression` in zone `tz_name` strictly after `after`.

    Times are aware UTC datetimes, increasing, each once (endless).
    """
    from croniter import croniter  # type: ignore[import-untyped]  # no stubs shipped

    tz = zone(tz_name)
    after = after.astimezone(UTC)
    # every wall time later than `after`'s maps to an instant >= `after`; those that map
    # to `after` or earlier (the second pass of a repeated hour) are dropped below
    walls = croniter(expression, after.astimezone(tz).replace(tzinfo=None))
    last = after
    while True:
        moment = wall_to_utc(walls.get_next(datetime), tz)
        if moment > last:
            last = moment
            yield moment
