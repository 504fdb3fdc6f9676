"""`finwatt report` end to end: the figures in the HTML equal `finwatt analyze --json`."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc
from tests.profiler.analysis.examples import eight_gpus
from tests.reports.test_report import EVIL_LABEL, EVIL_MODEL, Cells


def imported_gpu_fleet(tmp_path: Path) -> Path:
    db = tmp_path / "f.db"
    t, gpus = eight_gpus()
    devices = [
        {"id": g, "kind": "gpu", "model": EVIL_MODEL, "provenance": "measured:nvml-power"}
        for g in gpus
    ]
    series = {g: {**m, "energy_j": np.cumsum(m["power_w"] * 60.0)} for g, m in gpus.items()}
    doc = history_doc(devices, t, series, run_id="gpus", label=EVIL_LABEL)
    path = tmp_path / "gpus.json"
    path.write_text(json.dumps(doc))
    result = run_finwatt("import", str(path), "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    return db


SITE = ("--country", "GBR", "--pue", "1.4", "--price-per-kwh", "0.2")


def test_report_findings_equal_the_analyzer_json(tmp_path: Path) -> None:
    db = imported_gpu_fleet(tmp_path)
    analysis = run_finwatt("analyze", "gpus", *SITE, "--json", "--db", str(db), timeout=120)
    assert analysis.returncode == 0, analysis.stderr
    findings = json.loads(analysis.stdout)["findings"]
    assert {f["rule"] for f in findings} == {"IDLE_GPU", "ALLOCATED_IDLE_GPU"}
    out = tmp_path / "r.html"
    result = run_finwatt("report", "gpus", "-o", str(out), *SITE, "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    html = out.read_text()
    cells = Cells()
    cells.feed(html)
    ranked = sorted(
        findings, key=lambda f: f["savings"]["facility_kwh_per_year"]["point"], reverse=True
    )
    assert cells.by_class["rule"] == [f["rule"] for f in ranked]
    kwh = [c.split(" ")[0] for c in cells.by_class["kwh"]]
    assert kwh == [f"{f['savings']['facility_kwh_per_year']['point']:,.1f}" for f in ranked]
    # untrusted strings from the imported document render as text
    assert "<script" not in html.lower() and "<img src=x" not in html
    assert cells.by_id["run-title"].startswith(EVIL_LABEL)


def test_report_defaults_to_newest_run_and_a_file_in_the_current_directory(
    tmp_path: Path,
) -> None:
    db = imported_gpu_fleet(tmp_path)
    result = run_finwatt("report", "--db", str(db), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == tmp_path / "finwatt-report-gpus.html" and path.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("report", "nope"), "nope"),
        (("report", "gpus", "--country", "XXX"), "--country"),
        (("report", "gpus", "--pue", "-1"), "--pue"),
    ],
)
def test_report_bad_input_exit_2(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    db = imported_gpu_fleet(tmp_path)
    result = run_finwatt(*args, "-o", str(tmp_path / "x.html"), "--db", str(db), timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr
    assert not (tmp_path / "x.html").exists()


def test_run_with_report_writes_it_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "run.html"
    result = run_finwatt(
        "run",
        "ledger",
        "--levels",
        "1,0",
        "--phase-seconds",
        "1",
        "--size",
        "small",
        "--report",
        str(out),
        "--json",
        "--db",
        str(tmp_path / "f.db"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["report"] == str(out) and out.exists()
    assert doc["run"] in out.read_text()
