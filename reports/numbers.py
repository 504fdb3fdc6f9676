"""Numbers for people: SI prefixes, 3 significant digits, thousands separators.

Every figure a report shows goes through one of these functions, so "0.000097 kWh"
becomes "97.0 mWh" and "12345.6" becomes "12,300". They are pure and locale-free: the
same digits and separators in English and Chinese (Chinese finance reports use the
comma-grouped Western digits too); only the words around them are translated.
"""

from __future__ import annotations

import math

from profiler.model.units import J_PER_KWH

NA = "n/a"
"""What a missing figure shows as."""

_ENERGY_PREFIXES = ((1e3, "MWh"), (1.0, "kWh"), (1e-3, "Wh"), (1e-6, "mWh"))
"""(kWh per unit, unit) from large to small: the SI steps the energy figures use."""


def missing(value: float | None) -> bool:
    """Return True for None and NaN: the figures a report shows as "n/a"."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def sig(value: float | None, digits: int = 3) -> str:
    """Return `value` rounded to `digits` significant digits, thousands separated.

    Examples: 12345.6 -> "12,300"; 0.0123456 -> "0.0123"; 7.0 -> "7.00"; 0 -> "0".
    """
    if value is None or missing(value):
        return NA
    if value == 0:
        return "0"
    if isinstance(value, int) and abs(value) < 10**digits:
        return f"{value:,}"
    magnitude = math.floor(math.log10(abs(value)))
    rounded = round(value, digits - 1 - magnitude)
    # rounding can carry into the next decade (999.6 -> 1000): recompute the magnitude
    if rounded != 0:
        magnitude = math.floor(math.log10(abs(rounded)))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{rounded:,.{decimals}f}"


_MASS_PREFIXES = ((1e3, "t"), (1.0, "kg"), (1e-3, "g"))
"""(kg per unit, unit) from large to small, for CO2e masses."""

_POWER_PREFIXES = ((1e3, "kW"), (1.0, "W"))
"""(W per unit, unit) from large to small, for power."""


def _prefixed(value: float | None, steps: tuple[tuple[float, str], ...], zero: str) -> str:
    """Return `value` in the first of `steps` (large to small) it reaches, else the last."""
    if value is None or missing(value):
        return NA
    if value == 0:
        return zero
    scale, unit = next(((s, u) for s, u in steps if abs(value) >= s), steps[-1])
    # an int in the unit's own scale keeps its digits (sig(7) is "7", sig(7.0) "7.00")
    return f"{sig(value if scale == 1 else value / scale)} {unit}"


def energy_kwh(kwh: float | None) -> str:
    """Return an energy in kWh with the SI prefix that keeps 1-999 before it (mWh..MWh)."""
    return _prefixed(None if kwh is None else float(kwh), _ENERGY_PREFIXES, "0 Wh")


def energy_j(joules: float | None) -> str:
    """Return an energy given in joules as `energy_kwh` shows it."""
    return NA if joules is None or missing(joules) else energy_kwh(joules / J_PER_KWH)


def mass_kg(kg: float | None) -> str:
    """Return a CO2e mass with g, kg or t, 3 significant digits."""
    return _prefixed(kg, _MASS_PREFIXES, "0 kg")


def power_w(watts: float | None) -> str:
    """Return a power in W (kW from 1,000 W), 3 significant digits."""
    return _prefixed(watts, _POWER_PREFIXES, "0 W")


def money(amount: float | None) -> str:
    """Return an amount of money: 3 significant digits, never fewer than whole units."""
    if amount is None or missing(amount):
        return NA
    if abs(amount) >= 100:
        return f"{round(amount, -math.floor(math.log10(abs(amount))) + 2):,.0f}"
    return sig(amount)


def percent(share: float | None, decimals: int = 0) -> str:
    """Return a share (0..1) as a percentage, e.g. 0.253 -> "25 %"."""
    if share is None or missing(share):
        return NA
    return f"{share * 100:.{decimals}f} %"


def duration_parts(value: float | None, *, days: bool = False) -> tuple[str, str]:
    """Return a duration as (number, unit word).

    Seconds under 2 min, minutes under 2 h, else hours (with `days`: days from 2 days
    on); ("n/a", "") when missing.
    """
    if value is None or missing(value):
        return NA, ""
    if days and value >= 2 * 86_400:
        return sig(value / 86_400), "days"
    if value < 120:
        return sig(value), "s"
    if value < 7200:
        return sig(value / 60), "min"
    return sig(value / 3600), "h"


def seconds(value: float | None) -> str:
    """Return a duration with its unit, e.g. 900.0 -> "15.0 min"."""
    number, unit = duration_parts(value)
    return f"{number} {unit}".strip()


ABOVE_TARGET = "above target"
"""What an achieved load over 100 % shows as (a ladder level cannot exceed the peak)."""


def achieved_load(achieved: float | None) -> str:
    """Return an achieved load: a percentage up to 100 %, "above target" beyond it."""
    if achieved is None or missing(achieved):
        return NA
    if achieved > 1.0:
        return ABOVE_TARGET
    return percent(achieved)
