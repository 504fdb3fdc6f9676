"""Parse the CLI's durations: `90s`, `15m`, `2h`, `7d`, `0.5s`, `250ms`."""

from __future__ import annotations

import re

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str) -> float:
    """Return the number of seconds `text` names; a bare number means seconds.

    Raises:
        ValueError: `text` is not a duration (the message shows the accepted forms).

    """
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 90s, 15m, 2h, 7d"
        )
    value = float(match.group(1)) * _UNITS_S[match.group(2) or "s"]
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return value
