"""Annual savings of a finding and the site they are figured for, each figure a range.

`Estimate` is a figure with its low and high bounds; `Savings` the IT and facility kWh,
kg CO2e and money a finding saves per year; `Site` the PUE, grid intensity and tariff
they are computed with. `analysis.savings` computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from profiler.model.carbon import HourlyIntensity, MarketInstruments


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
        pue_given: False when the PUE was defaulted (lowers confidence, section 7).
        grid_g_per_kwh: grid carbon intensity in g CO2e per kWh.
        grid_label: where the intensity comes from, one line.
        grid_defaulted: True when the world average stands in for an unknown site.
        price_per_kwh: tariff per kWh in the user's currency, None when not given.
        grid_gas: what the intensity counts, as its source states it: "CO2e" (all
            greenhouse gases as CO2 equivalents) or "CO2" (carbon dioxide only, e.g.
            China's official provincial factors).
        currency: the ISO 4217 code of the tariff's currency, shown beside every amount
            of money; None when not given (amounts then carry no code).
        hourly: the site's own grid intensity over time (`[defaults] carbon_hourly`),
            None without one: energy used at a time it covers takes its factor
            (`profiler.model.carbon.co2e_of_spans`), the rest `grid_g_per_kwh`.
        market: the site's contractual instruments (`[defaults] market_*`), None when
            none are declared: market-based CO2e is then not given, never guessed.
    """

    pue: float = 1.0
    pue_given: bool = False
    grid_g_per_kwh: float = 475.0
    grid_label: str = "codecarbon world average 475 g CO2e/kWh (site country unknown)"
    grid_defaulted: bool = True
    price_per_kwh: float | None = None
    grid_gas: str = "CO2e"
    currency: str | None = None
    hourly: HourlyIntensity | None = None
    market: MarketInstruments | None = None

    @property
    def defaulted(self) -> bool:
        """True when PUE or grid intensity was defaulted (section 7 lowers confidence)."""
        return not self.pue_given or self.grid_defaulted

    def assumptions(self) -> list[str]:
        """Return the assumption lines that apply to every savings figure."""
        pue = (
            f"PUE {self.pue:g} (given)"
            if self.pue_given
            else f"PUE {self.pue:g} (defaulted: facility energy = IT energy; pass --pue)"
        )
        price = (
            f"tariff {self.price_per_kwh:g}{f' {self.currency}' if self.currency else ''} per kWh "
            "(given; no currency conversion)"
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
            *self._market_lines(),
        ]

    def _market_lines(self) -> list[str]:
        """The market-based line, beside the location-based grid line, when declared."""
        if self.market is None:
            return []
        return [f"market-based Scope 2 beside it: {self.market.factor(self.grid_g_per_kwh)[1]}"]


@dataclass(frozen=True)
class Savings:
    """Annual savings: IT and facility energy (kWh), CO2e (kg) and money (None: no tariff)."""

    it_kwh_per_year: Estimate
    facility_kwh_per_year: Estimate
    co2e_kg_per_year: Estimate
    cost_per_year: Estimate | None
    gas: str = "CO2e"
    currency: str | None = None
    co2e_market_kg_per_year: Estimate | None = None
    market_source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of docs/design.md#findings `savings`.

        `co2e_kg_per_year` keeps its name for every grid source; `emissions_gas` says
        whether it counts CO2 equivalents ("CO2e") or CO2 alone ("CO2"); `currency` is
        the ISO 4217 code of `cost_per_year` (null when none was given).
        `co2e_market_kg_per_year` and `co2e_market_source` are the market-based figure
        beside it (location-based), null where the site declares no instruments.
        """
        return {
            "it_kwh_per_year": self.it_kwh_per_year.as_dict(),
            "facility_kwh_per_year": self.facility_kwh_per_year.as_dict(),
            "co2e_kg_per_year": self.co2e_kg_per_year.as_dict(),
            "emissions_gas": self.gas,
            "cost_per_year": self.cost_per_year.as_dict() if self.cost_per_year else None,
            "currency": self.currency,
            "co2e_market_kg_per_year": (
                None
                if self.co2e_market_kg_per_year is None
                else self.co2e_market_kg_per_year.as_dict()
            ),
            "co2e_market_source": self.market_source,
        }
