"""The currency setting: `[defaults] currency` (ISO 4217, validated) and `--currency`,
shown wherever money is (the analyzer's table and JSON, the report, the live view)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from profiler.live.state import Rates
from profiler.model.samples import Reading, Tick
from profiler.settings.carbon import make_site
from profiler.settings.config import config_problems, load_settings, site_from_defaults
from profiler.settings.site_error import SiteError
from tests.fakes.cli import exec_document, run_finwatt
from tests.profiler.cli.test_analyze_cli import idle_doc, import_doc
from tests.profiler.live.test_live import frame_text, new_state


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FINWATT_CONFIG", "FINWATT_DB", "FINWATT_CPU_TDP_W", "FINWATT_CPU_IDLE_RATIO"):
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_currency_reaches_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[defaults]\nprice_per_kwh = 0.2\ncurrency = "gbp"\n')
    monkeypatch.setenv("FINWATT_CONFIG", str(config))
    site = site_from_defaults(load_settings().site)
    assert (site.price_per_kwh, site.currency) == (0.2, "GBP")
    assert "tariff 0.2 GBP per kWh (given; no currency conversion)" in site.assumptions()


def test_a_code_that_is_not_iso_4217_is_one_problem_naming_the_key(tmp_path: Path) -> None:
    text = '[defaults]\ncurrency = "XYZ"\n'
    path = tmp_path / "c.toml"
    path.write_text(text)
    problems, _ = config_problems(path, tomllib.loads(text))
    assert len(problems) == 1
    assert "[defaults] currency" in problems[0] and "ISO 4217" in problems[0]
    with pytest.raises(SiteError, match="--currency"):
        make_site(currency="pounds", names=_cli_names())


def _cli_names():  # type: ignore[no-untyped-def]
    from profiler.cli.common import SITE_OPTION_NAMES

    return SITE_OPTION_NAMES


def test_no_currency_keeps_every_existing_line_and_key() -> None:
    site = make_site(price_per_kwh=0.2)
    assert site.currency is None
    assert "tariff 0.2 per kWh (given; no currency conversion)" in site.assumptions()


def test_analyze_json_and_table_carry_the_currency(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    site = ("--pue", "1.5", "--price-per-kwh", "0.15", "--currency", "EUR")
    result = run_finwatt("analyze", "idle", *site, "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    savings = finding["savings"]
    assert savings["currency"] == "EUR"
    assert savings["cost_per_year"]["point"] == pytest.approx(236.52)  # unchanged meaning
    table = run_finwatt("analyze", "idle", *site, "--db", str(db), env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "236.52 EUR" in table.stdout
    bad = run_finwatt("analyze", "idle", "--currency", "EURO", "--db", str(db))
    assert bad.returncode == 2 and "--currency" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_the_report_names_the_currency_on_page_one(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    out = tmp_path / "r.html"
    site = ("--price-per-kwh", "0.15", "--currency", "CNY")
    result = run_finwatt("report", "idle", "-o", str(out), *site, "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "at 0.15 CNY per kWh" in html
    assert "CNY" in html.split('id="year-cost">')[1].split("<")[0]


def test_the_live_view_shows_the_currency() -> None:
    site = make_site(carbon_intensity=200.0, pue=1.5, price_per_kwh=0.25, currency="USD")
    rates = Rates.from_site(site)
    assert rates.currency == "USD"
    state = new_state(rates=rates)
    state.consume(
        Tick(1, 1.0, {"gpu:0": Reading("gpu:0", util=0.5, power_w=400.0, energy_j=400.0)}, 0)
    )
    text = "\n".join(frame_text(state, 100, 30))
    assert "cost 0.15 USD/h" in text  # 400 W x 1.5 = 0.6 kW at 0.25 per kWh


def test_exec_and_chargeback_json_carry_the_configured_currency(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[defaults]\nprice_per_kwh = 0.3\ncurrency = "CHF"\n')
    env = {"FINWATT_CONFIG": str(config)}
    db = str(tmp_path / "f.db")
    job = run_finwatt("exec", "--db", db, "--json", "--", sys.executable, "-c", "pass", env=env)
    assert job.returncode == 0, job.stderr
    document = exec_document(job.stderr)
    assert document["currency"] == "CHF" and "cost" in document  # beside the amount
    charged = run_finwatt("chargeback", "--db", db, "--since", "1h", "--json", env=env)
    assert charged.returncode == 0, charged.stderr
    assert json.loads(charged.stdout)["currency"] == "CHF"
