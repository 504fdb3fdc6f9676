"""Site factors for savings: grid carbon intensity (codecarbon's offline data), PUE, tariff.

docs/methodology.md#grid-and-site-data: CO2e = facility kWh x the site's grid intensity, from the
per-country `carbon_intensity` (g CO2e/kWh, ISO 3166 alpha-3 codes) in codecarbon's
`data/private_infra/global_energy_mix.json`; codecarbon's world average (475 g/kWh,
`carbon_intensity_per_source.json`, IEA 2019) when the country is unknown, and the
assumptions say so. Nothing here touches the network.

A site's own table (`[defaults] carbon_table = PATH`, `read_carbon_table`) overrides or
adds grid factors for newer data: a CSV of `code,g_per_kwh,gas,year,source` rows; the
assumptions then name the table, the row's source and its data year.

Check a figure by hand: `python -c "import json, codecarbon, pathlib;
print(json.loads((pathlib.Path(codecarbon.__file__).parent / 'data/private_infra/
global_energy_mix.json').read_text())['FRA']['carbon_intensity'])"`.
"""

from __future__ import annotations

import csv
import importlib.resources
import json
import math
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from profiler.model.carbon import MarketInstruments
from profiler.model.savings import Site
from profiler.settings.carbon_hourly import csv_lines, grid_grams, read_carbon_hourly
from profiler.settings.site_error import SiteError

_DATA = ("data", "private_infra")


class GridDataMissingError(SiteError):
    """codecarbon, a dependency whose grid data finwatt reads, is missing (a --no-deps install)."""


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
    carbon_table: str = "carbon_table"
    currency: str = "currency"
    carbon_hourly: str = "carbon_hourly"


SETTING_NAMES = SiteNames()
"""Errors that name the `[defaults]` keys."""


CARBON_TABLE_COLUMNS = ("code", "g_per_kwh", "gas", "year", "source")
"""The header of a `carbon_table` CSV, in this order."""

CARBON_TABLE_MAX_BYTES = 4 * 2**20
"""A carbon table has a line per grid (a few thousand at most); larger files are refused."""

_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]*")


@dataclass(frozen=True)
class GridFactor:
    """One row of a site's carbon table: a grid code's intensity and where it comes from."""

    g_per_kwh: float
    gas: str
    year: int
    source: str


def read_carbon_table(path: Path, name: str = "carbon_table") -> dict[str, GridFactor]:
    """Return {code: factor} from a carbon-table CSV (`CARBON_TABLE_COLUMNS`).

    Codes are ISO 3166 alpha-3 countries or sub-national codes as `--region` takes them
    (`CN-BJ`, `US-NY`, `SE3`), upper-cased; `gas` is `CO2` or `CO2e`, as the source
    states it; `year` the data year. Blank lines and lines starting with `#` are skipped.

    Raises:
        SiteError: the file is unreadable, or a line is malformed (one line naming the
            file, the line and what is allowed).
    """
    where = f"{name} {path}"
    lines = csv_lines(path, where, CARBON_TABLE_MAX_BYTES, CARBON_TABLE_COLUMNS)
    table: dict[str, GridFactor] = {}
    for number, line in lines[1:]:
        try:  # one line at a time: a stray quote must not swallow the next lines
            row = next(csv.reader([line], strict=True))
        except csv.Error as err:
            raise SiteError(f"{where}: line {number}: not CSV ({err})") from err
        code, factor = _table_row(row, f"{where}: line {number}")
        if code in table:
            raise SiteError(f"{where}: line {number}: code {code} is already in the table")
        table[code] = factor
    return table


def _table_row(row: list[str], where: str) -> tuple[str, GridFactor]:
    """Return one carbon-table row's (code, factor), or raise naming what is wrong."""
    if len(row) != len(CARBON_TABLE_COLUMNS):
        raise SiteError(
            f"{where}: {len(row)} fields, expected {len(CARBON_TABLE_COLUMNS)} "
            f"({','.join(CARBON_TABLE_COLUMNS)})"
        )
    code, grams_text, gas, year_text, source = (field.strip() for field in row)
    code = code.upper()
    if not _CODE.fullmatch(code):
        raise SiteError(f"{where}: code {code!r} is not a grid code (e.g. FRA, CN-BJ, US-NY)")
    grams = grid_grams(where, grams_text, gas)
    if not (year_text.isdigit() and 1900 <= int(year_text) <= 2100):
        raise SiteError(f"{where}: year must be the data year (e.g. 2024), got {year_text!r}")
    if not source:
        raise SiteError(f"{where}: source is empty; say where the figure comes from")
    return code, GridFactor(grams, gas, int(year_text), source)


def make_site(
    *,
    country: str | None = None,
    carbon_intensity: float | None = None,
    pue: float | None = None,
    price_per_kwh: float | None = None,
    region: str | None = None,
    names: SiteNames = SETTING_NAMES,
    carbon_table: str | Path | None = None,
    currency: str | None = None,
    carbon_hourly: str | Path | None = None,
    market: dict[str, Any] | None = None,
) -> Site:
    """Resolve a grid source, PUE and tariff into a `Site`.

    Args:
        country: ISO 3166 alpha-3 code.
        carbon_intensity: grid intensity in g CO2e/kWh.
        pue: facility / IT energy, >= 1.
        price_per_kwh: tariff per kWh.
        region: sub-national grid code (`CN-BJ`, `US-NY`, `SE3` ...).
        names: how the error messages name each input.
        carbon_table: a carbon-table CSV (`read_carbon_table`) whose rows override or
            add to codecarbon's factors for the country or region given.
        currency: the tariff's ISO 4217 code (`currency_code`), shown beside money.
        carbon_hourly: a CSV of the grid's intensity over time
            (`profiler.settings.carbon_hourly`); the annual factor stays for the time
            it does not cover.
        market: the site's contractual instruments (`market_instruments`'s keys), for
            market-based Scope 2 beside the location-based figure.

    Raises:
        SiteError: more than one of country, region and carbon intensity, an unknown
            country or region code, or a PUE below 1 or a negative intensity or tariff
            (the message names the input as `names` spells it), a currency that is not
            an ISO 4217 code, a malformed table or hourly file, or an hourly file
            counting another gas than the annual factor.
    """
    site = _annual_site(
        country=country,
        carbon_intensity=carbon_intensity,
        pue=pue,
        price_per_kwh=price_per_kwh,
        region=region,
        names=names,
        carbon_table=carbon_table,
        currency=currency,
    )
    if market:
        site = replace(site, market=market_instruments(market))
    if carbon_hourly is None:
        return site
    hourly = read_carbon_hourly(Path(carbon_hourly), names.carbon_hourly)
    if hourly.gas != site.grid_gas:
        raise SiteError(
            f"{names.carbon_hourly} {carbon_hourly}: counts {hourly.gas} but the annual factor "
            f"({site.grid_label}) counts {site.grid_gas}; the gaps would mix gases: give an "
            f"annual factor of {hourly.gas} (carbon_intensity or a carbon_table row)"
        )
    return replace(site, hourly=hourly)


MARKET_NAMES = (
    "source",
    "certificate_share",
    "certificate_g_per_kwh",
    "supplier_g_per_kwh",
    "residual_g_per_kwh",
)
"""The instruments' keys; `[defaults]` spells each `market_<name>`."""


def market_instruments(values: dict[str, Any]) -> MarketInstruments:
    """Return the instruments `[defaults] market_*` declares (GHG Protocol Scope 2 Guidance).

    Raises:
        SiteError: no `market_source`, nothing but a source, an unknown key, or a share
            outside 0-1 or a negative factor.
    """
    unknown = sorted(set(values) - set(MARKET_NAMES))
    if unknown:
        raise SiteError(f"market_{unknown[0]}: not a market key (use {', '.join(MARKET_NAMES)})")
    source = values.get("source")
    if not isinstance(source, str) or not source.strip():
        raise SiteError(
            "market_source: say where the contractual instruments are documented (contract, "
            "certificate registry, residual-mix publication and year)"
        )
    numbers = {k: values.get(k) for k in MARKET_NAMES[1:]}
    if all(v is None for v in numbers.values()):
        raise SiteError(
            "market_source given without an instrument: give market_certificate_share, "
            "market_supplier_g_per_kwh or market_residual_g_per_kwh"
        )
    for key, value in numbers.items():
        ok = value is None or (
            isinstance(value, int | float) and math.isfinite(value) and value >= 0
        )
        if not ok or (key == "certificate_share" and value is not None and value > 1):
            allowed = "0 to 1" if key == "certificate_share" else "a number >= 0 g/kWh"
            raise SiteError(f"market_{key} must be {allowed}, got {value!r}")
    return MarketInstruments(
        source=source.strip(),
        certificate_share=float(numbers["certificate_share"] or 0.0),
        certificate_g_per_kwh=float(numbers["certificate_g_per_kwh"] or 0.0),
        supplier_g_per_kwh=_float(numbers["supplier_g_per_kwh"]),
        residual_g_per_kwh=_float(numbers["residual_g_per_kwh"]),
    )


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _annual_site(
    *,
    country: str | None,
    carbon_intensity: float | None,
    pue: float | None,
    price_per_kwh: float | None,
    region: str | None,
    names: SiteNames,
    carbon_table: str | Path | None,
    currency: str | None,
) -> Site:
    """Return the site with its annual grid factor (`make_site` without the hourly file)."""
    _check_site(country, carbon_intensity, pue, price_per_kwh, region, names)
    code_of_currency = None if currency is None else currency_code(currency, names.currency)
    table = (
        {} if carbon_table is None else read_carbon_table(Path(carbon_table), names.carbon_table)
    )
    code = (region or country or "").strip().upper()
    if code and code in table:
        factor = table[code]
        return Site(
            pue=1.0 if pue is None else pue,
            pue_given=pue is not None,
            grid_g_per_kwh=factor.g_per_kwh,
            grid_label=(
                f"{code}, {factor.source}, from the site's carbon_table {carbon_table}, "
                f"data year {factor.year}"
            ),
            grid_defaulted=False,
            price_per_kwh=price_per_kwh,
            grid_gas=factor.gas,
            currency=code_of_currency,
        )
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
        currency=code_of_currency,
    )


def currency_code(text: str, name: str = "currency") -> str:
    """Return `text` as an ISO 4217 currency code (upper case: "gbp" is GBP).

    The codes are CLDR's, as Babel ships them (`babel.numbers.list_currencies`).

    Raises:
        SiteError: `text` is not an ISO 4217 code (the message names it as `name`; "":
            names only the value).
    """
    from babel.numbers import list_currencies

    code = text.strip().upper()
    if len(code) != 3 or code not in list_currencies():
        given = f"{name} {text!r}".strip()
        raise SiteError(f"{given} is not an ISO 4217 currency code; use e.g. GBP, EUR, USD, CNY")
    return code


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
