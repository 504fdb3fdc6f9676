"""Trend: units/J over scheduled runs, regressions vs the median of earlier runs."""

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from profiler.analysis.trend import EnergyTrace, Observation, compute_series, daily_energy
from profiler.cli import main
from profiler.model.device import DeviceInfo
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from profiler.workflows.trend import gather_trend

DAY = 86400.0
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC).timestamp()


def iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def add_run(store: Store, started: float, units_per_j: float, *, kind: str = "scheduled",
            provenance: str = "measured:rapl", valid: bool = True) -> str:  # fmt: skip
    run = store.runs.create(
        kind,
        label="nightly",
        config={"command": "run", "size": "small"},
        started=iso(started),
        status="complete",
    )
    store.runs.finish(run.id, "complete", ended=iso(started + 60))
    for target in (1.0, 0.5):
        store.phases.add(
            run.id,
            PhaseRecord("ledger", "cpu:0", target, 0.0, 30.0, 1000.0, "transaction", target, valid,
                        PhaseMetrics.of(units_per_j=units_per_j * target, provenance=provenance)),
        )  # fmt: skip
    return run.id


@pytest.mark.parametrize(("drop", "flagged"), [(0.15, True), (0.05, False)])
def test_a_drop_beyond_ten_percent_of_the_median_is_a_regression(
    tmp_path: Path, drop: float, flagged: bool
) -> None:
    with Store(tmp_path / "f.db") as store:
        for i, upj in enumerate([100.0, 104.0, 98.0, 101.0]):
            add_run(store, NOW - (10 - i) * DAY, upj)
        last = add_run(store, NOW - DAY, 100.5 * (1 - drop))
        trend = gather_trend(store, 30 * DAY, now_s=NOW)
    (series,) = trend.series
    assert (series.workload, series.device, series.size) == ("ledger", "cpu:0", "small")
    assert len(series.points) == 5
    assert series.latest.run_id == last
    assert series.latest.baseline_units_per_j == pytest.approx(100.5)  # median of 4
    assert series.latest.change == pytest.approx(-drop)
    assert series.latest.regression is flagged
    assert [p.regression for p in series.points[:-1]] == [False] * 4
    assert len(trend.regressions) == (1 if flagged else 0)
    json.dumps(trend.as_dict())


def test_only_valid_full_load_phases_of_profiling_runs_in_the_window_count(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "f.db") as store:
        add_run(store, NOW - 40 * DAY, 50.0)  # before the window
        add_run(store, NOW - 5 * DAY, 100.0)
        add_run(store, NOW - 4 * DAY, 10.0, valid=False)
        add_run(store, NOW - 3 * DAY, 80.0, kind="profile")
        monitor = store.runs.create("scheduled", config={"command": "monitor"}, started=iso(NOW))
        store.runs.finish(monitor.id, "complete")
        trend = gather_trend(store, 30 * DAY, now_s=NOW)
    (series,) = trend.series
    assert [p.units_per_j for p in series.points] == [100.0, 80.0]
    assert series.latest.regression  # 20% below the one earlier run


def test_estimates_are_never_compared_with_measurements() -> None:
    obs = [
        Observation(f"r{i}", f"2026-03-0{i + 1}", "h", "risk", "cpu:0", "standard", "scenario",
                    prov, upj)
        for i, (prov, upj) in enumerate(
            [("measured:rapl", 100.0), ("estimated:linear", 50.0), ("measured:rapl", 95.0)]
        )
    ]  # fmt: skip
    (series,) = compute_series(obs)
    assert [p.baseline_units_per_j for p in series.points] == [None, None, 100.0]
    assert not any(p.regression for p in series.points)


def test_daily_energy_splits_at_midnight_and_counts_overlaps_once() -> None:
    midnight = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    t = np.array([midnight - 10, midnight, midnight + 10])
    monitor = EnergyTrace("h", "cpu:0", t, np.array([0.0, 100.0, 300.0]), estimated=False)
    overlapping = EnergyTrace("h", "cpu:0", t[1:] + 1, np.array([0.0, 50.0]), estimated=False)
    gpu = EnergyTrace("h", "gpu:0", t, np.array([0.0, np.nan, 40.0]), estimated=True)
    days = daily_energy([monitor, overlapping, gpu], midnight - DAY, midnight + DAY)
    assert [(d.day, d.energy_j, d.estimated) for d in days] == [
        ("2026-03-01", 140.0, True),
        ("2026-03-02", 200.0, False),
    ]
    assert days[0].devices == {"h/cpu:0": 100.0, "h/gpu:0": 40.0}


def test_trend_command_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "f.db"
    now = datetime.now(UTC).timestamp()
    with Store(db) as store:
        add_run(store, now - 2 * DAY, 100.0)
        rid = add_run(store, now - DAY, 80.0)
        store.devices.add(rid, [DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")])
        store.samples.add(rid, [SampleRow("cpu:0", 0.0, energy_j=0.0),
                                SampleRow("cpu:0", 10.0, energy_j=3600.0)])  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(["trend", "--since", "30d", "--db", str(db), "--json"])
    assert exit_info.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["regressions"][0]["run"] == rid
    assert sum(d["energy_j"] for d in doc["daily_energy"]) == pytest.approx(3600.0)
    with pytest.raises(SystemExit):
        main(["trend", "--db", str(db)])
    out = capsys.readouterr().out
    assert "REGRESSION: ledger on cpu:0 (small)" in out and "20.0% below" in out


def test_trend_table_names_the_power_source_of_each_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    db = tmp_path / "f.db"
    now = datetime.now(UTC).timestamp()
    with Store(db) as store:
        add_run(store, now - DAY, 100.0)
    with pytest.raises(SystemExit):
        main(["trend", "--db", str(db)])
    rows = [line for line in capsys.readouterr().out.splitlines() if "ledger" in line]
    assert rows and all("measured:rapl" in row or "ESTIMATE" in row for row in rows)
