"""Exact unit constants and the one ISO-8601 UTC helper pair (docs/style.md#units-in-names).

Stored and printed times are ISO 8601 in UTC with a `Z` suffix
(`2026-11-29T19:30:00Z`); `parse_iso` also takes `+00:00` and other offsets and returns
an aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

J_PER_KWH = 3_600_000.0
"""Exact: 1 kWh = 3.6 MJ (docs/style.md#units-in-names: no rounded conversion constants)."""

MINUTE_S = 60.0
HOUR_S = 3_600.0
DAY_S = 86_400.0
HOURS_PER_YEAR = 8_760.0
"""Annualise means, not peaks: E_yr = mean power x 8,760 h (docs/methodology.md#savings)."""

GIB = 2**30
"""Bytes in a GiB."""

TimeSpec = Literal["seconds", "milliseconds", "microseconds", "stored"]


def parse_iso(text: str) -> datetime:
    """Return the aware UTC datetime an ISO-8601 string names (`Z` or an offset).

    A string without an offset is taken as UTC.

    Raises:
        ValueError: `text` is not an ISO-8601 time.

    """
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso_z(when: datetime, timespec: TimeSpec = "seconds") -> str:
    """Return `when` as ISO 8601 in UTC with a `Z` suffix (naive times are taken as UTC).

    `timespec="stored"` is the form run times are stored in: milliseconds, or
    microseconds when the time has them, so nothing is rounded away.
    """
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if timespec == "stored":
        timespec = "milliseconds" if aware.microsecond % 1000 == 0 else "microseconds"
    return aware.isoformat(timespec=timespec).replace("+00:00", "Z")


def epoch_s(text: str) -> float:
    """Return the POSIX seconds of an ISO-8601 time."""
    return parse_iso(text).timestamp()


def epoch_to_iso(epoch: float, timespec: TimeSpec = "seconds") -> str:
    """Return POSIX seconds as ISO 8601 UTC with a `Z` suffix."""
    return iso_z(datetime.fromtimestamp(epoch, UTC), timespec)
