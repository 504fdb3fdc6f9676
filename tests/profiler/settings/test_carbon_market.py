"""Market-based beside location-based Scope 2 (GHG Protocol Scope 2 Guidance; methodology).

A site declares its contractual instruments in `[defaults]` (`market_source`, the share
covered by certificates, a supplier-specific factor, a residual mix); `analyze --json`,
the report and chargeback then show the market-based figure beside the location-based
one, which stays as it was. Without instruments the market keys are null.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from profiler.analysis.chargeback import HostWindow, JobCharge, charge
from profiler.model.units import J_PER_KWH
from profiler.settings.carbon import make_site
from profiler.settings.site_error import SiteError
from tests.fakes.cli import run_finwatt
from tests.profiler.cli.test_analyze_cli import idle_doc, import_doc

SOURCE = "supplier contract 2024-07; REGOs retired for 60%; residual mix 2023 (made up)"
MARKET = {"source": SOURCE, "certificate_share": 0.6, "supplier_g_per_kwh": 210.0}


def test_the_market_factor_follows_the_guidance_hierarchy_by_hand() -> None:
    supplier = make_site(carbon_intensity=300.0, market=MARKET).market
    assert supplier is not None
    grams, label = supplier.factor(300.0)
    assert grams == pytest.approx(0.6 * 0.0 + 0.4 * 210.0)
    assert "supplier-specific factor" in label and SOURCE in label
    residual = make_site(
        carbon_intensity=300.0, market={"source": SOURCE, "residual_g_per_kwh": 380.0}
    ).market
    assert residual is not None and residual.factor(300.0)[0] == pytest.approx(380.0)
    only_certificates = make_site(
        carbon_intensity=300.0, market={"source": SOURCE, "certificate_share": 0.25}
    ).market
    assert only_certificates is not None
    grams, label = only_certificates.factor(300.0)
    assert grams == pytest.approx(0.75 * 300.0) and "location-based grid average" in label


def test_chargeback_rows_give_both_figures_side_by_side() -> None:
    site = make_site(carbon_intensity=300.0, pue=1.5, market=MARKET)
    job = JobCharge("j", 0.0, 10.0, ["eod"], {}, None, None, 2 * J_PER_KWH, 0.0, 0.0, 0.0, "a")
    window = HostWindow("m", 0.0, 10.0, energy_j=3 * J_PER_KWH, idle_j=0.0, provenance="m")
    rows = {r.group: r.as_dict(site) for r in charge([job], [window], "command", None).rows}
    assert rows["eod"]["co2e_g"] == pytest.approx(2 * 1.5 * 300.0)  # location, unchanged
    assert rows["eod"]["co2e_market_g"] == pytest.approx(2 * 1.5 * 84.0)
    assert SOURCE in rows["eod"]["co2e_market_source"]
    without = charge([job], [window], "command", None).rows[0].as_dict(make_site(pue=1.5))
    assert without["co2e_market_g"] is None and without["co2e_market_source"] is None


@pytest.mark.parametrize(
    ("market", "named"),
    [
        ({"supplier_g_per_kwh": 200.0}, "market_source: say where"),
        ({"source": SOURCE}, "market_source given without an instrument"),
        ({"source": SOURCE, "certificate_share": 1.5}, "market_certificate_share must be 0 to 1"),
        ({"source": SOURCE, "residual_g_per_kwh": -1.0}, "market_residual_g_per_kwh must be"),
    ],
)
def test_bad_instruments_are_one_line_naming_the_key(market: dict, named: str) -> None:
    with pytest.raises(SiteError, match=re.escape(named)):
        make_site(carbon_intensity=300.0, market=market)


def _config(tmp_path: Path, market: bool) -> Path:
    config = tmp_path / ("market.toml" if market else "plain.toml")
    lines = ["[defaults]", "carbon_intensity = 300.0", "pue = 1.5"]
    if market:
        lines += [
            f'market_source = "{SOURCE}"',
            "market_certificate_share = 0.6",
            "market_supplier_g_per_kwh = 210.0",
        ]
    config.write_text("\n".join(lines) + "\n")
    return config


def _finding(tmp_path: Path, db: Path, market: bool) -> dict:
    config = _config(tmp_path, market)
    done = run_finwatt("--config", str(config), "analyze", "idle", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    return finding


def test_analyze_json_and_the_report_show_both_with_their_sources(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    plain, market = _finding(tmp_path, db, False), _finding(tmp_path, db, True)
    location = plain["savings"]["co2e_kg_per_year"]
    assert market["savings"]["co2e_kg_per_year"] == location  # never replaced
    assert plain["savings"]["co2e_market_kg_per_year"] is None
    facility = market["savings"]["facility_kwh_per_year"]["point"]
    assert market["savings"]["co2e_market_kg_per_year"]["point"] == pytest.approx(
        facility * 84.0 / 1000
    )
    assert SOURCE in market["savings"]["co2e_market_source"]
    assert any(a.startswith("market-based Scope 2 beside it:") for a in market["assumptions"])

    for lang, label in (("en", "CO2e per year, market-based"), ("zh-CN", "市场法")):
        out = tmp_path / f"report-{lang}.html"
        config = _config(tmp_path, True)
        done = run_finwatt(
            "--config", str(config), "report", "idle", "-o", str(out), "--lang", lang,
            "--db", str(db), timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        html = out.read_text(encoding="utf-8")
        assert 'id="year-co2e"' in html and 'id="year-co2e-market"' in html
        assert label in html and "supplier contract 2024-07" in html
        assert 'class="num co2e-market"' in html
    plain_out = tmp_path / "plain.html"
    done = run_finwatt(
        "--config", str(_config(tmp_path, False)), "report", "idle", "-o", str(plain_out),
        "--db", str(db), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "market-based" not in plain_out.read_text(encoding="utf-8")


def test_a_bad_market_key_in_the_config_is_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\ncarbon_intensity = 300.0\nmarket_supplier_g_per_kwh = 210.0\n")
    done = run_finwatt("config", "check", str(config))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "market_source: say where" in lines[0], lines
