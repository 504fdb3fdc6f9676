"""The renderer interface, and the jinja2 environment and figures every report kind shares.

A renderer is constructed with its options (site, language) and has one method,
`render(record) -> str`, that returns one self-contained HTML page: inline CSS, charts as
data: URIs, and a Content-Security-Policy that forbids every network load. Its metadata
are class attributes (`output_file_extension`, `output_media_type`, `template`).
pyinstrument's `renderers/base.py` is the model.

Every string from outside (labels, host and model names, workload names, configuration)
goes through jinja2's autoescaping. Text is translated through `reports.i18n` (English by
default, `lang="zh-CN"`).
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

import jinja2

from profiler.analysis.assess import Assessment
from profiler.analysis.phases import workload_figures
from profiler.model.annual import MIN_COVERED_S, Annual
from profiler.model.provenance import is_estimate
from profiler.model.savings import Site
from reports import numbers
from reports.chart_style import chart_language
from reports.data import phase_state
from reports.finding_text import finding_text
from reports.i18n import CJK_FONTS, Language, language
from reports.lines import line_text

RecordT = TypeVar("RecordT", contravariant=True)


class Renderer(ABC, Generic[RecordT]):
    """Render one kind of report record to one HTML document.

    Attributes:
        output_file_extension: the extension of the file the page is written to.
        output_media_type: the media type of what `render` returns.
        template: the page template under `reports/templates/` that `fill` renders.
        site: PUE, grid intensity and tariff for the energy figures.
        text: the report language (`reports.i18n`).
        drawn: the language the charts are drawn in (English without a CJK font).
    """

    output_file_extension: ClassVar[str] = "html"
    output_media_type: ClassVar[str] = "text/html"
    template: ClassVar[str]

    def __init__(self, *, site: Site | None = None, lang: str = "en") -> None:
        """Set the renderer's options.

        Args:
            site: PUE, grid intensity and tariff; None for the defaults (`Site()`).
            lang: report language, "en" or "zh-CN".

        Raises:
            LanguageError: `lang` is not a report language.
        """
        self.site = site or Site()
        self.text = language(lang)
        self.drawn, self._charts_in_language = chart_language(self.text)

    @abstractmethod
    def render(self, record: RecordT) -> str:
        """Return the report of `record` as one HTML document."""

    def fill(self, **context: Any) -> str:
        """Return this renderer's template rendered with `context`, in its language.

        The context also gets `cash` (an amount with the site's currency code) and
        `price` (the tariff with it), for every figure of money the page shows.
        """
        page = _environment(self.text.tag).get_template(self.template)
        return page.render(cash=self.cash, price=self.price(), **context)

    def cash(self, amount: float | None) -> str:
        """Return an amount of money for the page: 3 significant digits and the currency."""
        shown = numbers.money(amount)
        if shown == numbers.NA:
            return self.text.gettext(numbers.NA)
        return f"{shown} {self.site.currency}" if self.site.currency else shown

    def price(self) -> str | None:
        """Return the tariff as the page shows it ("0.15 GBP"), None without one."""
        tariff = self.site.price_per_kwh
        if tariff is None:
            return None
        return f"{tariff:g} {self.site.currency}" if self.site.currency else f"{tariff:g}"

    def chart_note(self) -> list[str]:
        """Return the note that the charts are in English (no CJK font), or nothing."""
        if self._charts_in_language:
            return []
        return [
            self.text.gettext(
                "no CJK font installed (Debian: fonts-noto-cjk): chart labels are in English"
            )
        ]


def _fmt(value: Any, spec: str = ".3g", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return numbers.NA
    return f"{format(value, spec)}{unit}"


def _duration(value: float | None, lang: Language, *, days: bool = False) -> str:
    number, unit = numbers.duration_parts(value, days=days)
    return f"{number} {lang.gettext(unit)}" if unit else number


def _missing_in(lang: Language, show: Callable[..., str]) -> Callable[..., str]:
    """Return `show` with its "n/a" (a missing figure) in the report's language."""

    def shown(*args: Any) -> str:
        text = show(*args)
        return lang.gettext(numbers.NA) if text == numbers.NA else text

    return shown


def savings_point(finding: dict[str, Any], key: str, bound: str = "point") -> float | None:
    """Return one figure of a finding's savings (e.g. facility kWh/yr, point), or None."""
    figure = (finding.get("savings") or {}).get(key) or {}
    value = figure.get(bound)
    return float(value) if isinstance(value, int | float) else None


@lru_cache(maxsize=4)
def _environment(tag: str) -> jinja2.Environment:
    lang = language(tag)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(lang.translations, newstyle=True)  # type: ignore[attr-defined]
    figures: dict[str, Callable[..., str]] = {
        "fmt": _fmt,
        "sig": numbers.sig,
        "kwh": numbers.energy_kwh,
        "joules": numbers.energy_j,
        "kg": numbers.mass_kg,
        "watts": numbers.power_w,
        "money": numbers.money,
        "pct": numbers.percent,
    }
    env.filters.update({name: _missing_in(lang, f) for name, f in figures.items()})
    env.filters.update(
        duration=lambda v: _duration(v, lang),
        span=lambda v: _duration(v, lang, days=True),
        load=lambda v: lang.gettext(numbers.achieved_load(v)),
        tojson_pretty=lambda v: json.dumps(v, indent=2, sort_keys=True, default=str),
    )
    env.tests["estimate"] = is_estimate
    env.globals.update(
        lang=lang,
        cjk_fonts=CJK_FONTS,
        finding_text=lambda f: finding_text(f, lang),
        line_text=lambda text: line_text(str(text), lang),
        savings_point=savings_point,
        phase_state=phase_state,
        workload_figures=workload_figures,
        min_covered_s=MIN_COVERED_S,
    )
    return env


def ranked(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return findings with the most facility kWh/yr saved first."""
    return sorted(
        findings,
        key=lambda f: savings_point(f, "facility_kwh_per_year") or 0.0,
        reverse=True,
    )


def ranked_findings(assessment: Assessment | None) -> list[dict[str, Any]]:
    """Return the findings as docs/design.md#findings, the most facility kWh saved first."""
    return ranked([f.as_dict() for f in assessment.findings] if assessment is not None else [])


def top_actions(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return page one's top three actions: the first three ranked findings that save kWh."""
    return [f for f in findings if savings_point(f, "facility_kwh_per_year")][:3]


@dataclass(frozen=True)
class Yearly:
    """Energy, CO2e and cost per year at an observed rate (page one's headline).

    Attributes:
        annual: the figure and the data it rests on (covered seconds, span,
            confidence); None when there are no energy figures to annualise.
    """

    it_kwh: float | None
    facility_kwh: float | None
    co2e_kg: float | None
    cost: float | None
    annual: Annual | None = None
    co2e_market_kg: float | None = None
    """Market-based Scope 2 beside `co2e_kg` (location-based); None without instruments."""


def yearly(it_kwh_per_year: float | None, site: Site, annual: Annual | None = None) -> Yearly:
    """Return the facility energy, CO2e and cost of an IT energy per year at a site."""
    if it_kwh_per_year is None:
        return Yearly(None, None, None, None, annual)
    facility = it_kwh_per_year * site.pue
    cost = facility * site.price_per_kwh if site.price_per_kwh is not None else None
    market = None if site.market is None else site.market.factor(site.grid_g_per_kwh)[0]
    return Yearly(
        it_kwh_per_year,
        facility,
        facility * site.grid_g_per_kwh / 1000,
        cost,
        annual,
        None if market is None else facility * market / 1000,
    )


def headline(annual: Annual | None, site: Site) -> Yearly:
    """Return page one's yearly figures from the time that has data (none when too little)."""
    return yearly(annual.it_kwh_per_year if annual is not None else None, site, annual)
