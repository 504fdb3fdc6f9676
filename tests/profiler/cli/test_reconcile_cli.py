"""End to end: a run with a BMC `node` device imported, then `finwatt analyze` reconciles it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc
from tests.fakes.imported import import_document
from tests.profiler.analysis.examples import idle_host_util

WALL_W, CPU_W, DRAM_W = 250.0, 120.0, 15.0


def _import_node_run(tmp_path: Path) -> Path:
    t, util = idle_host_util()
    doc = history_doc(
        [
            {"id": "host", "kind": "host", "logical_cores": 16},
            {"id": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"},
            {"id": "dram:0", "kind": "dram", "provenance": "measured:rapl"},
            {"id": "node", "kind": "node", "provenance": "measured:ipmi-dcmi"},
        ],
        t,
        {
            "host": {"util": util},
            "cpu:0": {"energy_j": CPU_W * t},
            "dram:0": {"energy_j": DRAM_W * t},
            "node": {"power_w": np.full(t.size, WALL_W)},
        },
        run_id="wall",
    )
    return import_document(doc, tmp_path, "wall")


def test_analyze_json_reports_the_remainder_and_wall_power_drives_idle_savings(
    tmp_path: Path,
) -> None:
    db = _import_node_run(tmp_path)
    result = run_finwatt("analyze", "wall", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    balance = doc["metrics"]["reconciliation"]
    assert balance["wall_provenance"] == "measured:ipmi-dcmi"
    assert balance["total"]["remainder_w"] == pytest.approx(WALL_W - CPU_W - DRAM_W)
    assert balance["total"]["remainder_pct"] == pytest.approx(46.0)
    assert not balance["estimated"]
    (finding,) = doc["findings"]
    assert finding["rule"] == "IDLE_HOST"
    assert finding["evidence"]["idle_power_w"] == pytest.approx(WALL_W)
    assert finding["savings"]["it_kwh_per_year"]["point"] == pytest.approx(WALL_W * 8.76)
    assert any("mean wall power of node" in line for line in finding["assumptions"])


def test_analyze_table_prints_the_unexplained_remainder(tmp_path: Path) -> None:
    db = _import_node_run(tmp_path)
    result = run_finwatt("analyze", "wall", "--db", str(db), env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert (
        "wall power 250.0 W (measured:ipmi-dcmi) = cpu 120.0 W + dram 15.0 W + "
        "unexplained 115.0 W (46.0 % of wall)" in result.stdout
    )
