"""The one duration parser of finwatt: options, config keys and `--since` alike.

Accepted forms: a bare number of seconds (`90`, `0.5`), one number and unit (`90s`,
`15m`, `2h`, `7d`, `1w`, `250ms`), or several in descending order of unit, as
Prometheus and systemd write them (`1h30m`, `2d12h`, `1w2d`, `1m30s`). Units: `w`
(7 days), `d`, `h`, `m` (minutes), `s`, `ms`. Every duration is at most
`MAX_DURATION_S` (100 years): longer ones are typing slips, and past it timestamps and
timer waits overflow (`--duration 200000d`, `--since 99999999999d`). `check_interval`
holds a sampling interval to `MIN_INTERVAL_S`..`MAX_INTERVAL_S`.
"""

from __future__ import annotations

import math
import re

UNITS_S = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
"""Seconds per unit, largest first (the order compound durations must follow)."""

MAX_DURATION_S = 36500 * 86400.0
"""The longest duration any option or setting takes: 100 years (36500d)."""

MIN_INTERVAL_S = 0.05
"""The shortest sampling interval (50 ms): below it a tick costs more than it measures."""

MAX_INTERVAL_S = 60.0
"""The longest sampling interval: one reading a minute, the rollup's own grain."""

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_BARE = re.compile(r"\d+(?:\.\d+)?")
_FORMS = "e.g. 90s, 15m, 1h30m, 2d12h, 1w"


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Return the number of seconds `text` names; a bare number means seconds.

    Args:
        text: the duration as written (surrounding spaces are ignored).
        allow_zero: accept a zero duration (`0`, `0s`), e.g. for a grace period.

    Raises:
        ValueError: `text` is not a duration (the message shows the accepted forms), or
            it is longer than `MAX_DURATION_S`.

    """
    compact = text.strip()
    value = float(compact) if _BARE.fullmatch(compact) else _compound_s(text, compact)
    if value > MAX_DURATION_S:  # infinity too: a bare number of 309 digits
        raise ValueError(f"{_shown(text)} is longer than 100 years; use at most 36500d ({_FORMS})")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{_shown(text)} is not a positive duration ({_FORMS})")
    return value


def _shown(text: str) -> str:
    """Return `text` quoted for a message, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _compound_s(text: str, compact: str) -> float:
    """Return the seconds of `1h30m`-style text: units descending, each at most once."""
    order = list(UNITS_S)
    position, last_rank, total_s = 0, -1, 0.0
    for match in _PART.finditer(compact):
        rank = order.index(match.group(2))
        if match.start() != position or rank <= last_rank:
            break
        total_s += float(match.group(1)) * UNITS_S[match.group(2)]
        position, last_rank = match.end(), rank
    if not compact or position != len(compact):
        raise ValueError(
            f"{_shown(text)} is not a duration: use numbers with units, largest first ({_FORMS})"
        )
    return total_s


def check_interval(interval_s: float) -> float:
    """Return `interval_s` if within 0.05..60 s, else raise ValueError saying so."""
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise ValueError(
            f"interval {interval_s:g}s is out of range: use {MIN_INTERVAL_S:g}s to "
            f"{MAX_INTERVAL_S:g}s"
        )
    return interval_s
