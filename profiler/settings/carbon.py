"""Site factors for savings: grid carbon intensity (codecarbon's offline data), PUE, tariff.

Methodology section 6: CO2e = facility kWh x the site's grid intensity, from the
per-country `carbon_intensity` (g CO2e/kWh, ISO 3166 alpha-3 codes) in codecarbon's
`data/private_infra/global_energy_mix.json`; codecarbon's world average (475 g/kWh,
`carbon_intensity_per_source.json`, IEA 2019) when the country is unknown, and the
assumptions say so. Nothing here touches the network.

Check a figure by hand: `python -c "import json, codecarbon, pathlib;
print(json.loads((pathlib.Path(codecarbon.__file__).parent / 'data/private_infra/
global_energy_mix.json').read_text())['FRA']['carbon_intensity'])"`.
"""

from __future__ import annotations

import importlib.resources
import json
import math
from functools import cache
from typing import Any

from profiler.analysis.savings import Site

_DATA = ("data", "private_infra")


class SiteError(ValueError):
    """A site option is unusable; the message names the option and what is allowed."""


def _load(name: str) -> Any:
    ref = importlib.resources.files("codecarbon").joinpath(*_DATA, name)
    with ref.open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def country_intensities() -> dict[str, tuple[float, str, int | None]]:
    """Return {ISO3: (g CO2e/kWh, country name, data year)} from codecarbon's energy mix."""
    return {
        code.upper(): (
            float(row["carbon_intensity"]),
            str(row.get("country_name", code)),
            row.get("year"),
        )
        for code, row in _load("global_energy_mix.json").items()
        if row.get("carbon_intensity") is not None
    }


@cache
def world_average_g_per_kwh() -> float:
    """Return codecarbon's world-average grid intensity in g CO2e/kWh (475)."""
    return float(_load("carbon_intensity_per_source.json")["world_average"])


LB_PER_MWH_TO_G_PER_KWH = 0.45359237
"""eGRID publishes lb CO2e/MWh: 453.59237 g per lb / 1,000 kWh per MWh (exact)."""


@cache
def region_intensities() -> dict[str, tuple[float, str, int | None]]:
    """Return {region code: (g CO2e/kWh, name, year)} for codecarbon's sub-national data.

    Codes: China's provinces as `CN-BJ` (2023 provincial factors), US states as `US-NY`
    (EPA eGRID2023 state output emission rates, converted from lb/MWh), and the Nordic
    bidding zones as `SE1`, `NO1`, `DK1`, `FI` ... (codecarbon's nordic_emissions.json).
    """
    regions: dict[str, tuple[float, str, int | None]] = {}
    for name in ("2023/china_provincial_emissions.json", "nordic_emissions.json"):
        for code, row in _load(name)["data"].items():
            regions[code.upper()] = (
                float(row["emission_factor"]),
                str(row.get("description", code)),
                row.get("year"),
            )
    usa = _load("2023/usa_emissions.json")
    year = usa.get("_source", {}).get("year")
    for state, row in usa.items():
        if state.startswith("_") or "regionCode" not in row:
            continue
        grams = float(row["emissions"]) * LB_PER_MWH_TO_G_PER_KWH
        regions[f"US-{row['regionCode'].upper()}"] = (grams, state.title(), year)
    return regions


def make_site(
    *,
    country: str | None = None,
    carbon_intensity: float | None = None,
    pue: float | None = None,
    price_per_kwh: float | None = None,
    region: str | None = None,
) -> Site:
    """Resolve the CLI's site options into a `Site`.

    Raises:
        SiteError: more than one of --country, --region and --carbon-intensity, an
            unknown country or region code, or a PUE below 1 or a negative intensity or
            tariff (the message names the option).
    """
    given = [
        n
        for n, v in (
            ("--country", country),
            ("--region", region),
            ("--carbon-intensity", carbon_intensity),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise SiteError(f"{' and '.join(given)}: give one of them, not several")
    if pue is not None and not (math.isfinite(pue) and pue >= 1.0):
        # facility energy can never be less than IT energy
        raise SiteError(
            f"--pue must be >= 1.0 (facility / IT energy; usually 1.1-2.0), got {pue:g}"
        )
    if carbon_intensity is not None and carbon_intensity < 0:
        raise SiteError(f"--carbon-intensity must be >= 0 g/kWh, got {carbon_intensity:g}")
    if price_per_kwh is not None and price_per_kwh < 0:
        raise SiteError(f"--price-per-kwh must be >= 0, got {price_per_kwh:g}")
    if region is not None:
        code = region.strip().upper()
        found = region_intensities().get(code)
        if found is None:
            examples = "CN-BJ, CN-SH, CN-GD, US-NY, US-CA, SE3, NO1"
            raise SiteError(
                f"--region {region!r} has no sub-national data in codecarbon (e.g. {examples})"
            )
        grams, name, year = found
        label = f"{name} ({code}), codecarbon sub-national data, {year}"
        defaulted = False
    elif country is not None:
        found = country_intensities().get(country.strip().upper())
        if found is None:
            raise SiteError(
                f"--country {country!r} is not an ISO 3166 alpha-3 code in codecarbon's data "
                f"(e.g. USA, GBR, FRA, DEU, CHN, IND, JPN, SGP)"
            )
        grams, name, year = found
        label = f"{name} ({country.upper()}), codecarbon global_energy_mix.json, {year}"
        defaulted = False
    elif carbon_intensity is not None:
        grams, label, defaulted = carbon_intensity, "given with --carbon-intensity", False
    else:
        grams = world_average_g_per_kwh()
        label = "codecarbon world average (site country unknown; pass --country ISO3)"
        defaulted = True
    return Site(
        pue=1.0 if pue is None else pue,
        pue_given=pue is not None,
        grid_g_per_kwh=grams,
        grid_label=label,
        grid_defaulted=defaulted,
        price_per_kwh=price_per_kwh,
    )
