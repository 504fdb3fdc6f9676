"""docs/analyzer.md#data-truth: a grid factor says what gas it counts and the year of its data."""

from __future__ import annotations

from profiler.analysis.savings import savings_from_power
from profiler.model.savings import Estimate
from profiler.settings.carbon import make_site


def test_chinese_provincial_factors_are_labelled_co2_not_co2e() -> None:
    site = make_site(region="CN-BJ")
    assert site.grid_gas == "CO2"
    line = next(a for a in site.assumptions() if a.startswith("grid "))
    assert "g CO2/kWh" in line and "not CO2e" in line
    assert "data year 2023" in line
    savings = savings_from_power(Estimate(100.0, 100.0, 100.0), site)
    assert savings.as_dict()["emissions_gas"] == "CO2"


def test_co2e_factors_stay_co2e_and_state_their_year() -> None:
    for site in (make_site(country="FRA"), make_site(region="US-NY"), make_site(region="SE3")):
        assert site.grid_gas == "CO2e"
        line = next(a for a in site.assumptions() if a.startswith("grid "))
        assert "g CO2e/kWh" in line and "data year" in line
    given = make_site(carbon_intensity=300.0)
    assert "data year not stated" in given.grid_label
