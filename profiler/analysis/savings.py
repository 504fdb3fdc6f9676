"""Annual savings of a finding: IT and facility kWh, kg CO2e and money, each a range.

docs/methodology.md#savings: annualise means, not peaks (E_yr = mean power x 8,760 h);
facility energy = IT energy x PUE (1.0 when not given, and say so); CO2e = facility kWh x
the site's grid intensity; money = facility kWh x tariff (no currency conversion, null
when no tariff is given). Every figure is {point, low, high}: low and high come from
re-running with the low and high coefficients where a range exists (equal to the point
where none does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from profiler.analysis.curve import PowerCurve
from profiler.model.units import HOURS_PER_YEAR


@dataclass(frozen=True)
class Estimate:
    """A figure with its low and high bounds, in the unit its name gives."""

    point: float
    low: float
    high: float

    def scaled(self, factor: float) -> Estimate:
        """Return the estimate multiplied by a non-negative `factor`."""
        return Estimate(self.point * factor, self.low * factor, self.high * factor)

    def as_dict(self) -> dict[str, float]:
        """Return {"point", "low", "high"}."""
        return {"point": self.point, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Site:
    """Where the energy is used: PUE, grid carbon intensity and tariff.

    Attributes:
        pue: power usage effectiveness (>= 1 in practice; 1.0 when not given).
        pue_given: False when the PUE was defaulted (lowers confidence: docs/methodology.md).
        grid_g_per_kwh: grid carbon intensity in g CO2e per kWh.
        grid_label: where the intensity comes from, one line.
        grid_defaulted: True when the world average stands in for an unknown site.
        price_per_kwh: tariff per kWh in the user's currency, None when not given.
        grid_gas: what the intensity counts, as its source states it: "CO2e" (all
            greenhouse gases as CO2 equivalents) or "CO2" (carbon dioxide only, e.g.
            China's official provincial factors).
    """

    pue: float = 1.0
    pue_given: bool = False
    grid_g_per_kwh: float = 475.0
    grid_label: str = "codecarbon world average 475 g CO2e/kWh (site country unknown)"
    grid_defaulted: bool = True
    price_per_kwh: float | None = None
    grid_gas: str = "CO2e"

    @property
    def defaulted(self) -> bool:
        """True when PUE or grid intensity was defaulted (docs/methodology.md#confidence)."""
        return not self.pue_given or self.grid_defaulted

    def assumptions(self) -> list[str]:
        """Return the assumption lines that apply to every savings figure."""
        pue = (
            f"PUE {self.pue:g} (given)"
            if self.pue_given
            else f"PUE {self.pue:g} (defaulted: facility energy = IT energy; pass --pue)"
        )
        price = (
            f"tariff {self.price_per_kwh:g} per kWh (given; no currency conversion)"
            if self.price_per_kwh is not None
            else "no tariff given: cost not computed (pass --price-per-kwh)"
        )
        return [
            "annualised from mean power x 8,760 h/yr",
            pue,
            f"grid {self.grid_g_per_kwh:g} g {self.grid_gas}/kWh: {self.grid_label}"
            + (
                " (CO2 only, as the source publishes it: not CO2e; emissions figures "
                "count CO2 alone)"
                if self.grid_gas == "CO2"
                else ""
            ),
            price,
        ]


@dataclass(frozen=True)
class Savings:
    """Annual savings: IT and facility energy (kWh), CO2e (kg) and money (None: no tariff)."""

    it_kwh_per_year: Estimate
    facility_kwh_per_year: Estimate
    co2e_kg_per_year: Estimate
    cost_per_year: Estimate | None
    gas: str = "CO2e"

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of docs/design.md#findings `savings`.

        `co2e_kg_per_year` keeps its name for every grid source; `emissions_gas` says
        whether it counts CO2 equivalents ("CO2e") or CO2 alone ("CO2").
        """
        return {
            "it_kwh_per_year": self.it_kwh_per_year.as_dict(),
            "facility_kwh_per_year": self.facility_kwh_per_year.as_dict(),
            "co2e_kg_per_year": self.co2e_kg_per_year.as_dict(),
            "emissions_gas": self.gas,
            "cost_per_year": self.cost_per_year.as_dict() if self.cost_per_year else None,
        }


def annual_kwh(power_w: float) -> float:
    """Return the kWh per year of a mean power in watts (x 8,760 h)."""
    return power_w * HOURS_PER_YEAR / 1000.0


def savings_from_power(power_w: Estimate, site: Site) -> Savings:
    """Return the annual savings of no longer drawing `power_w` (mean IT watts)."""
    it = Estimate(
        annual_kwh(max(0.0, power_w.point)),
        annual_kwh(max(0.0, power_w.low)),
        annual_kwh(max(0.0, power_w.high)),
    )
    facility = it.scaled(site.pue)
    return Savings(
        it_kwh_per_year=it,
        facility_kwh_per_year=facility,
        co2e_kg_per_year=facility.scaled(site.grid_g_per_kwh / 1000.0),
        cost_per_year=(
            facility.scaled(site.price_per_kwh) if site.price_per_kwh is not None else None
        ),
        gas=site.grid_gas,
    )


DRAM_PROVENANCE = "estimated:dram-per-gb"
"""Provenance of memory savings: installed-memory power from published per-GB figures."""

DRAM_W_PER_GB = Estimate(point=0.392, low=0.3725, high=0.625)
"""Power of installed DRAM in watts per GB (docs/analyzer.md, "Memory savings").

point: Cloud Carbon Footprint's memory coefficient, 0.000392 kWh per GB-hour
(`MEMORY_COEFFICIENT` in cloud-carbon-footprint's provider constants); low: Green
Algorithms' `memoryPower` 0.3725 W/GB (green-algorithms-tool data/v2.2/referenceValues.csv);
high: CodeCarbon's 5 W per x86 DIMM (`RAM_SLOT_POWER_X86`, codecarbon/external/ram.py)
over 8 GB DIMMs (0.625 W/GB; the module size is finwatt's assumption: CodeCarbon's own
heuristic takes 16 GB as 2 x 8 GB). A GB here is the GiB module capacities are sold in.
"""


def dram_saving_w(freed_gib: float) -> Estimate:
    """Return the watts no longer drawn by `freed_gib` GiB of removed DRAM (point, low, high)."""
    return DRAM_W_PER_GB.scaled(max(0.0, freed_gib))


def consolidated_hosts(n_hosts: int, p95_util: float, target: float, min_hosts: int = 1) -> int:
    """Return M = max(min_hosts, ceil(N x P95_u / target)) (docs/methodology.md#savings)."""
    return max(min_hosts, math.ceil(n_hosts * p95_util / target - 1e-9))


def consolidation_saving_w(
    curve: PowerCurve, n_hosts: float, m_hosts: float, mean_util: float
) -> float:
    """Return N.P(u) - M.P(N.u/M) in watts: the power saved moving N hosts' work onto M.

    M may be fractional: right-sizing one host from C to R cores is N = 1, M = R / C.
    """
    if m_hosts <= 0:
        raise ValueError("cannot consolidate onto no hosts")
    before = n_hosts * curve.power_at(mean_util)
    after = m_hosts * curve.power_at(min(1.0, n_hosts * mean_util / m_hosts))
    return max(0.0, before - after)
