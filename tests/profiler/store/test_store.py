import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import METRICS, SampleRow
from profiler.store import SampleWriter, Store, StoreError
from profiler.store.opening import FINWATT_APPLICATION_ID, ForeignDatabaseError
from profiler.store.schema import SCHEMA_VERSION
from tests.profiler.store.minute_table import minute_rows

DEVICES = [
    DeviceInfo("host", "host", model="Xeon", logical_cores=64, mem_total_bytes=2**39),
    DeviceInfo(
        "cpu:0",
        "cpu",
        model="Xeon",
        logical_cores=32,
        power_limit_w=280.0,
        provenance="measured:rapl",
        details={"mirrors": ["intel-rapl:1"]},
    ),
    DeviceInfo("gpu:0", "gpu", model="H100", mem_total_bytes=80 * 2**30, power_limit_w=700.0),
]


def unsigned_zero_repr(row: SampleRow) -> str:
    return repr(replace(row, **{f: 0.0 for f in METRICS if getattr(row, f) == 0}))


optional_float = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)
sample_rows = st.builds(
    SampleRow,
    device_id=st.sampled_from(["host", "cpu:0", "gpu:0"]),
    t=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    util=st.none() | st.floats(min_value=0, max_value=1),
    power_w=optional_float,
    energy_j=optional_float,
    energy_from_power_j=optional_float,
    mem_used_bytes=st.none() | st.integers(min_value=0, max_value=2**50),
    clock_mhz=optional_float,
    temperature_c=optional_float,
    sm_active=st.none() | st.floats(min_value=0, max_value=1),
)


def test_new_database_is_wal_with_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "finwatt.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"run", "device", "sample", "phase", "finding"} <= tables


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(sample_rows, max_size=40))
def test_run_round_trips_unchanged(
    tmp_path_factory: pytest.TempPathFactory, rows: list[SampleRow]
) -> None:
    path = tmp_path_factory.mktemp("db") / "f.db"
    with Store(path) as store:
        run = store.runs.create("monitor", label="<b>eod</b>", config={"interval_s": 0.1})
        store.devices.add(run.id, DEVICES)
        store.samples.add(run.id, rows)
        phase = PhaseRecord(
            "risk", "cpu:0", 0.5, 1.0, 61.0, 1.2e6, "scenario", 0.49, True,
            PhaseMetrics.from_details({"j": 1, "energy_j": 5.0, "cpu_share": None}),
        )  # fmt: skip
        store.phases.add(run.id, phase)
    with Store(path) as store:
        assert store.runs.get(run.id) == run
        assert [d.info for d in store.devices.for_run(run.id)] == sorted(
            DEVICES, key=lambda d: d.device_id
        )
        expected = sorted(rows, key=lambda r: (r.device_id, r.t))
        got = store.samples.sample_rows(run.id)
        assert [(r.device_id, r.t) for r in got] == [(r.device_id, r.t) for r in expected]
        # SQLite keeps no sign on a zero (-0.0 reads back as 0.0, which compares equal),
        # so order by a key in which the two are the same
        assert sorted(got, key=unsigned_zero_repr) == sorted(expected, key=unsigned_zero_repr)
        assert store.phases.for_run(run.id) == [phase]


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute(f"PRAGMA application_id = {FINWATT_APPLICATION_ID}")  # a newer finwatt's
    conn.close()
    with pytest.raises(StoreError, match="newer than this finwatt"):
        Store(path)


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ForeignDatabaseError, match=r"not a SQLite database.*finwatt database"):
        Store(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_runs_are_listed_newest_first(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        a = store.runs.create("monitor", started="2026-11-01T00:00:00.000Z", status="complete")
        b = store.runs.create("profile", started="2026-11-02T00:00:00.000Z", status="complete")
        assert [r.id for r in store.runs.all()] == [b.id, a.id]


def test_stale_running_run_is_marked_interrupted_at_its_last_sample(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("monitor", started="2026-11-01T00:00:00.000Z", pid=999_999)
        store.devices.add(run.id, DEVICES[:1])
        store.samples.add(run.id, [SampleRow("host", 1.5, util=0.1)])
        live = store.runs.create("monitor")  # this process: alive, left alone
        assert store.runs.mark_stale(alive=lambda pid: pid != 999_999) == [run.id]
        marked = store.runs.get(run.id)
        assert marked is not None and marked.status == "interrupted"
        assert marked.ended_iso == "2026-11-01T00:00:01.500Z"
        still = store.runs.get(live.id)
        assert still is not None and still.status == "running"


def test_writer_commits_within_a_second_without_close(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    with Store(path) as store:
        run = store.runs.create("monitor")
        store.devices.add(run.id, DEVICES[:1])
    writer = SampleWriter(path, run.id, flush_interval_s=0.2)
    writer.put([SampleRow("host", 0.1, util=0.2)])
    deadline = time.monotonic() + 3.0
    with Store(path) as reader:
        while not reader.samples.sample_rows(run.id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reader.samples.sample_rows(run.id)) == 1  # visible to another connection
    writer.put_status("host", "degraded", "scripted")
    writer.close()
    with Store(path) as reader:
        assert reader.devices.for_run(run.id)[0].status == "degraded"
        assert writer.rows_written == 1


def test_add_run_stores_everything_or_renames_a_taken_id(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("monitor", started="2026-11-01T00:00:00.000Z", status="complete")
        devices = [DeviceRecord(DEVICES[0], status="degraded", status_reason="x")]
        samples = [("host", 0.0, 0.5, *[None] * 7), ("host", 1.0, 0.25, *[None] * 7)]
        phase = PhaseRecord("risk", "host", 1.0, 0.0, 1.0, 10.0, "scenario")
        finding = {"rule": "R", "device": "host", "severity": "info", "message": "m"}
        with pytest.raises(StoreError, match="already has a run"):
            store.runs.add(run, devices=devices, samples=samples)
        stored = store.runs.add(
            run,
            devices=devices,
            samples=samples,
            phases=[phase],
            findings=[finding],
            if_taken=lambda taken: replace(taken, id="renamed"),
        )
        assert stored == replace(run, id="renamed")
        assert store.runs.get("renamed") == stored
        assert store.devices.for_run("renamed") == devices
        assert [(r.t, r.util) for r in store.samples.sample_rows("renamed")] == [
            (0.0, 0.5),
            (1.0, 0.25),
        ]
        assert minute_rows(store.path, "renamed", "host")[0]["util_sum"] == 0.75
        assert store.phases.for_run("renamed") == [phase]
        assert store.findings.for_run("renamed")[0]["rule"] == "R"
        assert store.samples.sample_rows(run.id) == []  # the refused add left nothing


def test_sample_values_in_batches_and_only_sample_columns(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("monitor", status="complete")
        store.devices.add(run.id, DEVICES)
        store.samples.add(
            run.id, [SampleRow(d, float(t)) for t in range(5) for d in ("host", "gpu:0")]
        )
        batches = list(store.samples.sample_values(run.id, ("t", "device_id"), batch_rows=4))
        assert [len(b) for b in batches] == [4, 4, 2]
        assert batches[0][:2] == [(0.0, "gpu:0"), (1.0, "gpu:0")]
        with pytest.raises(ValueError, match="not sample columns"):
            next(store.samples.sample_values(run.id, ("t", "run_id; DROP TABLE sample")))
