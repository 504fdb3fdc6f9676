"""Time-resolved grid intensity and the CO2e of energy used over time (docs/methodology.md#carbon).

`HourlyIntensity` is a site's own series of grid intensities (`[defaults] carbon_hourly`,
read by `profiler.settings.carbon_hourly`): one span per line of the file, each from its
timestamp to the next line's or one hour on, whichever is sooner. Energy is matched to
the spans it was used in; time no span covers falls back to the site's annual factor,
and the figure says how much of it did (`Co2eFigure`).

`co2e_of_spans` is the one computation: each (start, end, joules) span is spread evenly
over its seconds (its mean power), cut at the intensity spans' edges, and each piece's
facility kWh is multiplied by the factor of its time. Pure: no clock, no files.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from profiler.model.units import J_PER_KWH

MAX_SPAN_S = 3600.0
"""A line of an hourly file covers at most an hour: the file gives one line per hour or finer."""

Basis = Literal["annual", "hourly", "hourly+annual"]
"""Which factor a CO2e figure used: the site's annual one, the hourly file, or both (gaps)."""


@dataclass(frozen=True)
class HourlyIntensity:
    """A site's grid intensity over time, one span per line of its file.

    Attributes:
        starts: each span's start, epoch seconds, increasing.
        ends: each span's end, epoch seconds (next start or start + 1 h, the sooner).
        g_per_kwh: each span's intensity, g per kWh.
        gas: what the figures count, `CO2e` or `CO2` (one gas for the whole file).
        sources: the distinct `source` texts of the file, in file order.
        path: the file, as the user named it (resolved against the config file).
    """

    starts: tuple[float, ...]
    ends: tuple[float, ...]
    g_per_kwh: tuple[float, ...]
    gas: str
    sources: tuple[str, ...]
    path: str

    @property
    def label(self) -> str:
        """One line naming the file, its sources and the time it covers."""
        from profiler.model.units import epoch_to_iso

        first, last = epoch_to_iso(self.starts[0]), epoch_to_iso(self.ends[-1])
        return (
            f"hourly file {self.path} ({'; '.join(self.sources)}), {len(self.starts)} lines "
            f"from {first} to {last}"
        )

    def pieces(self, start_s: float, end_s: float) -> list[tuple[float, float, float | None]]:
        """Return [start, end) cut at the spans' edges as (start, end, g/kWh or None: gap)."""
        out: list[tuple[float, float, float | None]] = []
        t = start_s
        i = max(0, bisect.bisect_right(self.starts, t) - 1)
        while t < end_s:
            if i >= len(self.starts) or t < self.starts[i]:
                nxt = self.starts[i] if i < len(self.starts) else end_s
                stop = min(end_s, nxt)
                out.append((t, stop, None))
            elif t >= self.ends[i]:
                i += 1
                continue
            else:
                stop = min(end_s, self.ends[i])
                out.append((t, stop, self.g_per_kwh[i]))
                i += 1
            t = stop
        return out


class SiteFactors(Protocol):
    """What a CO2e figure needs of a site (`profiler.model.savings.Site` has it)."""

    @property
    def pue(self) -> float:
        """Facility / IT energy."""
        ...

    @property
    def grid_g_per_kwh(self) -> float:
        """The annual grid factor, g per kWh."""
        ...

    @property
    def grid_gas(self) -> str:
        """What the annual factor counts, `CO2e` or `CO2`."""
        ...

    @property
    def grid_label(self) -> str:
        """Where the annual factor comes from."""
        ...

    @property
    def hourly(self) -> HourlyIntensity | None:
        """The site's grid intensity over time, if given."""
        ...

    @property
    def market(self) -> MarketInstruments | None:
        """The site's contractual instruments for market-based Scope 2, if declared."""
        ...


@dataclass(frozen=True)
class Co2eFigure:
    """A CO2e figure with the factor it used and where that factor comes from.

    Attributes:
        grams: the mass, in grams of `gas`.
        gas: `CO2e` or `CO2`, as the factor's source counts it.
        basis: `annual`, `hourly` or `hourly+annual` (some time outside the file).
        source: one line: the annual factor's label, the hourly file's, or both.
        annual_share: the share of the facility energy that fell back to the annual factor.
    """

    grams: float
    gas: str
    basis: Basis
    source: str
    annual_share: float

    def as_dict(self) -> dict[str, object]:
        """Return the JSON labels beside a `co2e_g` figure (docs/design.md#carbon)."""
        return {
            "co2e_basis": self.basis,
            "co2e_source": self.source,
            "co2e_annual_share": self.annual_share,
        }


def co2e_of_spans(site: SiteFactors, spans: Iterable[tuple[float, float, float]]) -> Co2eFigure:
    """Return the location-based CO2e of IT energy used over time at `site`.

    Args:
        site: PUE, the annual factor and, where given, the hourly series.
        spans: (start epoch s, end epoch s, IT joules) each; the joules are spread
            evenly over the span (a zero-length span is taken at its start).
    """
    hourly = site.hourly
    grams = annual_kwh = total_kwh = 0.0
    for start_s, end_s, joules in spans:
        kwh = joules / J_PER_KWH * site.pue
        total_kwh += kwh
        if hourly is None:
            annual_kwh += kwh
            continue
        if end_s <= start_s:
            pieces = hourly.pieces(start_s, start_s + 1e-6)
            shares = [(pieces[0][2], 1.0)]
        else:
            shares = [(g, (b - a) / (end_s - start_s)) for a, b, g in hourly.pieces(start_s, end_s)]
        for g, share in shares:
            if g is None:
                annual_kwh += kwh * share
            else:
                grams += kwh * share * g
    grams += annual_kwh * site.grid_g_per_kwh
    annual_share = annual_kwh / total_kwh if total_kwh > 0 else (1.0 if hourly is None else 0.0)
    return _figure(site, grams, annual_share)


def _figure(site: SiteFactors, grams: float, annual_share: float) -> Co2eFigure:
    hourly = site.hourly
    annual = f"annual {site.grid_g_per_kwh:g} g {site.grid_gas}/kWh: {site.grid_label}"
    if hourly is None:
        return Co2eFigure(grams, site.grid_gas, "annual", annual, 1.0)
    if annual_share <= 0.0:
        return Co2eFigure(grams, hourly.gas, "hourly", hourly.label, 0.0)
    if annual_share >= 1.0:
        source = f"{annual} (the {hourly.label} does not cover this time)"
        return Co2eFigure(grams, site.grid_gas, "annual", source, 1.0)
    source = (
        f"{hourly.label}; {annual_share:.1%} of the energy fell outside it and used the {annual}"
    )
    return Co2eFigure(grams, hourly.gas, "hourly+annual", source, annual_share)


@dataclass(frozen=True)
class MarketInstruments:
    """A site's contractual instruments for market-based Scope 2 (GHG Protocol Scope 2 Guidance).

    The Guidance's hierarchy, applied to the energy a site uses: the share covered by
    energy attribute certificates (guarantees of origin, REGOs, RECs) retired for it at
    the certificates' factor (0 g/kWh for renewable ones); the rest at the supplier's
    specific factor where the contract gives one, else the residual mix, else the
    location-based grid average, which the Guidance allows only where no residual mix
    is available, and the label says so.

    Attributes:
        source: where the instruments are documented (contract, registry, residual-mix
            publication and year).
        certificate_share: the share of the energy covered by certificates, 0 to 1.
        certificate_g_per_kwh: the certificates' factor, g per kWh (0 for renewables).
        supplier_g_per_kwh: the supplier-specific factor of the rest, None if none.
        residual_g_per_kwh: the residual-mix factor of the rest, None if none.
    """

    source: str
    certificate_share: float = 0.0
    certificate_g_per_kwh: float = 0.0
    supplier_g_per_kwh: float | None = None
    residual_g_per_kwh: float | None = None

    def factor(self, location_g_per_kwh: float) -> tuple[float, str]:
        """Return the market-based g per kWh and one line saying how it is made."""
        rest_share = 1.0 - self.certificate_share
        if self.supplier_g_per_kwh is not None:
            rest, what = self.supplier_g_per_kwh, "supplier-specific factor"
        elif self.residual_g_per_kwh is not None:
            rest, what = self.residual_g_per_kwh, "residual mix"
        else:
            rest = location_g_per_kwh
            what = (
                "location-based grid average (no supplier factor or residual mix declared; "
                "the Scope 2 Guidance's last resort)"
            )
        grams = self.certificate_share * self.certificate_g_per_kwh + rest_share * rest
        label = (
            f"market-based {grams:.4g} g/kWh = {self.certificate_share:.4g} certificates x "
            f"{self.certificate_g_per_kwh:g} g/kWh + {rest_share:.4g} x {rest:.4g} g/kWh "
            f"{what}; {self.source}"
        )
        return grams, label


@dataclass(frozen=True)
class MarketFigure:
    """A market-based CO2e figure beside its location-based one (never in its place).

    Attributes:
        grams: the mass in grams CO2e.
        g_per_kwh: the market-based factor used.
        source: one line: how the factor is made and where the instruments are documented.
    """

    grams: float
    g_per_kwh: float
    source: str

    def as_dict(self) -> dict[str, object]:
        """Return the JSON keys beside a location-based `co2e_g` (docs/design.md#carbon)."""
        return {"co2e_market_g": self.grams, "co2e_market_source": self.source}


NO_MARKET = {"co2e_market_g": None, "co2e_market_source": None}
"""The market keys where the site declares no contractual instruments."""


def market_of(site: SiteFactors, facility_kwh: float) -> MarketFigure | None:
    """Return the market-based CO2e of `facility_kwh` at the site; None without instruments.

    Instruments are contracted over a year, so the factor is annual; its location-based
    fallback is the site's annual grid factor.
    """
    market = site.market
    if market is None:
        return None
    grams_per_kwh, label = market.factor(site.grid_g_per_kwh)
    return MarketFigure(facility_kwh * grams_per_kwh, grams_per_kwh, label)
