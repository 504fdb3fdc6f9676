"""End to end: `finwatt import` + `finwatt analyze --json`, bad input, and a real monitor."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc
from tests.profiler.analysis.examples import eight_gpus, idle_host_util, oversized_cpu_util


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def import_doc(db: Path, doc: dict, tmp_path: Path) -> str:
    path = tmp_path / f"{doc['run']['id']}.json"
    path.write_text(json.dumps(doc))
    result = run_finwatt("import", str(path), "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["run"]


def analyze_json(db: Path, *args: str) -> dict:
    result = run_finwatt("analyze", *args, "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


SITE = ("--pue", "1.5", "--carbon-intensity", "475", "--price-per-kwh", "0.15")


def idle_doc(run_id: str = "idle", **run: str) -> dict:
    t, util = idle_host_util()
    return history_doc(
        [
            {"id": "host", "kind": "host", "logical_cores": 16},
            {"id": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"},
        ],
        t,
        {"host": {"util": util}, "cpu:0": {"power_w": np.full(t.size, 120.0), "energy_j": 120 * t}},
        run_id=run_id,
        **run,
    )


@pytest.fixture
def idle_db(tmp_path: Path) -> Path:
    db = tmp_path / "f.db"
    import_doc(db, idle_doc(), tmp_path)
    return db


def test_idle_host_example_end_to_end(idle_db: Path) -> None:
    doc = analyze_json(idle_db, "idle", *SITE)
    assert doc["run"] == "idle" and set(doc) == {"schema", "run", "findings", "metrics"}
    (finding,) = doc["findings"]
    assert finding["rule"] == "IDLE_HOST" and finding["device"] == "host"
    s = finding["savings"]
    assert s["it_kwh_per_year"]["point"] == pytest.approx(1051.2)
    assert s["facility_kwh_per_year"]["point"] == pytest.approx(1576.8)
    assert s["co2e_kg_per_year"]["point"] == pytest.approx(748.98)
    assert s["cost_per_year"]["point"] == pytest.approx(236.52)
    stored = sqlite3.connect(idle_db).execute("SELECT rule, run_id FROM finding").fetchall()
    assert stored == [("IDLE_HOST", "idle")]


def test_oversized_and_gpu_examples_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    t, util = oversized_cpu_util()
    import_doc(
        db,
        history_doc(
            [{"id": "host", "kind": "host", "logical_cores": 64}],
            t,
            {"host": {"util": util}},
            run_id="cpu64",
        ),
        tmp_path,
    )
    doc = analyze_json(db, "cpu64", "--mode", "conservative", "--sizes", "8,16,32,64")
    (finding,) = doc["findings"]
    assert finding["rule"] == "OVER_PROVISIONED_CPU"
    assert finding["recommendation"] == {"cores": 16}
    assert finding["evidence"]["p99_5_busy_cores"] == pytest.approx(12.0)
    t, gpus = eight_gpus()
    devices = [{"id": g, "kind": "gpu", "provenance": "measured:nvml-power"} for g in gpus]
    import_doc(db, history_doc(devices, t, gpus, run_id="gpus"), tmp_path)
    doc = analyze_json(db, "gpus")
    got = {
        f["device"]: (f["rule"], f["savings"]["it_kwh_per_year"]["point"]) for f in doc["findings"]
    }
    assert got == {
        "gpu:3": ("IDLE_GPU", pytest.approx(613.2)),
        "gpu:5": ("ALLOCATED_IDLE_GPU", pytest.approx(788.4)),
    }
    assert doc["findings"][0]["savings"]["cost_per_year"] is None  # no tariff given


def test_since_over_two_halves_equals_the_whole(tmp_path: Path) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)
    whole_db, split_db = tmp_path / "whole.db", tmp_path / "split.db"
    import_doc(whole_db, idle_doc("whole", started=iso(start), host="h1"), tmp_path)
    full = idle_doc("x")
    t, util = idle_host_util()
    half = t.size // 2
    devices = full["devices"]
    for name, sl, offset in (
        ("first", slice(0, half), 0.0),
        ("second", slice(half, None), t[half]),
    ):
        tt = t[sl] - offset
        import_doc(
            split_db,
            history_doc(
                devices,
                tt,
                {
                    "host": {"util": util[sl]},
                    "cpu:0": {"power_w": np.full(tt.size, 120.0), "energy_j": 120 * tt},
                },
                run_id=name,
                started=iso(start + timedelta(seconds=float(offset))),
                host="h1",
            ),
            tmp_path,
        )
    whole = analyze_json(whole_db, "whole", *SITE)
    split = analyze_json(split_db, "--since", "30d", "--host", "h1", *SITE)
    assert split["run"] is None and split["metrics"]["window"]["runs"] == ["second", "first"]

    def essentials(doc: dict) -> list:
        return [
            (
                f["rule"],
                f["device"],
                f["recommendation"],
                round(f["savings"]["facility_kwh_per_year"]["point"], 6),
            )
            for f in doc["findings"]
        ]

    assert (
        essentials(whole)
        == essentials(split)
        == [("IDLE_HOST", "host", {"action": "power off or reclaim"}, 1576.8)]
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("nope",), "RUN_ID"),
        (("--country", "XYZ"), "--country"),
        (("--pue", "-1"), "--pue"),
        (("--country", "FRA", "--carbon-intensity", "50"), "--carbon-intensity"),
        (("idle", "--since", "7d"), "--since"),
    ],
)
def test_bad_input_exits_2_with_one_line(idle_db: Path, args: tuple[str, ...], named: str) -> None:
    result = run_finwatt("analyze", *args, "--json", "--db", str(idle_db))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert sqlite3.connect(idle_db).execute("SELECT count(*) FROM finding").fetchone()[0] == 0


def test_table_output_lists_findings_and_assumptions(idle_db: Path) -> None:
    result = run_finwatt("analyze", "--db", str(idle_db), "--country", "FRA")
    assert result.returncode == 0, result.stderr
    assert "IDLE_HOST" in result.stdout and "Assumptions:" in result.stdout
    assert "FRA" in result.stdout


@pytest.mark.slow
def test_real_monitor_then_analyze(tmp_path: Path) -> None:
    db = tmp_path / "real.db"
    rec = run_finwatt(
        "monitor", "--duration", "3s", "--interval", "0.1s", "--json", "--db", str(db)
    )
    assert rec.returncode == 0, rec.stderr
    doc = analyze_json(db, "--min-span", "1s", "--min-hours", "0")
    assert doc["run"] == json.loads(rec.stdout)["run"]
    devices = doc["metrics"]["devices"]
    assert "host" in devices and devices["host"]["eligible"] is True
    estimated = [d for d in devices.values() if d["estimated"]]
    assert estimated, "this machine has no power sensor: cpu power must be estimated"
    for finding in doc["findings"]:
        assert finding["confidence"] == "low"
        assert any("estimated:" in a for a in finding["assumptions"])
        assert any("eligibility lowered" in a for a in finding["assumptions"])
        assert finding["rule"] != "INSUFFICIENT_DATA"


def test_config_defaults_fill_the_site_options_the_command_line_leaves_out(
    idle_db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\ncountry = "FRA"\npue = 1.3\nprice_per_kwh = 0.2\n')
    result = run_finwatt("--config", str(config), "analyze", "idle", "--json", "--db", str(idle_db))
    assert result.returncode == 0, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    lines = " | ".join(finding["assumptions"])
    assert "(FRA)" in lines and "PUE 1.3 (given)" in lines
    assert finding["savings"]["cost_per_year"] is not None
    # a grid option on the command line replaces the configured country as a whole
    override = run_finwatt(
        "--config",
        str(config),
        "analyze",
        "idle",
        "--json",
        "--carbon-intensity",
        "100",
        "--db",
        str(idle_db),
    )
    assert override.returncode == 0, override.stderr
    lines = " | ".join(json.loads(override.stdout)["findings"][0]["assumptions"])
    assert "(FRA)" not in lines and "100" in lines and "PUE 1.3 (given)" in lines


def test_config_region_default(idle_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\nregion = "CN-BJ"\n')
    result = run_finwatt("--config", str(config), "analyze", "idle", "--json", "--db", str(idle_db))
    assert result.returncode == 0, result.stderr
    lines = " | ".join(json.loads(result.stdout)["findings"][0]["assumptions"])
    assert "555.4" in lines and "(CN-BJ)" in lines
    config.write_text('[defaults]\nregion = "CN-BJ"\ncountry = "CHN"\n')
    bad = run_finwatt("--config", str(config), "analyze", "idle", "--db", str(idle_db))
    assert bad.returncode == 2 and "country and region" in bad.stderr
