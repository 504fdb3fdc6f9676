"""Annual savings of a finding: IT and facility kWh, kg CO2e and money, each a range.

docs/methodology.md#savings: annualise means, not peaks (E_yr = mean power x 8,760 h);
facility energy = IT energy x PUE (1.0 when not given, and say so); CO2e = facility kWh x
the site's grid intensity; money = facility kWh x tariff (no currency conversion, null
when no tariff is given; in the site's currency where one is named). Every figure is
{point, low, high}: low and high come from re-running with the low and high
coefficients where a range exists (equal to the point where none does).
"""

from __future__ import annotations

import math

from profiler.analysis.curve import PowerCurve
from profiler.model.annual import annual_kwh
from profiler.model.savings import Estimate, Savings, Site


def savings_from_power(power_w: Estimate, site: Site) -> Savings:
    """Return the annual savings of no longer drawing `power_w` (mean IT watts)."""
    it = Estimate(
        annual_kwh(max(0.0, power_w.point)),
        annual_kwh(max(0.0, power_w.low)),
        annual_kwh(max(0.0, power_w.high)),
    )
    facility = it.scaled(site.pue)
    market = None if site.market is None else site.market.factor(site.grid_g_per_kwh)
    return Savings(
        it_kwh_per_year=it,
        facility_kwh_per_year=facility,
        co2e_kg_per_year=facility.scaled(site.grid_g_per_kwh / 1000.0),
        cost_per_year=(
            facility.scaled(site.price_per_kwh) if site.price_per_kwh is not None else None
        ),
        gas=site.grid_gas,
        currency=site.currency,
        co2e_market_kg_per_year=None if market is None else facility.scaled(market[0] / 1000.0),
        market_source=None if market is None else market[1],
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
