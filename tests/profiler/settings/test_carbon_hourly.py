"""`[defaults] carbon_hourly = PATH`: the grid's intensity over time (docs/methodology.md#carbon).

A job's CO2e equals the sum over its hours by hand; the same batch moved across the day
changes its CO2e as the file says; time the file does not cover uses the annual factor
and says so; without a file nothing changes; a bad file is one line naming the file and
the line, exit 2.

The shape of the published series: Great Britain's national carbon intensity (NESO's
Carbon Intensity API) is half-hourly, with `from` times such as `2023-03-11T00:00Z`
(minutes, `Z`); Electricity Maps' hourly CSVs give `Datetime (UTC)`. No published values
are shipped (the API's terms forbid reproducing it; see docs/methodology.md#carbon): the
figures below are made up, in those shapes.
"""

from __future__ import annotations

import math
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profiler.analysis.chargeback import HostWindow, JobCharge, charge
from profiler.model.carbon import co2e_of_spans
from profiler.model.savings import Site
from profiler.model.units import J_PER_KWH
from profiler.settings.carbon import make_site
from profiler.settings.carbon_hourly import read_carbon_hourly
from profiler.settings.site_error import SiteError
from tests.fakes.cli import exec_document, run_finwatt

HEADER = "timestamp,g_per_kwh,gas,source\n"
SOURCE = "made-up figures in the shape of a national hourly series"
DAY = datetime(2024, 3, 11, tzinfo=UTC)
"""A Monday; no DST change in the UTC series."""


def diurnal_g(hour: int) -> float:
    """A made-up day: clean small hours, a dirty evening peak (the shape of GB's winter)."""
    return 120.0 + 10.0 * hour + (150.0 if 16 <= hour <= 19 else 0.0)


def write(tmp_path: Path, text: str, name: str = "grid-hourly.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def hourly_day(tmp_path: Path) -> Path:
    lines = [
        f"{(DAY + timedelta(hours=h)).strftime('%Y-%m-%dT%H:%MZ')},{diurnal_g(h):g},CO2e,{SOURCE}"
        for h in range(24)
    ]
    return write(tmp_path, HEADER + "\n".join(lines) + "\n")


def epoch(hour: float) -> float:
    return (DAY + timedelta(hours=hour)).timestamp()


def site_with(path: Path, grid: float = 400.0, pue: float = 1.4) -> Site:
    return make_site(carbon_intensity=grid, pue=pue, carbon_hourly=path)


def test_a_jobs_co2e_is_the_sum_over_its_hours_by_hand(tmp_path: Path) -> None:
    site = site_with(hourly_day(tmp_path))
    joules = 3.6e6 * 1.75  # 1.75 kWh IT over 10:30-12:15, at its mean power
    figure = co2e_of_spans(site, [(epoch(10.5), epoch(12.25), joules)])
    by_hand = 1.4 * (0.5 * diurnal_g(10) + 1.0 * diurnal_g(11) + 0.25 * diurnal_g(12))
    assert figure.grams == pytest.approx(by_hand, rel=1e-12)
    assert figure.basis == "hourly" and figure.annual_share == 0.0
    assert "grid-hourly.csv" in figure.source and SOURCE in figure.source


def test_a_batch_moved_across_the_day_changes_as_the_file_says(tmp_path: Path) -> None:
    site = site_with(hourly_day(tmp_path))
    batch_j = 2.0 * J_PER_KWH
    evening = co2e_of_spans(site, [(epoch(18), epoch(19), batch_j)]).grams
    night = co2e_of_spans(site, [(epoch(3), epoch(4), batch_j)]).grams
    assert evening / night == pytest.approx(diurnal_g(18) / diurnal_g(3), rel=1e-12)
    assert evening - night == pytest.approx(2.0 * 1.4 * (diurnal_g(18) - diurnal_g(3)))


def test_time_outside_the_file_uses_the_annual_factor_and_says_so(tmp_path: Path) -> None:
    site = site_with(hourly_day(tmp_path), grid=400.0, pue=1.0)
    # 23:00-01:00: the first hour in the file, the second after its end (a gap)
    figure = co2e_of_spans(site, [(epoch(23), epoch(25), 2.0 * J_PER_KWH)])
    assert figure.grams == pytest.approx(diurnal_g(23) + 400.0)
    assert figure.basis == "hourly+annual" and figure.annual_share == pytest.approx(0.5)
    assert "50.0% of the energy fell outside it" in figure.source
    assert "annual 400 g CO2e/kWh" in figure.source
    outside = co2e_of_spans(site, [(epoch(30), epoch(31), J_PER_KWH)])
    assert outside.basis == "annual" and outside.grams == pytest.approx(400.0)
    assert "does not cover this time" in outside.source


def test_a_gap_inside_the_file_falls_back_for_its_own_time(tmp_path: Path) -> None:
    # 00:00 then 03:00: the first line covers one hour, 01:00-03:00 is a gap
    path = write(
        tmp_path, HEADER + f"2024-03-11T00:00Z,100,CO2e,{SOURCE}\n2024-03-11T03:00Z,50,CO2e,x\n"
    )
    site = site_with(path, grid=300.0, pue=1.0)
    figure = co2e_of_spans(site, [(epoch(0), epoch(4), 4.0 * J_PER_KWH)])
    assert figure.grams == pytest.approx(100.0 + 2 * 300.0 + 50.0)
    assert figure.annual_share == pytest.approx(0.5)


def test_half_hourly_lines_and_offsets_are_taken_as_published(tmp_path: Path) -> None:
    # GB's shape: half-hour `from` times with Z; a line with a +01:00 offset is the same instant
    path = write(
        tmp_path,
        HEADER
        + "# half-hourly, as the national series publishes it\n"
        + f"2024-03-11T10:00Z,200,CO2e,{SOURCE}\n"
        + f"2024-03-11T11:30+01:00,100,CO2e,{SOURCE}\n",
    )
    hourly = read_carbon_hourly(path)
    assert hourly.ends[0] - hourly.starts[0] == 1800.0 == hourly.ends[1] - hourly.starts[1]
    figure = co2e_of_spans(site_with(path, pue=1.0), [(epoch(10), epoch(11), J_PER_KWH)])
    assert figure.grams == pytest.approx(0.5 * 200 + 0.5 * 100)


def test_without_a_file_nothing_changes() -> None:
    site = make_site(carbon_intensity=321.0, pue=1.3)
    assert site.hourly is None and site == make_site(carbon_intensity=321.0, pue=1.3)
    window = HostWindow("m", epoch(0), epoch(2), energy_j=9e6, idle_j=3e6, provenance="m:r")
    job = JobCharge("j", epoch(0.5), epoch(1.5), ["eod"], {}, None, None, 5e6, 1e6, 0.0, 6e6, "a")
    for row in charge([job], [window], "command", None).rows:
        shown = row.as_dict(site)
        assert shown["co2e_g"] == row.energy_j / J_PER_KWH * 1.3 * 321.0
        assert shown["co2e_basis"] == "annual" and "321 g CO2e/kWh" in shown["co2e_source"]


def test_chargeback_rows_take_the_factor_of_their_hours(tmp_path: Path) -> None:
    site = site_with(hourly_day(tmp_path), pue=1.0)
    window = HostWindow(
        "m", epoch(2), epoch(4), energy_j=4 * J_PER_KWH, idle_j=J_PER_KWH, provenance="m"
    )
    job = JobCharge(
        "j", epoch(3), epoch(4), ["eod"], {}, None, None, 2 * J_PER_KWH, 0.0, 0.0, 0.0, "a"
    )
    rows = {r.group: r.as_dict(site) for r in charge([job], [window], "command", None).rows}
    assert rows["eod"]["co2e_g"] == pytest.approx(2 * diurnal_g(3))
    # idle: 1 kWh over the monitor's 02:00-04:00, half in each hour
    assert rows["idle"]["co2e_g"] == pytest.approx(0.5 * diurnal_g(2) + 0.5 * diurnal_g(3))
    assert {r["co2e_basis"] for r in rows.values()} == {"hourly"}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "header timestamp,g_per_kwh,gas,source"),
        (HEADER, "no data line"),
        (HEADER + "2024-03-11T00:00Z,1,CO2e\n", "line 2: 3 fields"),
        (HEADER + "yesterday,1,CO2e,x\n", "line 2: timestamp 'yesterday' is not ISO 8601"),
        (HEADER + "2024-03-11T00:00,1,CO2e,x\n", "line 2: timestamp '2024-03-11T00:00' has no Z"),
        (HEADER + "2024-03-11T00:00Z,-1,CO2e,x\n", "line 2: g_per_kwh must be"),
        (HEADER + "2024-03-11T00:00Z,inf,CO2e,x\n", "line 2: g_per_kwh must be"),
        (HEADER + "2024-03-11T00:00Z,1,CH4,x\n", "line 2: gas must be CO2 or CO2e"),
        (HEADER + "2024-03-11T00:00Z,1,CO2e,\n", "line 2: source is empty"),
        (
            HEADER + "2024-03-11T00:00Z,1,CO2e,x\n\n2024-03-11T00:00Z,1,CO2e,x\n",
            "line 4: timestamp not after",
        ),
        (HEADER + "2024-03-11T00:00Z,1,CO2e,x\n2024-03-11T01:00Z,1,CO2,x\n", "line 3: gas CO2"),
        (HEADER + '2024-03-11T00:00Z,1,CO2e,"x\n', "line 2: not CSV"),
    ],
)
def test_a_malformed_file_is_one_line_naming_the_line(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SiteError) as err:
        read_carbon_hourly(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and named in message


def test_a_fifo_or_missing_file_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path / "absent.csv"):
        with pytest.raises(SiteError, match="cannot read it"):
            read_carbon_hourly(path)


def test_a_file_of_another_gas_than_the_annual_factor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-03-11T00:00Z,1,CO2,x\n")
    with pytest.raises(SiteError, match="counts CO2 but the annual factor"):
        make_site(carbon_intensity=300.0, carbon_hourly=path)


def _config(tmp_path: Path, hourly: str) -> Path:
    write(tmp_path, hourly)  # next to the config file, named relative to it
    config = tmp_path / "config.toml"
    config.write_text(
        '[defaults]\ncarbon_intensity = 400.0\npue = 1.5\ncarbon_hourly = "grid-hourly.csv"\n'
    )
    return config


def test_a_bad_file_in_the_config_is_one_line_exit_2(tmp_path: Path) -> None:
    config = _config(tmp_path, HEADER + "2024-03-11T00:00Z,1,CO2e,x\n2024-03-11T01:00Z,x,CO2e,y\n")
    check = run_finwatt("config", "check", str(config))
    runs = run_finwatt("--config", str(config), "runs", "--db", str(tmp_path / "f.db"))
    for result in (check, runs):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "grid-hourly.csv: line 3: g_per_kwh" in lines[0], lines
        assert "Traceback" not in result.stderr


def test_exec_charges_a_job_at_the_hours_it_ran_end_to_end(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lines = [
        f"{(now + timedelta(hours=h)).isoformat().replace('+00:00', 'Z')},{100 + 50 * (h + 2)},"
        f"CO2e,{SOURCE}"
        for h in range(-2, 3)
    ]
    config = _config(tmp_path, HEADER + "\n".join(lines) + "\n")
    done = run_finwatt(
        "--config", str(config), "exec", "--db", str(tmp_path / "f.db"), "--json", "--",
        sys.executable, "-c", "sum(range(2_000_000))",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = exec_document(done.stderr)
    assert job["co2e_basis"] == "hourly" and "grid-hourly.csv" in job["co2e_source"]
    hour = math.floor((datetime.now(UTC) - now).total_seconds() / 3600)  # the job's hour
    grams = sorted(job["facility_kwh"] * (100 + 50 * (h + 2)) for h in {0, hour})
    if len(grams) == 1:  # the job ran inside the hour the file gives 200 g/kWh for
        assert job["co2e_g"] == pytest.approx(grams[0], rel=1e-9)
    else:  # it crossed an hour's edge: between its two hours' factors
        assert grams[0] * (1 - 1e-9) <= job["co2e_g"] <= grams[-1] * (1 + 1e-9)
