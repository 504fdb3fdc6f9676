"""Yearly energy at an observed rate, annualised from the time that has data.

docs/methodology.md#savings: annualise means, not peaks (E_yr = mean power x 8,760 h).
The mean is energy over the seconds that have energy data (the covered seconds), never
over the length of the window or run those seconds sit in: a host that draws 7 W
whenever it is measured states 61.3 kWh/yr whether its 25 minutes of data sit in a
1-hour window or a 30-day one. With less than `MIN_COVERED_S` of data there is no
yearly figure, only how much data there is.

`annual_kwh` is the one annualisation every yearly figure goes through: the findings'
savings, the analyzer's and the reports' headline, the fleet and demand rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from profiler.model.findings import Tier
from profiler.model.units import HOURS_PER_YEAR

MIN_COVERED_S = 600.0
"""Ten minutes of energy data: less gives no yearly figure (page one says so instead)."""


def annual_kwh(power_w: float) -> float:
    """Return the kWh per year of a mean power in watts (x 8,760 h)."""
    return power_w * HOURS_PER_YEAR / 1000.0


@dataclass(frozen=True)
class Annual:
    """A yearly IT energy and the data it rests on.

    Attributes:
        energy_j: the energy the covered seconds hold (every counted device).
        covered_s: seconds with energy data (the longest of the counted devices').
        span_s: the length of the window or run the data sit in.
        it_kwh_per_year: the sum over devices of each one's energy over its own covered
            seconds x 8,760 h; None with less than `MIN_COVERED_S` of data.
        confidence: "high", "medium" or "low" (docs/methodology.md#confidence).
        estimated: True when any counted device's energy comes from a power model.
    """

    energy_j: float
    covered_s: float
    span_s: float
    it_kwh_per_year: float | None
    confidence: Tier = "low"
    estimated: bool = False

    @property
    def enough(self) -> bool:
        """True when the covered time gives a yearly figure."""
        return self.it_kwh_per_year is not None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of `analyze --json` `metrics.annual`."""
        return {
            "it_kwh_per_year": self.it_kwh_per_year,
            "energy_j": self.energy_j,
            "covered_s": self.covered_s,
            "span_s": self.span_s,
            "min_covered_s": MIN_COVERED_S,
            "confidence": self.confidence,
            "estimated": self.estimated,
        }


def rate_kwh_per_year(parts: Iterable[tuple[float, float]]) -> float | None:
    """Return the kWh/yr of devices given as (energy J, covered seconds) each, at any length.

    Each device's energy over its own covered seconds, x 8,760 h, added up; None when no
    device has covered time. `annualised` is the figure with its minimum of data.
    """
    rates = [annual_kwh(e / s) for e, s in parts if s > 0]
    return sum(rates) if rates else None


def annualised(
    parts: Iterable[tuple[float, float]], span_s: float, confidence: Tier = "low"
) -> Annual | None:
    """Return the yearly figure of devices given as (energy J, covered seconds) each.

    Each device is annualised over its own covered seconds and the rates are added;
    None when no device has covered time.
    """
    known = [(e, s) for e, s in parts if s > 0]
    if not known:
        return None
    covered = max(s for _, s in known)
    enough = covered >= MIN_COVERED_S - 1e-9
    return Annual(
        energy_j=sum(e for e, _ in known),
        covered_s=covered,
        span_s=max(span_s, covered),
        it_kwh_per_year=rate_kwh_per_year(known) if enough else None,
        confidence=confidence,
    )
