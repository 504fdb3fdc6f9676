"""`[defaults] carbon_table = PATH`: a site's own grid factors (docs/analyzer.md#data-truth).

A CSV of `code,g_per_kwh,gas,year,source` rows overrides codecarbon's factor for a code
or adds one codecarbon lacks; the assumptions name the table, the source and the data
year; a malformed table is one line naming the file and the line, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler.settings.carbon import make_site, read_carbon_table
from profiler.settings.site_error import SiteError
from tests.fakes.cli import run_finwatt
from tests.profiler.cli.test_analyze_cli import idle_doc, import_doc

TABLE = """\
code,g_per_kwh,gas,year,source
# newer than codecarbon's figure for France
FRA,21.7,CO2e,2024,RTE eco2mix annual review 2024
XX-NEW,612.5,CO2,2025,a provincial bulletin

"""


def table(tmp_path: Path, text: str = TABLE) -> Path:
    path = tmp_path / "grid.csv"
    path.write_text(text, encoding="utf-8")
    return path


def grid_line(site) -> str:  # type: ignore[no-untyped-def]
    return next(a for a in site.assumptions() if a.startswith("grid "))


def test_a_table_row_overrides_codecarbon_and_the_assumption_names_it(tmp_path: Path) -> None:
    path = table(tmp_path)
    codecarbon = make_site(country="FRA")
    site = make_site(country="fra", carbon_table=path)
    assert site.grid_g_per_kwh == 21.7 != codecarbon.grid_g_per_kwh
    assert site.grid_gas == "CO2e" and not site.grid_defaulted
    line = grid_line(site)
    assert str(path) in line and "data year 2024" in line and "RTE eco2mix" in line


def test_a_table_adds_a_code_codecarbon_lacks_and_keeps_its_gas(tmp_path: Path) -> None:
    with pytest.raises(SiteError):
        make_site(region="XX-NEW")
    site = make_site(region="XX-NEW", carbon_table=table(tmp_path))
    assert site.grid_g_per_kwh == 612.5 and site.grid_gas == "CO2"
    assert "g CO2/kWh" in grid_line(site) and "data year 2025" in grid_line(site)


def test_codes_not_in_the_table_keep_codecarbons_factor(tmp_path: Path) -> None:
    assert make_site(country="DEU", carbon_table=table(tmp_path)) == make_site(country="DEU")
    given = make_site(carbon_intensity=300.0, carbon_table=table(tmp_path))
    assert given.grid_g_per_kwh == 300.0


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "header code,g_per_kwh,gas,year,source"),
        ("code,grams,gas,year,source\nFRA,1,CO2e,2024,x\n", "header"),
        ("code,g_per_kwh,gas,year,source\nFRA,1,CO2e,2024\n", "line 2: 4 fields"),
        ("code,g_per_kwh,gas,year,source\nFRA,nan,CO2e,2024,x\n", "line 2: g_per_kwh"),
        ("code,g_per_kwh,gas,year,source\nFRA,-3,CO2e,2024,x\n", "line 2: g_per_kwh"),
        ("code,g_per_kwh,gas,year,source\nFRA,30,CH4,2024,x\n", "line 2: gas must be CO2 or CO2e"),
        ("code,g_per_kwh,gas,year,source\nFRA,30,CO2e,24,x\n", "line 2: year"),
        ("code,g_per_kwh,gas,year,source\nFRA,30,CO2e,2024,\n", "line 2: source is empty"),
        ("code,g_per_kwh,gas,year,source\nF R,30,CO2e,2024,x\n", "line 2: code 'F R'"),
        (
            "code,g_per_kwh,gas,year,source\nFRA,30,CO2e,2024,x\n\nfra,31,CO2e,2024,y\n",
            "line 4: code FRA is already",
        ),
    ],
)
def test_a_malformed_table_is_one_line_naming_the_line(
    tmp_path: Path, text: str, named: str
) -> None:
    path = table(tmp_path, text)
    with pytest.raises(SiteError) as err:
        read_carbon_table(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and named in message


def test_a_missing_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="cannot read it"):
        make_site(country="FRA", carbon_table=tmp_path / "absent.csv")


def test_analyze_reads_the_configured_table_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    table(tmp_path)  # grid.csv next to the config file, named relative to it
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\ncountry = "FRA"\ncarbon_table = "grid.csv"\n')
    result = run_finwatt("--config", str(config), "analyze", "idle", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    line = next(a for a in finding["assumptions"] if a.startswith("grid "))
    assert "21.7 g CO2e/kWh" in line and "grid.csv" in line and "data year 2024" in line


def test_a_bad_table_in_the_config_is_one_line_exit_2(tmp_path: Path) -> None:
    table(tmp_path, "code,g_per_kwh,gas,year,source\nFRA,30,CH4,2024,x\n")
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\ncountry = "FRA"\ncarbon_table = "grid.csv"\n')
    check = run_finwatt("config", "check", str(config))
    runs = run_finwatt("--config", str(config), "runs", "--db", str(tmp_path / "f.db"))
    for result in (check, runs):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "grid.csv: line 2: gas must be CO2 or CO2e" in lines[0]
        assert "Traceback" not in result.stderr
