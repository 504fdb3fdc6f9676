"""Attribution rows in a real SQLite database: stored, summed per group, pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profiler.model.attribution_rows import AttributionRow
from profiler.store.database import Store
from profiler.store.retention import prune

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SOURCE = "measured:rapl"
ATTRIBUTED = f"attributed:cpu-time({SOURCE})"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def minute_rows(
    minute: int, docker_j: float, other_j: float, idle_j: float
) -> list[AttributionRow]:
    return [
        AttributionRow(minute, "cgroup", "docker:4f1a2b3c4d5e", "docker", "/docker/4f", 60.0,
                       30.0, docker_j, 0.0, ATTRIBUTED),
        AttributionRow(minute, "cgroup", "other", None, None, 60.0, 5.0, other_j, 0.0, ATTRIBUTED),
        AttributionRow(minute, "process", "risk[42]", "risk", "risk --eod", 60.0, 30.0,
                       docker_j, 0.0, ATTRIBUTED),
        AttributionRow(minute, "host", "idle", None, None, 60.0, 0.0, 0.0, idle_j, SOURCE),
    ]  # fmt: skip


def stored_run(path: Path, started: datetime, minutes: int) -> str:
    with Store(path) as store:
        run = store.runs.create("monitor", started=iso(started), status="complete")
        for m in range(minutes):
            store.attribution.add(run.id, minute_rows(m, 100.0, 10.0, 50.0))
    return run.id


def test_rows_round_trip_and_a_repeated_minute_replaces_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    run_id = stored_run(path, NOW, 2)
    with Store(path) as store:
        store.attribution.add(run_id, minute_rows(1, 7.0, 1.0, 2.0))
        rows = store.attribution.for_run(run_id)
    assert len(rows) == 8
    assert rows[0] == minute_rows(0, 100.0, 10.0, 50.0)[0]
    assert {r.dynamic_j for r in rows if r.minute == 1 and r.group_kind == "cgroup"} == {7.0, 1.0}


def test_energy_by_cgroup_sums_the_window_and_adds_up_with_other_and_idle(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    stored_run(path, NOW, 10)
    with Store(path) as store:
        groups = store.attribution.energy_by_group(
            NOW + timedelta(minutes=2), NOW + timedelta(minutes=5), "cgroup"
        )
    by_name = {g.group: g for g in groups}
    assert [g.group for g in groups] == ["docker:4f1a2b3c4d5e", "idle", "other"]
    assert by_name["docker:4f1a2b3c4d5e"].energy_j == pytest.approx(300.0)  # minutes 2, 3, 4
    assert by_name["docker:4f1a2b3c4d5e"].provenance == ATTRIBUTED
    assert by_name["idle"].idle_j == pytest.approx(150.0)
    assert by_name["idle"].provenance == SOURCE
    assert sum(g.energy_j for g in groups) == pytest.approx(3 * 160.0)


def test_rows_are_pruned_with_the_minute_rollups(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    old = stored_run(path, NOW - timedelta(days=500), 3)
    young = stored_run(path, NOW - timedelta(days=1), 3)
    prune(path, keep_raw_days=14, keep_rollup_days=400, now=NOW)
    with Store(path) as store:
        assert store.attribution.for_run(old) == []
        assert len(store.attribution.for_run(young)) == 12
