"""Numbers for people: SI prefixes, 3 significant digits, thousands separators, words."""

import pytest

from reports.numbers import (
    achieved_load,
    energy_j,
    energy_kwh,
    mass_kg,
    money,
    percent,
    power_w,
    seconds,
    sig,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (12345.6, "12,300"),
        (0.0123456, "0.0123"),
        (7.0, "7.00"),
        (999.6, "1,000"),
        (0, "0"),
        (40, "40"),
        (-3.14159, "-3.14"),
        (None, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_sig_rounds_to_three_significant_digits_with_separators(
    value: float | None, shown: str
) -> None:
    assert sig(value) == shown


@pytest.mark.parametrize(
    ("kwh", "shown"),
    [
        (0.000097, "97.0 mWh"),  # the "0.000097 kWh"
        (0.0331, "33.1 Wh"),
        (1.2345, "1.23 kWh"),
        (1740.0, "1.74 MWh"),
        (0.0, "0 Wh"),
    ],
)
def test_energy_takes_the_si_prefix_that_keeps_one_to_999(kwh: float, shown: str) -> None:
    assert energy_kwh(kwh) == shown


def test_other_units() -> None:
    assert energy_j(3_600_000.0) == "1.00 kWh"
    assert mass_kg(0.000438) == "0.438 g" and mass_kg(1010.0) == "1.01 t"
    assert power_w(6.95) == "6.95 W" and power_w(1500.0) == "1.50 kW"
    assert money(1479.6) == "1,480" and money(0.0633) == "0.0633"
    assert percent(0.253) == "25 %" and seconds(900.0) == "15.0 min"


def test_achieved_load_is_capped_in_words() -> None:
    assert achieved_load(1.19) == "above target"  # never "achieved 119 %"
    assert achieved_load(0.75) == "75 %" and achieved_load(1.0) == "100 %"
