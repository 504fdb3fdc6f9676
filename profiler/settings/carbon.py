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
from dataclasses import dataclass
from functools import cache
from typing import Any

from profiler.analysis.savings import Site
from profiler.model.errors import FinwattInputError

_DATA = ("data", "private_infra")


class SiteError(FinwattInputError):
    """A site input is unusable; the message names it and what is allowed (exit 2)."""


class GridDataMissingError(SiteError):
    """codecarbon, whose grid data finwatt reads, is not installed (exit 2)."""


def _load(name: str) -> Any:
    try:
        ref = importlib.resources.files("codecarbon").joinpath(*_DATA, name)
    except ModuleNotFoundError as err:
        raise GridDataMissingError(
            "country and region grid intensities come from codecarbon's data, and codecarbon "
            "is not installed: pip install codecarbon, or give the intensity in g/kWh"
        ) from err
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
    """Return codecarbon's world-average grid intensity in g CO2e/kWh (475).

    Without codecarbon, the same published figure as `Site`'s default (its label names
    codecarbon's world average), so commands that need no country data still run.
    """
    try:
        return float(_load("carbon_intensity_per_source.json")["world_average"])
    except GridDataMissingError:
        return Site().grid_g_per_kwh


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


@cache
def region_gases() -> dict[str, str]:
    """Return {region code: "CO2" or "CO2e"}: what each sub-national factor counts.

    From each row's `unit` as codecarbon ships it: China's provincial factors are
    `gCO2/kWh`, CO2 only by their source's own metadata (MEE/NBS announcement 2025
    No. 47); the Nordic zones are `gCO2eq/kWh`; eGRID's STC2ERTA is a CO2-equivalent rate.
    """
    gases: dict[str, str] = {}
    for name in ("2023/china_provincial_emissions.json", "nordic_emissions.json"):
        for code, row in _load(name)["data"].items():
            unit = str(row.get("unit", "gCO2eq/kWh")).lower()
            gases[code.upper()] = "CO2e" if "eq" in unit else "CO2"
    return gases


@dataclass(frozen=True)
class SiteNames:
    """How `SiteError` messages name each site input.

    The defaults are the setting keys of `[defaults]`; the CLI passes its option names
    (`--country` ...), so each caller's errors name what its user typed.
    """

    country: str = "country"
    region: str = "region"
    carbon_intensity: str = "carbon_intensity"
    pue: str = "pue"
    price_per_kwh: str = "price_per_kwh"


SETTING_NAMES = SiteNames()
"""Errors that name the `[defaults]` keys."""


def make_site(
    *,
    country: str | None = None,
    carbon_intensity: float | None = None,
    pue: float | None = None,
    price_per_kwh: float | None = None,
    region: str | None = None,
    names: SiteNames = SETTING_NAMES,
) -> Site:
    """Resolve a grid source, PUE and tariff into a `Site`.

    Args:
        country: ISO 3166 alpha-3 code.
        carbon_intensity: grid intensity in g CO2e/kWh.
        pue: facility / IT energy, >= 1.
        price_per_kwh: tariff per kWh.
        region: sub-national grid code (`CN-BJ`, `US-NY`, `SE3` ...).
        names: how the error messages name each input.

    Raises:
        SiteError: more than one of country, region and carbon intensity, an unknown
            country or region code, or a PUE below 1 or a negative intensity or tariff
            (the message names the input as `names` spells it).
    """
    _check_site(country, carbon_intensity, pue, price_per_kwh, region, names)
    grams, label, defaulted = _grid(country, carbon_intensity, region, names)
    gas = region_gases().get(region.strip().upper(), "CO2e") if region else "CO2e"
    return Site(
        pue=1.0 if pue is None else pue,
        pue_given=pue is not None,
        grid_g_per_kwh=grams,
        grid_label=label,
        grid_defaulted=defaulted,
        price_per_kwh=price_per_kwh,
        grid_gas=gas,
    )


def _check_site(
    country: str | None,
    carbon_intensity: float | None,
    pue: float | None,
    price_per_kwh: float | None,
    region: str | None,
    names: SiteNames,
) -> None:
    given = [
        name
        for name, value in (
            (names.country, country),
            (names.region, region),
            (names.carbon_intensity, carbon_intensity),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise SiteError(f"{' and '.join(given)}: give one of them, not several")
    for name, value in (
        (names.carbon_intensity, carbon_intensity),
        (names.pue, pue),
        (names.price_per_kwh, price_per_kwh),
    ):
        if value is not None and not math.isfinite(value):
            raise SiteError(f"{name} must be a finite number, got {value!r}")
    if pue is not None and not (math.isfinite(pue) and pue >= 1.0):
        # facility energy can never be less than IT energy
        raise SiteError(
            f"{names.pue} must be >= 1.0 (facility / IT energy; usually 1.1-2.0), got {pue:g}"
        )
    if carbon_intensity is not None and carbon_intensity < 0:
        raise SiteError(f"{names.carbon_intensity} must be >= 0 g/kWh, got {carbon_intensity:g}")
    if price_per_kwh is not None and price_per_kwh < 0:
        raise SiteError(f"{names.price_per_kwh} must be >= 0, got {price_per_kwh:g}")


def _grid(
    country: str | None, carbon_intensity: float | None, region: str | None, names: SiteNames
) -> tuple[float, str, bool]:
    """Return (g CO2e/kWh, label, defaulted) of the one grid source given, if any."""
    if region is not None:
        code = region.strip().upper()
        found = region_intensities().get(code)
        if found is None:
            examples = "CN-BJ, CN-SH, CN-GD, US-NY, US-CA, SE3, NO1"
            raise SiteError(
                f"{names.region} {region!r} has no sub-national data in codecarbon "
                f"(e.g. {examples})"
            )
        grams, name, year = found
        return grams, f"{name} ({code}), codecarbon sub-national data, data year {year}", False
    if country is not None:
        found = country_intensities().get(country.strip().upper())
        if found is None:
            raise SiteError(
                f"{names.country} {country!r} is not an ISO 3166 alpha-3 code in codecarbon's "
                f"data (e.g. USA, GBR, FRA, DEU, CHN, IND, JPN, SGP)"
            )
        grams, name, year = found
        return (
            grams,
            f"{name} ({country.upper()}), codecarbon global_energy_mix.json, data year {year}",
            False,
        )
    if carbon_intensity is not None:
        return carbon_intensity, "given with --carbon-intensity (data year not stated)", False
    # The label is shown in reports whatever the caller; it keeps its historical wording.
    label = "codecarbon world average (site country unknown; pass --country ISO3)"
    return world_average_g_per_kwh(), label, True
