"""The monitor summary reconciles wall power with its parts when a node device recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.cli.reconcile_view import reconciliation_lines
from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from profiler.workflows.monitor import monitor_outcome


def _record(db: Path, with_node: bool) -> str:
    devices = [DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")]
    if with_node:
        devices.append(DeviceInfo("node", "node", provenance="measured:redfish"))
    rows = [SampleRow("cpu:0", t, energy_j=80.0 * t) for t in range(1, 61)]
    if with_node:
        rows += [SampleRow("node", float(t), power_w=110.0) for t in range(2, 62, 2)]
    with Store(db) as store:
        run = store.runs.create("monitor", interval_s=1.0)
        store.devices.add(run.id, devices)
        store.samples.add(run.id, rows)
        store.runs.finish(run.id, "complete")
    return run.id


def test_monitor_outcome_carries_the_remainder_of_a_run_with_wall_power(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    outcome = monitor_outcome(db, _record(db, with_node=True))
    balance = outcome.reconciliation
    assert balance is not None
    assert balance.total.remainder_w == pytest.approx(30.0)
    lines = reconciliation_lines(balance.as_dict())
    assert lines[0] == (
        "wall power 110.0 W (measured:redfish) = cpu 80.0 W + unexplained 30.0 W (27.3 % of wall)"
    )
    assert "  note: no dram device: its power is in the remainder" in lines


def test_monitor_outcome_without_wall_power_has_no_reconciliation(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    assert monitor_outcome(db, _record(db, with_node=False)).reconciliation is None
