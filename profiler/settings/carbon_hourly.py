"""`[defaults] carbon_hourly = PATH`: the grid's intensity over time (docs/methodology.md#carbon).

A CSV with the header `timestamp,g_per_kwh,gas,source`, one line per hour or finer
(half-hourly national series such as Great Britain's are taken as they are): `timestamp`
ISO 8601 with `Z` or an offset (a local time without one is ambiguous at a DST change
and is refused), increasing; `g_per_kwh` >= 0; `gas` `CO2e` or `CO2`, the same on every
line; `source` where the figure comes from. Blank lines and `#` comments are skipped.
The file is read bounded (`CARBON_HOURLY_MAX_BYTES`); a bad line is one error naming the
file and the line (exit 2).
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from profiler.files.small_files import SmallFileError, read_small_text
from profiler.model.carbon import MAX_SPAN_S, HourlyIntensity
from profiler.model.units import parse_iso
from profiler.settings.site_error import SiteError

CARBON_HOURLY_COLUMNS = ("timestamp", "g_per_kwh", "gas", "source")
"""The header of a `carbon_hourly` CSV, in this order."""

CARBON_HOURLY_MAX_BYTES = 32 * 2**20
"""Five years of quarter-hourly lines fit (about 175,000 lines of under 100 bytes)."""

MAX_LINES = 400_000
"""More lines than that are refused: at one a quarter-hour, eleven years."""


def read_carbon_hourly(path: Path, name: str = "carbon_hourly") -> HourlyIntensity:
    """Return the series of a `carbon_hourly` CSV (`CARBON_HOURLY_COLUMNS`).

    Raises:
        SiteError: the file is unreadable or too large, has no data line, or a line is
            malformed, out of order or of another gas (one line naming the file and the
            line and what is allowed).
    """
    where = f"{name} {path}"
    lines = csv_lines(path, where, CARBON_HOURLY_MAX_BYTES, CARBON_HOURLY_COLUMNS)
    if len(lines) < 2:
        raise SiteError(f"{where}: no data line after the header; give one line per hour")
    if len(lines) > MAX_LINES + 1:
        raise SiteError(f"{where}: over {MAX_LINES:,} lines; give one year or a few at a time")
    rows = [_row(line, f"{where}: line {number}") for number, line in lines[1:]]
    gas = rows[0][2]
    starts: list[float] = []
    for (number, _), (when, _, row_gas, _) in zip(lines[1:], rows, strict=True):
        at = f"{where}: line {number}"
        if row_gas != gas:
            raise SiteError(f"{at}: gas {row_gas} but line {lines[1][0]} says {gas}; use one gas")
        if starts and when <= starts[-1]:
            raise SiteError(f"{at}: timestamp not after the line before; sort the file by time")
        starts.append(when)
    ends = [min(b, a + MAX_SPAN_S) for a, b in pairwise(starts)]
    last_step = min(MAX_SPAN_S, starts[-1] - starts[-2]) if len(starts) > 1 else MAX_SPAN_S
    ends.append(starts[-1] + last_step)
    return HourlyIntensity(
        starts=tuple(starts),
        ends=tuple(ends),
        g_per_kwh=tuple(r[1] for r in rows),
        gas=gas,
        sources=tuple(dict.fromkeys(r[3] for r in rows)),
        path=str(path),
    )


def _row(line: str, where: str) -> tuple[float, float, str, str]:
    """Return one line's (epoch s, g/kWh, gas, source), or raise naming what is wrong."""
    try:  # one line at a time: a stray quote must not swallow the next lines
        row = next(csv.reader([line], strict=True))
    except csv.Error as err:
        raise SiteError(f"{where}: not CSV ({err})") from err
    if len(row) != len(CARBON_HOURLY_COLUMNS):
        raise SiteError(
            f"{where}: {len(row)} fields, expected {len(CARBON_HOURLY_COLUMNS)} "
            f"({','.join(CARBON_HOURLY_COLUMNS)})"
        )
    stamp, grams_text, gas, source = (field.strip() for field in row)
    try:
        when = parse_iso(stamp)
    except ValueError:
        raise SiteError(
            f"{where}: timestamp {stamp!r} is not ISO 8601 (e.g. 2024-01-31T18:00Z)"
        ) from None
    if not _has_offset(stamp):
        raise SiteError(
            f"{where}: timestamp {stamp!r} has no Z or offset; local times are ambiguous "
            "at a DST change: write 2024-01-31T18:00Z or 2024-01-31T18:00+00:00"
        )
    grams = grid_grams(where, grams_text, gas)
    if not source:
        raise SiteError(f"{where}: source is empty; say where the figure comes from")
    return when.timestamp(), grams, gas, source


def _has_offset(stamp: str) -> bool:
    """True when an ISO 8601 text names its offset (`Z`, `+01:00`, `-0500`)."""
    text = stamp.strip()
    if text[-1:] in ("Z", "z"):
        return True
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def csv_lines(
    path: Path, where: str, max_bytes: int, columns: tuple[str, ...]
) -> list[tuple[int, str]]:
    """Return a site CSV's (line number, line) pairs, header first, blanks and `#` left out.

    Raises:
        SiteError: the file is unreadable or larger than `max_bytes`, or its first line
            is not the header `columns` (one line naming `where`).
    """
    try:  # a FIFO or a huge file must not hang finwatt (docs/decisions.md#hostile-input)
        text = read_small_text(path, max_bytes=max_bytes)
    except SmallFileError as err:
        raise SiteError(f"{where}: cannot read it ({err}); give a UTF-8 CSV file") from err
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines or [c.strip().lower() for c in lines[0][1].split(",")] != list(columns):
        raise SiteError(f"{where}: the first line must be the header {','.join(columns)}")
    return lines


def grid_grams(where: str, grams_text: str, gas: str) -> float:
    """Return a site CSV line's g per kWh, checked with its gas.

    Raises:
        SiteError: the figure is not a finite number >= 0, or the gas is not CO2 or
            CO2e (one line naming `where`).
    """
    try:
        grams = float(grams_text)
    except ValueError:
        grams = math.nan
    if not (math.isfinite(grams) and grams >= 0):
        raise SiteError(f"{where}: g_per_kwh must be a number >= 0, got {grams_text!r}")
    if gas not in ("CO2", "CO2e"):
        raise SiteError(f"{where}: gas must be CO2 or CO2e (what the source counts), got {gas!r}")
    return grams
