"""Job, attribution, housekeeping and inventory rows written through a read-only `Store`.

docs/decisions.md#hostile-input (jobs, attribution); docs/decisions.md#audit-trail (pruning).

A `Store(read_only=True)` reads through a `mode=ro` connection; its writes must go
through `Store.transaction()`, which opens the writing connection when the file is
writable and says in one line when it is not, like every other write. Before, `jobs.add`
and `attribution.add` wrote through the read connection and failed with SQLite's
"attempt to write a readonly database" even on a writable file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.model.attribution_rows import AttributionRow
from profiler.model.device import DeviceInfo
from profiler.model.job import JobRecord
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from profiler.store.opening import StoreError
from tests.profiler.store.job_records import job_record
from tests.profiler.store.minute_table import minute_rows
from tests.robustness._outputs_support import read_only_file, sha256


def _job(run_id: str) -> JobRecord:
    return job_record(
        run_id,
        command=["var-batch"],
        exit_status=0,
        units=10.0,
        tags={},
        seconds=1.0,
        dynamic_j=5.0,
        idle_unallocated_j=1.0,
        host_energy_j=6.0,
        cpu_s=1.0,
        peak_rss_bytes=1,
        details={},
    )


def _rows(minute: int) -> list[AttributionRow]:
    return [AttributionRow(minute, "host", "idle", None, None, 60.0, 0.0, 0.0, 3.0, "x")]


def _run(path: Path) -> str:
    with Store(path) as store:
        return store.runs.create("job", label="var", status="complete").id


def test_a_read_only_store_writes_jobs_and_attribution_on_a_writable_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.db"
    run_id = _run(path)
    with Store(path, read_only=True) as store:
        store.jobs.add(_job(run_id))
        store.attribution.add(run_id, _rows(0) + _rows(1))
        assert store.attribution.delete_before(run_id, 1) == 1
    with Store(path, read_only=True) as store:
        assert store.jobs.get(run_id) == _job(run_id)
        assert [r.minute for r in store.attribution.for_run(run_id)] == [1]


def test_on_a_read_only_file_those_writes_fail_with_the_store_error(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    run_id = _run(path)
    with read_only_file(path):
        before = sha256(path)
        with Store(path, read_only=True) as store:
            with pytest.raises(StoreError, match="read-only"):
                store.jobs.add(_job(run_id))
            with pytest.raises(StoreError, match="read-only"):
                store.attribution.add(run_id, _rows(0))
            assert store.jobs.get(run_id) is None
        assert sha256(path) == before


def _run_with_samples(path: Path) -> str:
    """A run with 3 minutes of cpu:0 samples (at 30 s) and their rollups."""
    with Store(path) as store:
        run_id = store.runs.create("monitor", label="m", status="complete").id
        store.devices.add(run_id, [DeviceInfo("cpu:0", "cpu")])
        rows = [SampleRow("cpu:0", 30.0 * i, power_w=10.0) for i in range(6)]
        store.samples.add(run_id, rows)
        return run_id


def test_a_read_only_store_prunes_and_writes_inventory_on_a_writable_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.db"
    run_id = _run_with_samples(path)
    with Store(path, read_only=True) as store:
        assert store.housekeeping.delete_raw_before(run_id, 2) == 4  # minutes 0 and 1 have rollups
        assert store.housekeeping.delete_minutes_before(run_id, 1) == 1
        store.inventory.add(run_id, {"kernel": "6.1.0", "bmc_firmware": None})
    with Store(path, read_only=True) as store:
        assert [r.t for r in store.samples.sample_rows(run_id)] == [120.0, 150.0]
        assert [m["minute"] for m in minute_rows(store.path, run_id, "cpu:0")] == [1, 2]
        assert store.inventory.for_run(run_id) == {"kernel": "6.1.0", "bmc_firmware": None}


def test_on_a_read_only_file_pruning_and_inventory_fail_with_the_store_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.db"
    run_id = _run_with_samples(path)
    with read_only_file(path):
        before = sha256(path)
        with Store(path, read_only=True) as store:
            with pytest.raises(StoreError, match="read-only"):
                store.housekeeping.delete_raw_before(run_id, 2)
            with pytest.raises(StoreError, match="read-only"):
                store.housekeeping.delete_minutes_before(run_id, 1)
            with pytest.raises(StoreError, match="read-only"):
                store.inventory.add(run_id, {"kernel": "6.1.0"})
            assert (
                len(store.samples.sample_rows(run_id)) == 6
                and store.inventory.for_run(run_id) is None
            )
        assert sha256(path) == before
