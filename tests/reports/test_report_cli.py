"""`finwatt report` end to end: the figures in the HTML equal `finwatt analyze --json`."""

import json
from pathlib import Path

import numpy as np
import pytest

from reports.numbers import sig
from tests.fakes.cli import ledger_ladder, run_finwatt
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
    assert kwh == [sig(f["savings"]["facility_kwh_per_year"]["point"]) for f in ranked]
    # page one's top actions are the same findings with the same figures and tiers
    top = cells.by_id["top-findings"]
    for f in ranked[:3]:
        saving = f["savings"]["facility_kwh_per_year"]
        low, high = sig(saving["low"]), sig(saving["high"])
        assert f"saves {sig(saving['point'])} kWh/yr ({low}\u2013{high})" in top
        assert f"confidence: {f['confidence']}" in top
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
        (("report", "gpus", "--lang", "fr"), "--lang"),
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
        *ledger_ladder("1,0", 1, tmp_path / "f.db", "--report", str(out), "--json"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["report"] == str(out) and out.exists()
    assert doc["run"] in out.read_text()


def test_report_in_chinese_keeps_the_figures_and_the_machine_fields(tmp_path: Path) -> None:
    db = imported_gpu_fleet(tmp_path)
    en, zh = tmp_path / "en.html", tmp_path / "zh.html"
    for out, lang in ((en, "en"), (zh, "zh-CN")):
        result = run_finwatt(
            "report", "gpus", "-o", str(out), "--lang", lang, *SITE, "--db", str(db), timeout=120
        )
        assert result.returncode == 0, result.stderr
    cells_en, cells_zh = Cells(), Cells()
    cells_en.feed(en.read_text())
    cells_zh.feed(zh.read_text())
    assert '<html lang="zh-CN">' in zh.read_text()
    assert cells_zh.by_class["rule"] == cells_en.by_class["rule"]  # rule ids stay English
    assert cells_zh.by_class["kwh"] == cells_en.by_class["kwh"]
    for ident in ("year-kwh", "year-co2e", "total-kwh"):  # a missing figure is worded
        assert cells_zh.by_id[ident].replace("无数据", "n/a") == cells_en.by_id[ident]
    assert "管理摘要" in zh.read_text() and "Executive summary" not in zh.read_text()


def test_report_pdf_without_chromium_fails_loudly_and_keeps_the_html(tmp_path: Path) -> None:
    db = imported_gpu_fleet(tmp_path)
    out, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    bare = tmp_path / "bin"
    bare.mkdir()
    result = run_finwatt(
        "report", "gpus", "-o", str(out), "--pdf", str(pdf), "--db", str(db),
        env={"PATH": str(bare)}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Chromium" in result.stderr
    assert out.exists() and not pdf.exists()
