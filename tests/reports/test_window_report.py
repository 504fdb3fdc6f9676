"""`finwatt report --since`: a window across runs with findings, the trend and daily energy."""

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from profiler.model.device import DeviceInfo
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from tests.fakes.cli import run_finwatt
from tests.reports.test_report import EVIL_LABEL, Cells


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def profile_run(store: Store, started: datetime, units_per_j: float, label: str) -> str:
    run = store.runs.create(
        "profile",
        label=label,
        config={"command": "run", "size": "standard"},
        started=iso(started),
        host=socket.gethostname(),
        status="running",
        pid=os.getpid(),
    )
    store.devices.add(run.id, [DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")])
    store.samples.add(
        run.id,
        [SampleRow("cpu:0", float(t), power_w=50.0, energy_j=50.0 * t) for t in range(1, 11)],
    )
    store.phases.add(
        run.id,
        PhaseRecord(
            "risk",
            "cpu:0",
            1.0,
            0.0,
            10.0,
            units_per_j * 500,
            "scenario",
            1.0,
            True,
            PhaseMetrics.of(units_per_j=units_per_j, provenance="measured:rapl"),
        ),
    )
    store.runs.finish(run.id, "complete", ended=iso(started + timedelta(seconds=10)))
    return run.id


def test_window_report_flags_a_regression_and_escapes_labels(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    now = datetime.now(UTC)
    with Store(db) as store:
        for days_ago, upj in ((5, 1000.0), (4, 1010.0), (3, 990.0)):
            profile_run(store, now - timedelta(days=days_ago), upj, "nightly")
        bad = profile_run(store, now - timedelta(days=1), 850.0, EVIL_LABEL)  # 15% down
    out = tmp_path / "w.html"
    result = run_finwatt("report", "--since", "7d", "-o", str(out), "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    cells = Cells()
    cells.feed(html)
    assert cells.by_id["regressions"] == "1"
    assert cells.by_class["regression"][0].count(bad) == 1
    assert len(cells.by_class["point"]) == 3
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html
    daily = cells.by_id["daily"]
    assert "125 mWh" in daily and "ESTIMATED" not in daily  # measured energy is not labelled
