"""Embodied carbon by Boavizta's server model (profiler.analysis.embodied), by hand.

The named server: a 2-socket rack server, 2 x 20 cores at 0.245 cm2 of die per core
(the die_size_per_core example of Boavizta's CPU page), 12 x 32 GB modules at
Boavizta's default 0.625 GB/cm2, 2 x 960 GB SSDs at 48.5 GB/cm2 (the SSD page's example
density), 2 power supplies of 2.99 kg, rack enclosure. Each part is the formula of
boaviztapi's docs/Explanations/components page, worked out below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler.analysis.embodied import PROVENANCE, ServerInventory, embodied
from profiler.model.findings import Finding
from profiler.workflows.embodied import with_freed_embodied
from tests.fakes.cli import run_finwatt
from tests.profiler.cli.test_analyze_cli import idle_doc, import_doc

SERVER = ServerInventory(
    cpu_units=2,
    cpu_cores=20,
    cpu_die_cm2_per_core=0.245,
    ram_units=12,
    ram_gb=32,
    ssd_units=2,
    ssd_gb=960,
    ssd_density_gb_per_cm2=48.5,
)
BY_HAND = {
    "cpu": 2 * ((20 * 0.245 + 0.491) * 1.97 + 9.14),  # 39.52 kg
    "ram": 12 * (32 / 0.625 * 2.20 + 5.22),  # 1,414.32 kg
    "ssd": 2 * (960 / 48.5 * 2.20 + 6.34),  # 99.77 kg
    "hdd": 0.0,
    "motherboard": 66.10,
    "psu": 2 * 2.99 * 24.3,  # 145.31 kg
    "assembly": 6.68,
    "enclosure": 150.0,
    "gpu": 0.0,
}


def test_the_named_server_matches_boaviztas_method_by_hand() -> None:
    figure = embodied(SERVER, life_years=5)
    assert figure.parts_kg == pytest.approx(BY_HAND)
    assert figure.total_kg == pytest.approx(1921.707, abs=1e-3)
    assert figure.kg_per_year == pytest.approx(1921.707 / 5, abs=1e-3)


def test_a_blade_and_gpus_as_the_method_says() -> None:
    blade = ServerInventory(2, 20, 0.245, 12, 32, case="blade", gpu_units=4)
    figure = embodied(blade, life_years=4)
    assert figure.parts_kg["enclosure"] == pytest.approx(30.90 + 880 / 16)
    assert figure.parts_kg["gpu"] == 0.0 and "4 GPU(s) left out" in figure.notes[0]
    given = embodied(ServerInventory(2, 20, 0.245, 12, 32, gpu_units=4, gpu_kg_each=150), 4)
    assert given.parts_kg["gpu"] == 600.0


CONFIG = """\
[defaults]
carbon_intensity = 300.0
pue = 1.5

[embodied]
life_years = 5
cpu_units = 2
cpu_cores = 20
cpu_die_cm2_per_core = 0.245
ram_units = 6
ram_gb = 32
ssd_units = 2
ssd_gb = 960
ssd_density_gb_per_cm2 = 48.5

[embodied.hosts.{host}]
ram_units = 12
"""


def test_analyze_shows_embodied_beside_operational_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(host='"synthetic-host"'))  # the imported run's host
    done = run_finwatt("--config", str(config), "analyze", "idle", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    shown = document["metrics"]["embodied"]
    assert shown["provenance"] == PROVENANCE == "estimated:embodied-boavizta"
    assert shown["total_kg"] == pytest.approx(1921.707, abs=1e-3)  # the host's 12 modules
    assert shown["kg_per_year"] == pytest.approx(1921.707 / 5, abs=1e-3)
    assert "location-based" in shown["operational_basis"]
    (finding,) = document["findings"]
    assert finding["rule"] == "IDLE_HOST"
    assert finding["evidence"]["embodied_kg_per_year"] == pytest.approx(1921.707 / 5, abs=1e-3)
    assert finding["savings"]["co2e_kg_per_year"]["point"] > 0  # operational, beside it
    assert any("estimated:embodied-boavizta" in a for a in finding["assumptions"])


def test_a_missing_inventory_key_is_one_line_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    config = tmp_path / "config.toml"
    config.write_text("[embodied]\ncpu_units = 2\n")
    done = run_finwatt("--config", str(config), "analyze", "idle", "--json", "--db", str(db))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "lacks cpu_cores" in lines[0], lines


def _fleet_finding(
    rule: str, evidence: dict[str, object], recommendation: dict[str, object]
) -> Finding:
    return Finding(
        rule=rule,
        device="fleet",
        severity="warning",
        message="m",
        evidence=evidence,
        recommendation=recommendation,
    )


FLEET_TABLE = {
    "life_years": 5,
    "cpu_units": 2,
    "cpu_cores": 20,
    "cpu_die_cm2_per_core": 0.245,
    "ram_units": 12,
    "ram_gb": 32,
    "ssd_units": 2,
    "ssd_gb": 960,
    "ssd_density_gb_per_cm2": 48.5,
    "hosts": {"small": {"ram_units": 6}},
}


def test_fleet_findings_that_free_hosts_carry_the_freed_hosts_embodied_carbon() -> None:
    big = 1921.707 / 5  # the named server, per year over 5 years
    small = big - 6 * (32 / 0.625 * 2.20 + 5.22) / 5  # six modules fewer
    pooled = _fleet_finding("COMPLEMENTARY_PEAKS", {}, {"free": ["a", "small"]})
    consolidate = _fleet_finding(
        "CONSOLIDATE_HOSTS", {"hosts": ["a", "b", "small"]}, {"hosts": 1, "free_hosts": 2}
    )
    other = _fleet_finding("IDLE_HOST", {}, {})
    out = with_freed_embodied([pooled, consolidate, other], FLEET_TABLE)
    assert out[0].evidence["embodied_kg_per_year_freed"] == pytest.approx(big + small, abs=1e-3)
    assert out[1].evidence["embodied_kg_per_year_freed"] == pytest.approx(
        2 * (2 * big + small) / 3, abs=1e-3
    )
    assert out[0].evidence["embodied_provenance"] == PROVENANCE
    assert "not in the savings above" in out[1].assumptions[-1]
    assert out[2] is other
    assert with_freed_embodied([pooled], {}) == [pooled]
