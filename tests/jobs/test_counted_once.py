"""Chargeback and window analysis count one stretch of one host once, however it arrived.

A run stored twice (an old database where importing the same export twice made a
renamed copy), a `measure()` block inside a scheduled monitor run, and two hosts
monitored at the same time (docs/attribution.md#chargeback).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profiler.analysis.savings import Site
from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.job import JobRecord
from profiler.model.run import RunRecord
from profiler.model.samples import METRICS, SampleRow
from profiler.store.database import Store
from profiler.workflows.analyze import analyze_since
from profiler.workflows.chargeback import chargeback

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CPU = DeviceRecord(DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"))
HOST = DeviceRecord(DeviceInfo("host", "host", logical_cores=2))
POWER_W = 7.0


def _run(
    run_id: str,
    start_s: float,
    end_s: float,
    *,
    kind: str = "monitor",
    host: str = "h",
    **config: object,
) -> RunRecord:
    started, ended = T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s)
    return RunRecord(
        run_id, kind, None, host, started, ended, "complete", dict(config), "test", interval_s=1.0
    )


def _store(store: Store, run: RunRecord, seconds: int, job: JobRecord | None = None) -> None:
    rows = [
        SampleRow("cpu:0", float(t), util=0.5, energy_j=POWER_W * t) for t in range(seconds + 1)
    ]
    rows += [SampleRow("host", float(t), util=0.5) for t in range(seconds + 1)]
    values = [(r.device_id, r.t, *(getattr(r, m) for m in METRICS)) for r in rows]
    store.runs.add(
        run,
        devices=[HOST, CPU],
        samples=values,
        job=None
        if job is None
        else (lambda run_id: JobRecord(**{**job.__dict__, "run_id": run_id})),
    )


def _job(run_id: str) -> JobRecord:
    return JobRecord(
        run_id, ["price"], 0, None, None, {}, 100.0, 73.2, 0.0, 627.0, 700.0, "none",
        "attributed:cpu-time(measured:rapl)", 50.0, None, None, "process-tree",
    )  # fmt: skip


def test_a_job_stored_twice_is_charged_once(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("j1", 0, 100, kind="job"), 100, _job("j1"))
        copy = _run("j2", 0, 100, kind="job", imported_from={"run_id": "j1"})
        _store(store, copy, 100, _job("j2"))
        result = chargeback(store, T0.timestamp() - 1, "command", None)
    price = next(r for r in result.rows if r.group == "price")
    assert (price.jobs, price.energy_j) == (1, pytest.approx(73.2))
    assert result.host_energy_j == pytest.approx(700.0)


def test_two_hosts_monitored_at_once_are_both_counted(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("a", 0, 100, host="h1"), 100)
        _store(store, _run("b", 0, 100, host="h2"), 100)
        result = chargeback(store, T0.timestamp() - 1, "command", None)
    assert result.host_energy_j == pytest.approx(2 * POWER_W * 100)


def _window_energy_j(store: Store, source: str = "raw") -> float:
    now_s = T0.timestamp() + 3600.0
    result = analyze_since(
        store, 7200.0, Site(), Thresholds(), host="h", now_s=now_s, source=source
    )  # type: ignore[arg-type]
    return float(result.assessment.metrics["devices"]["cpu:0"]["energy_j"])


def test_a_window_counts_a_run_stored_twice_once(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("a", 0, 600), 600)
        _store(store, _run("a-copy", 0, 600, imported_from={"run_id": "a"}), 600)
        assert _window_energy_j(store) == pytest.approx(POWER_W * 600, rel=1e-3)


def test_a_window_counts_a_measure_block_inside_a_monitor_run_once(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("scheduled", 0, 600), 600)
        _store(store, _run("block", 100, 200, source="profiler.measure"), 100)
        assert _window_energy_j(store) == pytest.approx(POWER_W * 600, rel=1e-3)


def test_a_window_keeps_the_part_of_a_later_run_outside_the_earlier_one(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("first", 0, 300), 300)
        _store(store, _run("later", 200, 600), 400)
        assert _window_energy_j(store) == pytest.approx(POWER_W * 600, rel=1e-2)


@pytest.mark.parametrize("source", ["raw", "minute"])
def test_a_window_from_rollups_counts_overlapping_runs_once(tmp_path: Path, source: str) -> None:
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("scheduled", 0, 1200), 1200)
        _store(store, _run("block", 300, 420, source="profiler.measure"), 120)
        _store(store, _run("later", 1140, 1800), 660)
        assert _window_energy_j(store, source) == pytest.approx(POWER_W * 1800, rel=0.04)


def test_concurrent_jobs_without_a_monitor_run_count_the_host_once(tmp_path: Path) -> None:
    # two 100-s jobs at 7 W, the second starting at 50 s: the host ran 150 s, 1,050 J
    with Store(tmp_path / "f.db") as store:
        _store(store, _run("j1", 0, 100, kind="job"), 100, _job("j1"))
        later = JobRecord(**{**_job("j2").__dict__, "command": ["report"]})
        _store(store, _run("j2", 50, 150, kind="job"), 100, later)
        result = chargeback(store, T0.timestamp() - 1, "command", None)
    assert result.host_energy_j == pytest.approx(POWER_W * 150)
    assert result.total_j == pytest.approx(result.host_energy_j)
    assert {r.group: r.jobs for r in result.rows if r.jobs} == {"price": 1, "report": 1}
