"""Time-zone names a setting gives: `zone` reads one, `host_zone_name` names this host's.

An entry's `tz` is an IANA name read by the standard library's zoneinfo (the `tzdata`
package supplies the database where the host has none).
"""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class UnknownZoneError(ValueError):
    """A time-zone name that zoneinfo does not know."""


@functools.cache
def zone(name: str) -> ZoneInfo:
    """Return the zone called `name` (IANA, e.g. `Europe/London`, `UTC`).

    Raises:
        UnknownZoneError: no such zone in the host's or tzdata's database.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: a name too long
        raise UnknownZoneError(
            f"{name!r} is not a known time zone: use an IANA name such as "
            '"Europe/London", "America/New_York" or "UTC"'
        ) from err


def host_zone_name() -> str:
    """Return the IANA name of this host's zone (`$TZ`, else /etc/localtime), else `UTC`."""
    import tzlocal

    try:
        tzlocal.reload_localzone()  # read now: tzlocal caches, and $TZ may have changed
        name = tzlocal.get_localzone_name()
    except (OSError, LookupError, ValueError):  # no or odd zone files: fall back to UTC
        return "UTC"
    if not name:
        return "UTC"
    try:
        zone(name)
    except UnknownZoneError:
        return "UTC"
    return name


def checked_zone_name(name: str | None) -> str | None:
    """Return `name` unchanged when it is None or a known zone (a pydantic validator's body).

    Raises:
        ValueError: not a zone, with `zone`'s one-line message (pydantic shows it as is).
    """
    if name is not None:
        try:
            zone(name)
        except UnknownZoneError as err:
            raise ValueError(str(err)) from err
    return name
