"""Page one tells the truth: yearly figures from the time that has data, a profiling
run's own figures, and no "No findings" when the data could not have shown one.

Known answer (docs/methodology.md#savings): a host that draws 7 W whenever it is
measured uses 7 W x 8,760 h = 61.32 kWh/yr IT, whatever the length of the window its
data sit in.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profiler.analysis.assess import Assessment
from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.savings import Site
from profiler.model.units import DAY_S
from profiler.store.database import Store
from profiler.workflows.report import report_run, report_window
from reports.renderers.run import RunRenderer, RunReport
from tests.reports import samples
from tests.reports.test_report import Cells, make_run

SITE = Site(pue=1.5, pue_given=True, grid_g_per_kwh=500.0, grid_label="test",
            grid_defaulted=False)  # fmt: skip


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def monitor_at_7w(db: Path, seconds: int, *, ended_ago_s: float = 300.0, host: str = "") -> str:
    """A monitoring run of this host at a constant 7 W (RAPL), `seconds` at 1 Hz."""
    end = datetime.now(UTC) - timedelta(seconds=ended_ago_s)
    started = end - timedelta(seconds=seconds)
    with Store(db) as store:
        run = store.runs.create(
            "monitor",
            started=iso(started),
            host=host or socket.gethostname(),
            interval_s=1.0,
            status="running",
            pid=os.getpid(),
        )
        store.devices.add(
            run.id,
            [
                DeviceInfo("host", "host", logical_cores=2),
                DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"),
            ],
        )
        rows = []
        for t in range(1, seconds + 1):
            rows.append(SampleRow("host", float(t), util=0.2))
            rows.append(SampleRow("cpu:0", float(t), util=0.2, power_w=7.0, energy_j=7.0 * t))
        store.samples.add(run.id, rows)
        store.runs.finish(run.id, "complete", ended=iso(end))
    return run.id


def page(path: Path) -> Cells:
    cells = Cells()
    cells.feed(path.read_text())
    return cells


def _report(db: Path, run_id: str, out: Path) -> Path:
    """Write the run's report at SITE to `out`, as `finwatt report` does; return its path."""
    with Store(db) as store:
        run = store.runs.get(run_id)
        assert run is not None
        return report_run(store, run, SITE, out)


@pytest.mark.parametrize(
    ("since_s", "span"), [(3600.0, "60.0 min"), (7 * DAY_S, "7.00 days"), (30 * DAY_S, "30.0 days")]
)
def test_a_host_at_7_w_states_61_3_kwh_a_year_whatever_the_window(
    tmp_path: Path, since_s: float, span: str
) -> None:
    db = tmp_path / "f.db"
    monitor_at_7w(db, 25 * 60)
    with Store(db) as store:
        out = report_window(store, since_s, SITE, tmp_path / "w.html")
    cells = page(out)
    assert cells.by_id["year-kwh"] == "92.0 kWh"  # facility = 61.3 kWh IT x PUE 1.5
    assert "IT energy 61.3 kWh" in cells.by_id["s1"]
    assert f"from 25.0 min of data in {span}" in cells.by_id["year-basis"]
    assert "confidence: low" in cells.by_id["year-basis"]


def test_a_window_with_too_little_data_says_so_instead_of_a_number(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    monitor_at_7w(db, 120)
    with Store(db) as store:
        out = report_window(store, 30 * DAY_S, SITE, tmp_path / "w.html")
    cells = page(out)
    assert cells.by_id["year-kwh"] == "too little data"
    assert "from 2.00 min of data in 30.0 days" in cells.by_id["year-basis"]
    assert "kWh" not in cells.by_id["year-kwh"] and "g" not in cells.by_id["year-co2e"]


def test_a_monitoring_run_states_61_3_kwh_a_year(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    run_id = monitor_at_7w(db, 25 * 60)
    cells = page(_report(db, run_id, tmp_path / "r.html"))
    assert cells.by_id["year-kwh"] == "92.0 kWh"
    assert "from 25.0 min of data in 25.0 min" in cells.by_id["year-basis"]


def test_a_profiling_run_shows_its_ladder_not_its_benchmark_as_the_hosts_year(
    tmp_path: Path,
) -> None:
    db = tmp_path / "f.db"
    run_id = make_run(db)  # 30 s of deliberate load at 40-100 W
    cells = page(_report(db, run_id, tmp_path / "r.html"))
    s1 = cells.by_id["s1"]
    assert "year-kwh" not in cells.by_id  # no "per year at the observed rate" headline
    for kpi in ("kpi-ep", "kpi-ipr", "kpi-idle", "kpi-j-per-1000", "kpi-units-per-j"):
        assert kpi in cells.by_id, kpi
    assert cells.by_id["kpi-idle"] == "40.0 W"
    assert "If the host ran this ladder all year" in cells.by_id["ladder-year"]
    assert "no monitoring runs of this host" in s1


def test_a_profiling_run_takes_its_yearly_figure_from_the_hosts_monitoring_runs(
    tmp_path: Path,
) -> None:
    db = tmp_path / "f.db"
    run_id = make_run(db)
    with Store(db) as store:
        host = store.runs.get(run_id).host  # type: ignore[union-attr]
    monitor_at_7w(db, 25 * 60, host=host)
    cells = page(_report(db, run_id, tmp_path / "r.html"))
    assert cells.by_id["year-kwh"] == "92.0 kWh"
    assert "monitoring" in cells.by_id["year-basis"]
    assert "If the host ran this ladder all year" in cells.by_id["ladder-year"]


def test_no_findings_is_not_said_when_every_figure_is_estimated() -> None:
    data = samples.run_sample()
    data = replace(
        data,
        devices=[d for d in data.devices if d.info.kind != "gpu"],
        phases=[p for p in data.phases if p.device_id != "gpu:0"],
    )  # every energy figure left is the CPU's power model
    html = RunRenderer(site=samples.SITE).render(RunReport(data, Assessment([], {}, [])))
    cells = page_of(html)
    assert "No findings: the analysis found nothing to act on" not in html
    assert "every energy figure is estimated by a power model" in cells.by_id["top-findings"]


def test_no_findings_is_not_said_when_every_phase_was_disturbed() -> None:
    data = samples.run_sample()
    disturbed = [
        replace(p, metrics=replace(p.metrics, disturbed=True, foreign_cpu_share=0.8))
        for p in data.phases
    ]
    data = replace(data, phases=disturbed)
    html = RunRenderer(site=samples.SITE).render(RunReport(data, Assessment([], {}, [])))
    assert "No findings: the analysis found nothing to act on" not in html
    assert "every phase was disturbed or invalid" in page_of(html).by_id["top-findings"]


def page_of(html: str) -> Cells:
    cells = Cells()
    cells.feed(html)
    return cells
