"""The bounds a `[[schedule]]` entry's values must keep, so that no entry can stop the daemon.

docs/decisions.md#hostile-input: `cron = "0 0 30 2 *"` (never fires) was accepted and
crashed `schedule list` and the daemon at start; `every = 1e-9` and `every = inf` crashed
it; a report template `{name:>99999999}` wrote 500 MB per fire. Each check here returns the
value or raises `ValueError` with a one-line reason (pydantic turns it into the file, entry
and key):

- `check_bounds`: the duration keys within `BOUNDS_S` (finite, at least, at most);
- `check_cron`: a 5-field expression that fires at least once in every year;
- `check_report_template`: only the documented fields, a text format of bounded width,
  and a bounded length before and after filling.
"""

from __future__ import annotations

import math
import re
import string
from datetime import datetime, timedelta

REPORT_FIELDS = ("name", "date", "time", "run")
DAY_S = 86400.0
BOUNDS_S: dict[str, tuple[float, float]] = {
    "every": (1.0, 366 * DAY_S),
    "duration": (0.1, 366 * DAY_S),
    "phase_seconds": (1.0, DAY_S),
    "grace_period": (0.0, 366 * DAY_S),
}
"""The least and the most seconds each duration key takes (`every = 1e-9` and
`every = inf` crashed the daemon). A period or a monitor longer than a leap year, or a
load level longer than a day, is a typing slip; `interval` keeps the sampler's bounds."""

CRON_CHECK_YEARS = range(2025, 2053)
"""Years in which a cron must fire at least once: 28 years, the cycle after which the
calendar's weekdays and leap years repeat, so `0 0 * 3 mon#5` (not in 2028) and
`0 0 29 2 *` (leap years only) are found, whatever today's date."""

REPORT_TEMPLATE_MAX = 1024
"""Most characters of a `report` template."""
REPORT_PATH_MAX = 4096
"""Most characters of a report path once filled (Linux's PATH_MAX)."""
REPORT_FIELD_WIDTH_MAX = 255
"""Largest width or precision of a template field (`{name:>20}`): a file name's limit."""
_LONGEST_FIELDS = {"name": "n" * 64, "date": "2026-12-31", "time": "235959", "run": "r" * 64}
"""The longest value of each field, to bound a template's output before it is used."""
_STRING_SPEC = re.compile(r"^(?:.?[<>^])?(\d*)(?:\.(\d+))?s?$")
"""A format spec that applies to text: fill and align, width, precision, type `s`."""


def check_cron(expression: str) -> str:
    """Return a valid 5-field cron expression with single spaces, else raise ValueError.

    It must fire at least once in every year (`CRON_CHECK_YEARS`): `0 0 30 2 *` never
    does, `0 0 29 2 *` only in leap years.
    """
    from croniter import croniter  # type: ignore[import-untyped]  # no stubs shipped

    fields = expression.split()
    try:
        valid = len(fields) == 5 and croniter.is_valid(expression)
    except (ValueError, TypeError, OverflowError, RecursionError):
        valid = False
    if not valid:
        raise ValueError(
            f"{expression!r} is not a valid 5-field cron expression "
            '(minute hour day-of-month month day-of-week, e.g. "30 18 * * 1-5")'
        )
    text = " ".join(fields)
    missing = [year for year in CRON_CHECK_YEARS if _first_fire_year(text, year) != year]
    if len(missing) == len(CRON_CHECK_YEARS):
        raise ValueError(f"{text!r} never fires (no such date); check the day of month and month")
    if missing:
        raise ValueError(
            f"{text!r} does not fire every year (not in {missing[0]}): a schedule must fire "
            "at least once a year; check the day of month, month and day of week"
        )
    return text


def _first_fire_year(expression: str, year: int) -> int | None:
    """Return the year of the cron's first fire time from 1 January of `year`, or None."""
    from croniter import croniter
    from croniter.croniter import CroniterError  # type: ignore[import-untyped]

    start = datetime(year, 1, 1) - timedelta(seconds=1)
    try:
        fire = croniter(expression, start, max_years_between_matches=1).get_next(datetime)
    except (CroniterError, ValueError, OverflowError):
        return None
    return fire.year if isinstance(fire, datetime) else None


def check_report_template(template: str) -> str:
    """Return a report path template using only {name}, {date}, {time} and {run}.

    Fields may carry a text format (`{name:>20}`, `{run:.8}`) whose width and precision
    are at most `REPORT_FIELD_WIDTH_MAX`; no conversions (`!r`) or nested fields. The
    template is at most `REPORT_TEMPLATE_MAX` characters, its output at most
    `REPORT_PATH_MAX` (docs/decisions.md#hostile-input: `{name:>99999999}` wrote 500 MB per fire).
    """
    if not template.strip():
        raise ValueError('must be a path such as "reports/{name}-{date}.html"')
    if len(template) > REPORT_TEMPLATE_MAX:
        raise ValueError(f"is {len(template)} characters long; at most {REPORT_TEMPLATE_MAX}")
    if "\x00" in template:
        raise ValueError("holds a NUL character, which no path may")
    try:
        parts = [p for p in string.Formatter().parse(template) if p[1] is not None]
    except ValueError as err:
        raise ValueError(f"{template!r} is not a valid template: {err}") from err
    allowed = ", ".join(f"{{{f}}}" for f in REPORT_FIELDS)
    for _, field, spec, conversion in parts:
        if field not in REPORT_FIELDS:
            raise ValueError(f"uses {{{field}}}; allowed: {allowed}")
        if conversion is not None:
            raise ValueError(
                f"{{{field}!{conversion}}}: conversions are not allowed; use {{{field}}}"
            )
        _check_field_spec(field, spec or "")
    filled = template.format(**_LONGEST_FIELDS)
    if len(filled) > REPORT_PATH_MAX:
        raise ValueError(f"can make a path of {len(filled)} characters; at most {REPORT_PATH_MAX}")
    return template


def _check_field_spec(field: str, spec: str) -> None:
    """Refuse a field format other than text alignment, width and precision, or too wide."""
    match = _STRING_SPEC.match(spec)
    if match is None:
        raise ValueError(
            f"{{{field}:{spec}}}: only a text format is allowed (e.g. {{{field}:>20}} "
            f"or {{{field}:.8}})"
        )
    for number in match.groups():
        if number and int(number) > REPORT_FIELD_WIDTH_MAX:
            raise ValueError(
                f"{{{field}:{spec}}}: width and precision are at most {REPORT_FIELD_WIDTH_MAX}"
            )


def check_bounds(key: str, seconds: float | None) -> float | None:
    """Return `seconds` if within `BOUNDS_S[key]`, else raise ValueError naming the bounds."""
    if seconds is None:
        return None
    low, high = BOUNDS_S[key]
    if not math.isfinite(seconds) or not low <= seconds <= high:
        raise ValueError(
            f"{seconds:g} s is out of range: use {_span(low)} to {_span(high)}"
            f" (e.g. {'15m' if key == 'every' else '1h'})"
        )
    return seconds


def _span(seconds: float) -> str:
    if seconds == 0:
        return "0"
    return f"{seconds / DAY_S:g}d" if seconds >= DAY_S else f"{seconds:g}s"
