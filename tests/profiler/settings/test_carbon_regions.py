import importlib.resources
import json

import pytest

from profiler.settings.carbon import (
    LB_PER_MWH_TO_G_PER_KWH,
    make_site,
    region_intensities,
)
from profiler.settings.site_error import SiteError


def test_china_province_as_methodology_quotes_it() -> None:
    site = make_site(region="cn-bj")
    assert site.grid_g_per_kwh == 555.4  # docs/methodology.md#grid-and-site-data
    assert "Beijing (CN-BJ)" in site.grid_label and not site.grid_defaulted


def test_us_state_converted_from_egrid_lb_per_mwh() -> None:
    ref = importlib.resources.files("codecarbon") / "data/private_infra/2023/usa_emissions.json"
    lb_per_mwh = json.loads(ref.read_text())["new york"]["emissions"]
    assert region_intensities()["US-NY"][0] == pytest.approx(lb_per_mwh * 0.45359237)
    assert LB_PER_MWH_TO_G_PER_KWH == 453.59237 / 1000


def test_region_excludes_country_and_intensity_and_unknown_codes_are_named() -> None:
    from profiler.cli.common import SITE_OPTION_NAMES

    with pytest.raises(SiteError, match="--country and --region"):
        make_site(country="CHN", region="CN-BJ", names=SITE_OPTION_NAMES)
    with pytest.raises(SiteError, match="--region and --carbon-intensity"):
        make_site(region="CN-BJ", carbon_intensity=500.0, names=SITE_OPTION_NAMES)
    with pytest.raises(SiteError, match="--region 'XX'"):
        make_site(region="XX", names=SITE_OPTION_NAMES)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"country": "CHN", "region": "CN-BJ"}, "country and region: give one"),
        ({"pue": 0.5}, "pue must be >= 1.0"),
        ({"carbon_intensity": -1.0}, "carbon_intensity must be >= 0 g/kWh"),
        ({"price_per_kwh": -1.0}, "price_per_kwh must be >= 0"),
        ({"country": "XXX"}, "country 'XXX' is not an ISO 3166"),
    ],
)
def test_errors_name_the_setting_keys_by_default(inputs: dict[str, object], message: str) -> None:
    with pytest.raises(SiteError) as caught:
        make_site(**inputs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert "--" not in str(caught.value)
