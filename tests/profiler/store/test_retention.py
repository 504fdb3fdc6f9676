"""Retention: prune raw samples to rollups and old rollups away; nothing else is lost."""

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.savings import Site
from profiler.model.units import DAY_S, GIB
from profiler.store.database import Store
from profiler.store.interchange import import_run
from profiler.store.retention import db_stats, prune
from profiler.workflows.analyze import analyze_run, analyze_since, store_findings
from profiler.workflows.run_data import choose_source
from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DEVICES = [
    {"id": "host", "kind": "host", "logical_cores": 64, "mem_total_bytes": 512 * GIB},
    {"id": "cpu:0", "kind": "cpu", "power_limit_w": 280.0, "provenance": "measured:rapl"},
]
PHASE = {
    "workload": "ledger",
    "device": "cpu:0",
    "target_load": 1.0,
    "t_start": 10.0,
    "t_end": 70.0,
    "units": 1000.0,
    "unit": "tx",
}
FINDING = {
    "rule": "UNDERUSED_GPU",
    "device": "cpu:0",
    "severity": "info",
    "message": "imported finding",
    "evidence": {},
    "confidence": "low",
    "assumptions": [],
}


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history(days: float, step_s: float, seed: int, start_s: float = 0.0) -> tuple[Any, dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(start_s, days * DAY_S, step_s)
    util = np.clip(0.06 + 0.03 * rng.standard_normal(t.size), 0, 1)
    busy = (t % DAY_S) > 0.4 * DAY_S
    util[busy] += 0.1
    power = 60.0 + 200.0 * util
    energy = np.cumsum(power * np.diff(np.concatenate(([0.0], t))))
    return t, {
        "host": {"util": util, "mem_used_bytes": 30.0 * GIB + 1e9 * util},
        "cpu:0": {"util": util, "power_w": power, "energy_j": energy},
    }


def add_run(path: Path, run_id: str, started: datetime, days: float, step_s: float = 30.0) -> None:
    t, metrics = history(days, step_s, seed=len(run_id))
    doc = history_doc(
        DEVICES,
        t,
        metrics,
        run_id=run_id,
        started=iso(started),
        ended=iso(started + timedelta(days=days)),
        phases=[PHASE],
        findings=[FINDING],
    )
    with Store(path) as store:
        import_run(store, doc)


def analyse(path: Path, run_id: str, source: str = "auto") -> dict[str, Any]:
    with Store(path) as store:
        run = store.runs.get(run_id)
        assert run is not None
        return analyze_run(store, run, Site(), Thresholds(), source=source).as_dict()  # type: ignore[arg-type]


def kept(path: Path, run_id: str) -> tuple[Any, ...]:
    with Store(path) as store:
        return (
            store.runs.get(run_id),
            store.devices.for_run(run_id),
            store.phases.for_run(run_id),
            store.findings.for_run(run_id),
        )


def assert_same_findings(before: dict, after: dict) -> None:
    assert [(f["rule"], f["device"], f["severity"]) for f in before["findings"]] == [
        (f["rule"], f["device"], f["severity"]) for f in after["findings"]
    ]
    for device, a in before["metrics"]["devices"].items():
        b = after["metrics"]["devices"][device]
        assert b["samples"] == a["samples"]
        assert b["eligible"] == a["eligible"]
        for name in ("util_mean", "energy_j", "mean_power_w", "mem_max_bytes"):
            if a[name] is not None:
                assert b[name] == pytest.approx(a[name], rel=1e-9), (device, name)
        # percentile rules: within one 5-min window's resolution
        assert b["util_p95"] == pytest.approx(a["util_p95"], abs=0.01), device
        assert b["span_s"] == pytest.approx(a["span_s"], abs=60.0), device


def test_prune_keeps_phases_findings_and_the_analysis(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    add_run(path, "long", NOW - timedelta(days=20), 20)
    before_raw = analyse(path, "long", "raw")
    with Store(path) as store:
        run = store.runs.get("long")
        assert run is not None
        store_findings(store, analyze_run(store, run, Site(), Thresholds()))
    kept_before = kept(path, "long")

    result = prune(path, keep_raw_days=14, keep_rollup_days=400, now=NOW)

    assert result.runs_pruned == ["long"]
    assert result.rollup_rows_deleted == 0
    # six days of 30-s samples for two devices went, whole minutes only
    assert result.raw_samples_deleted == 2 * 6 * 2880
    with Store(path) as store:
        assert store.samples.time_bounds("long", "host")["raw_first"] == 6 * DAY_S
        assert store.samples.time_bounds("long", "host")["minute_first"] == 0.0
        assert choose_source(store, "long", ["host", "cpu:0"]) == "minute"
    assert kept(path, "long") == kept_before
    assert_same_findings(before_raw, analyse(path, "long"))
    with Store(path) as store:
        since = analyze_since(
            store, 20 * DAY_S, Site(), Thresholds(), host="synthetic-host", now_s=NOW.timestamp()
        ).as_dict()
    assert_same_findings(before_raw, since)
    # a second prune has nothing left to do
    again = prune(path, now=NOW)
    assert (again.raw_samples_deleted, again.rollup_rows_deleted, again.runs_pruned) == (0, 0, [])


def test_analyzer_reads_a_short_run_whose_start_is_only_in_rollups(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    # three hours of 10-s samples, the first hour older than the 14-day cutoff
    add_run(path, "short", NOW - timedelta(days=14, hours=1), 0.125, step_s=10.0)
    before = analyse(path, "short", "raw")
    with Store(path) as store:
        assert choose_source(store, "short", ["host", "cpu:0"]) == "raw"
    result = prune(path, now=NOW)
    assert result.raw_samples_deleted == 2 * 360
    with Store(path) as store:
        assert choose_source(store, "short", ["host", "cpu:0"]) == "minute"
        assert choose_source(store, "short", ["host", "cpu:0"], source="raw") == "raw"
    assert_same_findings(before, analyse(path, "short"))


def test_old_rollups_go_and_raw_without_a_rollup_stays(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    add_run(path, "old", NOW - timedelta(days=30), 2, step_s=60.0)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM sample_minute WHERE run_id = 'old' AND minute < 60")
    conn.commit()
    conn.close()
    result = prune(path, keep_raw_days=14, keep_rollup_days=29, now=NOW)
    # rollups of the first day (older than 29 days) deleted, less the hour removed above
    assert result.rollup_rows_deleted == 2 * (1440 - 60)
    # raw samples go wherever a rollup existed; the hour without rollups is kept
    assert result.raw_samples_deleted == 2 * (2880 - 60)
    with Store(path) as store:
        assert store.samples.time_bounds("old", "host") == {
            "raw_first": 0.0,
            "raw_last": 59 * 60.0,
            "minute_first": DAY_S,
            "minute_last": 2 * DAY_S - 60.0,
        }
        assert len(store.phases.for_run("old")) == 1
        assert len(store.findings.for_run("old")) == 1


def test_prune_refuses_bad_periods(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        prune(tmp_path / "f.db", keep_raw_days=0)
    with pytest.raises(ValueError, match="at least as long"):
        prune(tmp_path / "f.db", keep_raw_days=14, keep_rollup_days=7)


def test_db_stats(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    add_run(path, "long", NOW - timedelta(days=20), 20)
    prune(path, now=NOW)
    stats = db_stats(path)
    assert stats.rows["sample"] == 2 * 14 * 2880
    assert stats.rows["sample_minute"] == 2 * 20 * 1440
    assert stats.rows["phase"] == stats.rows["finding"] == 1
    assert stats.raw_oldest == "2026-05-18T00:00:00Z"
    assert stats.rollup_oldest == "2026-05-12T00:00:00Z"
    assert stats.rollup_newest == "2026-05-31T23:59:30Z"
    assert stats.rollup_only_runs == ["long"]
    assert stats.file_bytes >= stats.page_bytes > 0
    assert stats.table_bytes is None or stats.table_bytes["sample_minute"] > 0


def test_db_cli(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    now = datetime.now(UTC)
    add_run(path, "cli", now - timedelta(days=3), 2, step_s=60.0)
    pruned = run_finwatt("db", "prune", "--keep-raw", "2d", "--json", "--db", str(path))
    assert pruned.returncode == 0, pruned.stderr
    document = json.loads(pruned.stdout)
    assert document["runs_pruned"] == ["cli"]
    assert 0 < document["raw_samples_deleted"] < 2 * 2880
    stats = run_finwatt("db", "stats", "--json", "--db", str(path))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["rows"]["sample_minute"] == 2 * 2880
    text = run_finwatt("db", "stats", "--db", str(path))
    assert text.returncode == 0 and "sample_minute" in text.stdout
    bad = run_finwatt("db", "prune", "--keep-raw", "14d", "--keep-rollups", "1d", "--db", str(path))
    assert bad.returncode == 2 and "--keep-rollups" in bad.stderr
