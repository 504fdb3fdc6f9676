"""docs/analyzer.md#data-truth: ladders from phases + samples, one CPU device vocabulary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from profiler.analysis.ladder_data import phases_from_data
from profiler.analysis.proportionality import LadderLevel, proportionality
from profiler.model.series import DeviceSeries
from profiler.store.database import Store
from profiler.store.interchange import export_run, import_run
from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc
from tests.profiler.analysis.ladders import ladder_doc

# (target load, units/s, W): a made-up but plausible ladder, idle last as the runner does
LADDER = [
    (1.0, 1000.0, 200.0),
    (0.75, 750.0, 170.0),
    (0.5, 500.0, 140.0),
    (0.25, 250.0, 110.0),
    (0.0, 0.0, 80.0),
]


def run_series(store: Store, run_id: str) -> dict[str, DeviceSeries]:
    return {
        d.info.device_id: store.samples.series(run_id, d.info)
        for d in store.devices.for_run(run_id)
    }


def expected() -> Any:
    loaded = [LadderLevel(rate, w) for target, rate, w in LADDER if target > 0]
    return proportionality(loaded, LADDER[-1][2], reference=loaded[0])


def analyze_doc(tmp_path: Path, *docs: dict[str, Any], run: str | None = None) -> dict[str, Any]:
    db = tmp_path / "f.db"
    for doc in docs:
        path = tmp_path / f"{doc['run']['id']}.json"
        path.write_text(json.dumps(doc))
        imported = run_finwatt("import", str(path), "--json", "--db", str(db))
        assert imported.returncode == 0, imported.stderr
    args = ("analyze", *((run,) if run else ()), "--json", "--db", str(db))
    result = run_finwatt(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def only_workload(report: dict[str, Any]) -> dict[str, Any]:
    (workload,) = report["metrics"]["workloads"]
    return workload


@pytest.mark.parametrize("with_energy", [False, True], ids=["power-only", "energy-counter"])
def test_imported_plain_ladder_is_evaluated(tmp_path: Path, with_energy: bool) -> None:
    report = analyze_doc(tmp_path, ladder_doc(LADDER, with_energy=with_energy))
    workload = only_workload(report)
    want = expected()
    assert workload["ep"] == pytest.approx(want.ep, rel=1e-9)
    assert workload["ipr"] == pytest.approx(want.ipr, rel=1e-9)
    assert workload["overall_units_per_j"] == pytest.approx(want.overall_units_per_j, rel=1e-9)
    assert workload["note"] is None
    assert report["metrics"]["data_quality"]["stated_figures_disagreeing"] == []


def test_samples_win_over_stated_details_and_the_difference_is_reported(tmp_path: Path) -> None:
    flat = [(target, rate, 150.0) for target, rate, _ in LADDER]
    stated = {
        1.0: {"mean_power_w": 200.0},
        0.75: {"mean_power_w": 180.0},
        0.0: {"mean_power_w": 100.0},
    }
    report = analyze_doc(tmp_path, ladder_doc(flat, details=stated))
    workload = only_workload(report)
    assert workload["ep"] == pytest.approx(0.0, abs=1e-9)  # flat power: no proportionality
    assert workload["ipr"] == pytest.approx(1.0)
    disagreeing = report["metrics"]["data_quality"]["stated_figures_disagreeing"]
    seen = {(d["target_load"], d["stated"], round(d["from_samples"], 6)) for d in disagreeing}
    assert seen == {(1.0, 200.0, 150.0), (0.75, 180.0, 150.0), (0.0, 100.0, 150.0)}
    rules = [f["rule"] for f in report["findings"]]
    assert "STATED_FIGURES_DISAGREE" in rules


def test_stated_figures_within_2_percent_are_not_reported(tmp_path: Path) -> None:
    doc = ladder_doc(LADDER, details={1.0: {"mean_power_w": 203.0}})
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, doc)
        data = phases_from_data(
            store.phases.for_run(run_id),
            store.devices.for_run(run_id),
            run_series(store, run_id),
            1.0,
        )
    assert data.disagreements == []


def test_validity_and_achieved_load_derived_when_not_stated(tmp_path: Path) -> None:
    levels = [*LADDER[:2], (0.5, 400.0, 140.0), *LADDER[3:]]  # 50 % level achieved 40 %
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, ladder_doc(levels))
        data = phases_from_data(
            store.phases.for_run(run_id),
            store.devices.for_run(run_id),
            run_series(store, run_id),
            None,
        )
    by_target = {p.target_load: p for p in data.phases}
    assert by_target[0.5].achieved_load == pytest.approx(0.4)
    assert by_target[0.5].valid is False
    assert all(p.valid for t, p in by_target.items() if t != 0.5)
    assert by_target[1.0].metrics.coverage == pytest.approx(1.0)


def monitor_doc(packages: int, util: float = 0.1) -> dict[str, Any]:
    t = np.arange(0.0, 8 * 86400.0, 300.0)
    devices: list[Any] = [{"id": "host", "kind": "host", "logical_cores": 16}]
    devices += [f"cpu:{i}" for i in range(packages)]
    return history_doc(
        devices,
        t,
        {"host": {"util": np.full(t.size, util)}},
        run_id="monitor",
        host="ladder-host",
        started="2026-11-10T00:00:00.000Z",
    )


@pytest.mark.parametrize("packages", [1, 2, 4])
def test_host_ladder_is_used_when_its_monitoring_data_is_analysed(
    tmp_path: Path, packages: int
) -> None:
    """Item 2: LOW_EFFICIENCY_HOST fires from the measured curve of `cpu` / `cpu:0`."""
    report = analyze_doc(
        tmp_path, ladder_doc(LADDER, packages=packages), monitor_doc(packages), run="monitor"
    )
    rules = {f["rule"]: f for f in report["findings"]}
    assert "LOW_EFFICIENCY_HOST" in rules, [f["rule"] for f in report["findings"]]
    evidence = rules["LOW_EFFICIENCY_HOST"]["evidence"]
    # p(0.1) on the summed curve: idle 80 W + 0.1 / 0.25 of the way to 110 W
    assert evidence["power_at_util_w"] == pytest.approx(92.0)


@pytest.mark.parametrize("packages", [1, 2, 4])
def test_export_import_export_is_lossless_for_every_package_count(
    tmp_path: Path, packages: int
) -> None:
    doc = ladder_doc(LADDER, packages=packages)
    with Store(tmp_path / "a.db") as store:
        first = export_run(store, import_run(store, doc))
    with Store(tmp_path / "b.db") as store:
        second = export_run(store, import_run(store, first))
    assert second == first
    assert {p["device"] for p in first["phases"]} == {"cpu" if packages > 1 else "cpu:0"}


def test_a_host_curve_is_the_sum_over_its_packages(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, ladder_doc(LADDER, packages=4))
        data = phases_from_data(
            store.phases.for_run(run_id),
            store.devices.for_run(run_id),
            run_series(store, run_id),
            None,
        )
    full = next(p for p in data.phases if p.target_load == 1.0)
    assert full.metrics.energy_devices == ("cpu:0", "cpu:1", "cpu:2", "cpu:3")
    assert full.metrics.mean_power_w == pytest.approx(200.0)
