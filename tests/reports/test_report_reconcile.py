"""`finwatt report` of a run with wall power: the remainder, its chart, and the audit trail."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc
from tests.fakes.imported import import_document
from tests.reports.test_report import Cells

EVIL = "<script>alert(1)</script>"


def _imported_node_run(tmp_path: Path) -> Path:
    t = np.arange(5.0, 1805.0, 5.0)  # 30 minutes, a BMC reading every 5 s
    doc = history_doc(
        [
            {"id": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"},
            {"id": "dram:0", "kind": "dram", "provenance": "measured:rapl"},
            {"id": "node", "kind": "node", "provenance": "measured:ipmi-dcmi"},
        ],
        t,
        {
            "cpu:0": {"energy_j": 150.0 * t, "util": np.full(t.size, 0.3)},
            "dram:0": {"energy_j": 25.0 * t},
            "node": {"power_w": np.full(t.size, 250.0), "energy_j": 250.0 * t},
        },
        run_id="wall",
    )
    doc["run"]["inventory"] = {
        "kernel": "6.1.0-26-amd64",
        "cpu_microcode": EVIL,
        "gpu_driver": None,
    }
    return import_document(doc, tmp_path, "wall")


def _report(db: Path, out: Path, *lang: str) -> Cells:
    result = run_finwatt("report", "wall", "-o", str(out), *lang, "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    cells = Cells()
    cells.feed(out.read_text())
    return cells


def test_report_shows_the_remainder_its_chart_and_the_inventory(tmp_path: Path) -> None:
    db = _imported_node_run(tmp_path)
    out = tmp_path / "r.html"
    cells = _report(db, out)
    total = cells.by_id["reconciliation-total"]
    assert total.startswith("Wall power 250 W (measured:ipmi-dcmi)")
    assert "unexplained 75.0 W (30.0 % of wall power)" in total
    assert any(
        a.get("alt") == "CPU, DRAM and GPU power stacked under wall power, per interval"
        and (a.get("src") or "").startswith("data:image/svg+xml")
        for tag, a in cells.tags
        if tag == "img"
    )
    html = out.read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "6.1.0-26-amd64" in cells.by_id["run-inventory"]
    # the wall is not added to its parts: the run's energy is CPU + DRAM, 175 W x 1,800 s
    assert cells.by_id["total-j"] == "315,000 J"


def test_chinese_report_translates_the_reconciliation(tmp_path: Path) -> None:
    db = _imported_node_run(tmp_path)
    cells = _report(db, tmp_path / "zh.html", "--lang", "zh-CN")
    assert cells.by_id["reconciliation-total"].startswith("整机功耗 250 W")
    assert "功耗及其构成" in cells.by_id["reconciliation"]
