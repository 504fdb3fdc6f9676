import copy
import csv
import io
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiler.model.samples import METRICS
from profiler.store import imports, interchange
from profiler.store.database import Store
from profiler.store.imports import DuplicateRunError
from profiler.store.interchange import (
    CSV_COLUMNS,
    InterchangeError,
    canonical_utc,
    export_run,
    import_run,
    parse_document,
    validate_document,
    write_csv,
    write_json,
)
from profiler.store.rows import insert_sample_values
from tests.fakes.cli import run_finwatt, run_finwatt_process
from tests.fakes.history import history_doc, write_history


def small_doc() -> dict[str, Any]:
    t = np.arange(4, dtype=float)
    return history_doc(
        [
            {"id": "cpu:0", "kind": "cpu", "power_limit_w": 280.0, "provenance": "measured:rapl"},
            {"id": "host", "kind": "host", "logical_cores": 64},
        ],
        t,
        {
            "cpu:0": {"util": [0.1, 0.2, 0.3, 0.4], "power_w": [100.0, 110.0, 120.0, 130.0]},
            "host": {"util": [0.5, 0.5, 0.5, 0.5], "mem_used_bytes": [1, 2, 3, 4]},
        },
        run_id="small",
        phases=[
            {
                "workload": "risk",
                "device": "cpu:0",
                "target_load": 1.0,
                "t_start": 0.0,
                "t_end": 3.0,
                "units": 1.2e6,
                "unit": "scenario",
            }
        ],
    )


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("run", "device", "sample", "phase", "finding")
        }
    finally:
        conn.close()


# --- property: export -> import -> export is lossless -------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
# within the document's physical bounds (power <= 1 MW, t <= 100 years; docs/interchange.md)
non_negative = st.floats(min_value=0, max_value=1e6, allow_nan=False)
fraction = st.floats(min_value=0, max_value=1)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


device_ids = st.sampled_from(["cpu:0", "cpu:1", "dram:0", "gpu:0", "gpu:1", "host"])
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | st.text()
json_objects = st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: canonical_utc(d.isoformat() + "Z")
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    ids = sorted(draw(st.sets(device_ids, min_size=1, max_size=4)))
    devices = [
        {
            "id": d,
            "kind": d.split(":")[0],
            "model": draw(optional(st.text(max_size=8))),
            "logical_cores": draw(optional(st.integers(1, 512))),
            "mem_total_bytes": draw(optional(st.integers(0, 2**50))),
            "power_limit_w": draw(optional(st.floats(min_value=1, max_value=1e4))),
            "provenance": draw(
                st.sampled_from([None, "measured:rapl", "measured:nvml-energy", "estimated:x"])
            ),
            "details": draw(json_objects),
            "status": draw(st.sampled_from(["ok", "degraded", "lost"])),
            "status_reason": draw(optional(st.text(max_size=8))),
        }
        for d in ids
    ]
    samples = []
    for d in ids:
        for t in sorted(draw(st.lists(non_negative, max_size=6))):
            samples.append(
                {
                    "t": t,
                    "device": d,
                    "util": draw(optional(fraction)),
                    "power_w": draw(optional(non_negative)),
                    "energy_j": draw(optional(non_negative)),
                    "energy_from_power_j": draw(optional(non_negative)),
                    "mem_used_bytes": draw(optional(st.integers(0, 2**62))),
                    "clock_mhz": draw(optional(non_negative)),
                    "temperature_c": draw(optional(finite)),
                    "sm_active": draw(optional(fraction)),
                }
            )
    phases = []
    for start in sorted(draw(st.lists(non_negative, max_size=3))):
        phases.append(
            {
                "workload": draw(st.sampled_from(["risk", "inference", "ledger"])),
                "device": draw(st.sampled_from(ids)),
                "target_load": draw(fraction),
                "t_start": start,
                "t_end": start + draw(non_negative),
                "units": draw(optional(non_negative)),
                "unit": draw(optional(st.text(max_size=8))),
                "achieved_load": draw(optional(fraction)),
                "valid": draw(optional(st.booleans())),
                "details": draw(json_objects),
            }
        )
    findings = [
        {
            "rule": draw(st.sampled_from(["IDLE_GPU", "OVER_PROVISIONED_CPU"])),
            "device": draw(optional(st.sampled_from(ids))),
            "severity": "warning",
            "message": draw(st.text(max_size=20)),
            "evidence": draw(json_objects),
            "recommendation": draw(optional(json_objects)),
            "savings": draw(optional(json_objects)),
            "confidence": draw(optional(st.sampled_from(["low", "medium", "high"]))),
            "assumptions": draw(st.lists(st.text(max_size=8), max_size=2)),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    started = draw(timestamps)
    status = draw(st.sampled_from(["running", "complete", "interrupted", "failed"]))
    return {
        "format": "finwatt-run",
        "version": 1,
        "run": {
            "id": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True)),
            "kind": draw(st.sampled_from(["profile", "monitor", "scheduled", "job"])),
            "label": draw(optional(st.text(max_size=10))),
            "host": draw(st.text(min_size=1, max_size=10)),
            "started": started,
            "ended": None if status == "running" else started,
            "status": status,
            "interval_s": draw(optional(st.floats(min_value=0.05, max_value=60))),
            "missed_ticks": draw(st.integers(0, 100)),
            "finwatt_version": "0.1.0",
            "config": draw(json_objects),
        },
        "devices": devices,
        "samples": samples,
        "phases": phases,
        "findings": findings,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
def test_import_export_lossless(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "f.db") as store:
        run_id = import_run(store, copy.deepcopy(doc))
        assert run_id == doc["run"]["id"]  # a free id is kept
        exported = export_run(store, run_id)
        assert exported == doc
        with pytest.raises(DuplicateRunError):  # same database: a run is stored once
            import_run(store, exported)
        assert import_run(store, exported, replace=True) == run_id
        assert export_run(store, run_id) == doc
        stream = io.StringIO()
        assert write_json(store, run_id, stream) == len(doc["samples"])
        assert json.loads(stream.getvalue()) == doc


def test_streamed_and_in_memory_exports_agree(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, small_doc())
        stream = io.StringIO()
        write_json(store, run_id, stream)
        assert json.loads(stream.getvalue()) == export_run(store, run_id)
        assert stream.getvalue().count("\n") > len(small_doc()["samples"])  # a sample a line


def test_imported_defaults_and_timestamps(tmp_path: Path) -> None:
    doc = small_doc()
    doc["run"]["started"] = "2026-11-01T02:00:00+02:00"
    doc["samples"][0] = {"t": 0, "device": "cpu:0"}  # absent metrics read as null
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, doc, source="x.json")
        run = store.runs.get(run_id)
        assert run is not None
        assert run.started_iso == "2026-11-01T00:00:00.000Z"
        assert run.pid is None
        assert run.config["imported_from"]["source"] == "x.json"
        first = store.samples.sample_rows(run_id, "cpu:0")[0]
        assert first.t == 0.0
        assert all(getattr(first, f) is None for f in METRICS)
        exported = export_run(store, run_id)
        assert exported["devices"][1]["status"] == "ok"
        assert "imported_from" not in exported["run"]["config"]


def test_import_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "f.db"
    original = insert_sample_values

    def failing(conn: sqlite3.Connection, run_id: str, samples: Iterable[Any]) -> None:
        original(conn, run_id, samples)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(imports, "insert_sample_values", failing)  # as `store_import` calls it
    with Store(db) as store, pytest.raises(sqlite3.OperationalError):
        import_run(store, small_doc())
    assert counts(db) == {"run": 0, "device": 0, "sample": 0, "phase": 0, "finding": 0}


def test_error_count_and_path() -> None:
    doc = small_doc()
    doc["samples"][1]["util"] = 1.5
    doc["samples"][5]["util"] = -1
    doc["run"]["kind"] = "batch"
    with pytest.raises(InterchangeError) as caught:
        validate_document(doc)
    assert str(caught.value) == (
        "run.kind: must be 'profile', 'monitor', 'scheduled' or 'job' (got \"batch\") (and 2 more)"
    )


def test_large_sample_index_in_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interchange, "_CHUNK", 3)  # errors in a later chunk keep their index
    doc = small_doc()
    doc["samples"][7]["util"] = 2.0
    with pytest.raises(InterchangeError, match=r"^samples\[7\]\.util: must be <= 1 \(got 2.0\)$"):
        validate_document(doc)


# --- the CLI ------------------------------------------------------------------------


def test_monitor_export_import_roundtrip(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    result = run_finwatt(
        "monitor", "--duration", "2s", "--interval", "0.1s", "--json", "--db", str(a)
    )
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run"]
    first = tmp_path / "first.json"
    result = run_finwatt("export", run_id, "--format", "json", "-o", str(first), "--db", str(a))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    doc = json.loads(first.read_text())
    assert doc["run"]["id"] == run_id
    assert len(doc["samples"]) > 10

    result = run_finwatt("import", str(first), "--json", "--db", str(b))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"schema": "finwatt.import/1", "run": run_id}
    second = run_finwatt("export", run_id, "--db", str(b))
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.read_text()  # byte for byte

    # a real pipe on stdin: the process boundary is the point
    result = run_finwatt_process("import", "-", "--json", "--db", str(a), stdin=first.read_text())
    assert result.returncode == 2  # back where it was recorded: a run is stored once
    assert f"run {run_id} is already stored" in result.stderr and "--replace" in result.stderr

    result = run_finwatt("export", run_id, "--format", "csv", "--db", str(a))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + len(doc["samples"])
    assert {r[0] for r in rows[1:]} == {run_id}
    by_key = {(s["device"], s["t"]): s for s in doc["samples"]}
    for row in rows[1:]:
        sample = by_key[(row[1], float(row[2]))]
        for name, cell in zip(CSV_COLUMNS[3:], row[3:], strict=True):
            assert (None if cell == "" else float(cell)) == sample[name]


def test_import_text_confirmation(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(small_doc()))
    result = run_finwatt("import", str(path), "--db", str(tmp_path / "f.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported run small from {path}"


def mutate(change: Callable[[dict[str, Any]], object]) -> str:
    doc = small_doc()
    change(doc)
    return json.dumps(doc)


def set_at(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


INVALID = [
    ("missing field", mutate(lambda d: d["run"].pop("host")), "run.host: required field missing"),
    ("missing samples", mutate(lambda d: d.pop("samples")), "samples: required field missing"),
    (
        "wrong type",
        mutate(set_at(("samples", 1, "util"), "high")),
        'samples[1].util: must be a number (got "high")',
    ),
    (
        "string number",
        mutate(set_at(("samples", 2, "power_w"), "5.0")),
        "samples[2].power_w: must be a number",
    ),
    (
        "non-monotone t",
        mutate(set_at(("samples", 2, "t"), 0.5)),
        "samples[2].t: 0.5 is before the previous sample of cpu:0 (t=1.0)",
    ),
    (
        "util > 1",
        mutate(set_at(("samples", 6, "util"), 1.5)),
        "samples[6].util: must be <= 1 (got 1.5)",
    ),
    ("negative t", mutate(set_at(("samples", 0, "t"), -1.0)), "samples[0].t: must be >= 0"),
    (
        "unknown device",
        mutate(set_at(("samples", 3, "device"), "gpu:9")),
        "samples[3].device: unknown device 'gpu:9' (not in devices)",
    ),
    (
        "unknown phase device",
        mutate(set_at(("phases", 0, "device"), "gpu:0")),
        "phases[0].device: unknown device 'gpu:0'",
    ),
    (
        "unknown field",
        mutate(set_at(("samples", 0, "utilization"), 0.1)),
        "samples[0].utilization: unknown field",
    ),
    ("bad kind", mutate(set_at(("devices", 0, "kind"), "tpu")), "devices[0].kind: must be"),
    (
        "id/kind mismatch",
        mutate(set_at(("devices", 0, "kind"), "gpu")),
        "devices[0].id: 'cpu:0' does not match kind 'gpu'",
    ),
    (
        "duplicate device",
        mutate(lambda d: d["devices"].append(d["devices"][0])),
        "devices[2].id: duplicate device 'cpu:0'",
    ),
    ("bad status", mutate(set_at(("run", "status"), "done")), "run.status: must be"),
    (
        "naive timestamp",
        mutate(set_at(("run", "started"), "2026-11-01T00:00:00")),
        "run.started: '2026-11-01T00:00:00' has no UTC offset",
    ),
    (
        "not a timestamp",
        mutate(set_at(("run", "started"), "yesterday")),
        "run.started: 'yesterday' is not an ISO-8601 timestamp",
    ),
    (
        "ended before started",
        mutate(set_at(("run", "ended"), "2026-10-01T00:00:00Z")),
        "run.ended: '2026-10-01T00:00:00Z' is before run.started",
    ),
    (
        "bad format",
        mutate(set_at(("format",), "other")),
        "format: must be 'finwatt-run' (got \"other\")",
    ),
    (
        "bad version",
        mutate(set_at(("version",), 2)),
        "version: this finwatt reads version 1 (got 2)",
    ),
    ("malformed JSON", '{"format": "finwatt-run", ', "not valid JSON: "),
    # NaN / Infinity (json.dumps writes bare NaN) refused where they hide (docs/interchange.md)
    (
        "NaN in run config",
        mutate(set_at(("run", "config"), {"site": {"pue": float("nan")}})),
        "run.config: site.pue must be a finite number (got nan)",
    ),
    (
        "Infinity in phase details",
        mutate(set_at(("phases", 0, "details"), {"energy_j": float("inf")})),
        "phases[0].details: energy_j must be a finite number (got inf)",
    ),
    (
        "NaN in device details",
        mutate(set_at(("devices", 0, "details"), {"tdp": [1.0, float("nan")]})),
        "devices[0].details: tdp[1] must be a finite number",
    ),
    (
        "NaN in finding evidence",
        mutate(
            set_at(
                ("findings",),
                [{"rule": "R", "severity": "low", "message": "m", "evidence": {"x": float("nan")}}],
            )
        ),
        "findings[0].evidence: x must be a finite number",
    ),
    (
        "NaN sample",
        mutate(set_at(("samples", 1, "power_w"), float("nan"))),
        "samples[1].power_w: must be a finite number",
    ),
    ("not an object", "[1, 2]", "document: must be a JSON object"),
]


# The list runs through the real CLI; every case also runs in-process (fast).
CLI_CASES = {
    "missing field",
    "wrong type",
    "non-monotone t",
    "util > 1",
    "unknown device",
    "bad format",
    "bad version",
    "malformed JSON",
    "NaN in run config",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [c[1:] for c in INVALID if c[0] in CLI_CASES],
    ids=[c[0] for c in INVALID if c[0] in CLI_CASES],
)
def test_invalid_document_refused_by_cli(tmp_path: Path, text: str, expected: str) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, small_doc())
    before = counts(db)
    path = tmp_path / "bad.json"
    path.write_text(text)
    result = run_finwatt("import", str(path), "--json", "--db", str(db))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"finwatt: error: {path}: ")
    assert expected in lines[0]
    assert lines[0].endswith("; nothing imported")
    assert counts(db) == before


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_document_refused(tmp_path: Path, text: str, expected: str) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, small_doc())
        before = counts(db)
        with pytest.raises(InterchangeError) as caught:
            import_run(store, parse_document(text))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert counts(db) == before


def test_export_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "f.db")
    Store(Path(db)).close()  # export only reads: a missing database is its own error
    result = run_finwatt("export", "nope", "--db", db)
    assert result.returncode == 2
    assert result.stderr.strip() == "finwatt: error: no run nope; `finwatt runs` lists them"
    with Store(Path(db)) as store:
        import_run(store, small_doc())
    result = run_finwatt("export", "small", "--format", "parquet", "--db", db)
    assert result.returncode == 2
    assert "parquet is not supported in this version" in result.stderr
    result = run_finwatt("import", str(tmp_path / "missing.json"), "--db", db)
    assert result.returncode == 2
    assert "cannot import" in result.stderr and "No such file" in result.stderr


# --- helpers for synthetic histories ------------------------------------------------


def test_history_doc_and_write_history_agree(tmp_path: Path) -> None:
    t = np.arange(0.0, 600.0, 2.5)
    util = np.linspace(0, 1, t.size)
    power = 100.0 + 200.0 * util
    power[3] = np.nan  # absent reading
    series = {
        "gpu:0": {"util": util, "power_w": power, "mem_used_bytes": np.full(t.size, 2.0**30)},
        "host": {"util": util / 2},
    }
    devices = [{"id": "gpu:0", "kind": "gpu", "power_limit_w": 700.0}, "host"]
    doc = history_doc(devices, t, series, run_id="h", started="2026-11-01T00:00:00.000Z")
    path = tmp_path / "h.json"
    assert write_history(path, devices, t, series, run_id="h") == 2 * t.size
    assert parse_document(path.read_bytes()) == doc
    assert doc["samples"][3]["power_w"] is None
    assert isinstance(doc["samples"][0]["mem_used_bytes"], int)
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, doc)
        assert len(store.samples.sample_rows(run_id, "gpu:0")) == t.size
        stream = io.StringIO()
        assert write_csv(store, run_id, stream) == 2 * t.size


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, value in vars(interchange).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == "profiler.store.interchange"
    }
    assert public <= set(interchange.__all__)
    assert all(hasattr(interchange, name) for name in interchange.__all__)


def test_import_counts_counter_resets_in_the_import_note(tmp_path: Path) -> None:
    """An imported counter that restarts is a reset, counted on import (docs/analyzer.md)."""
    t = np.arange(1.0, 11.0)
    energy = 100.0 * t
    energy[5:] -= energy[5]  # the GPU counter restarts at 0
    doc = history_doc(
        [{"id": "gpu:0", "kind": "gpu", "provenance": "measured:nvml-energy"}],
        t,
        {"gpu:0": {"energy_j": energy}},
        run_id="reset",
    )
    with Store(tmp_path / "f.db") as store:
        run_id = import_run(store, doc)
        run = store.runs.get(run_id)
        assert run is not None
        assert run.config["imported_from"]["counter_resets"] == {"gpu:0": 1}
        stored = [s["energy_j"] for s in export_run(store, run_id)["samples"]]
        assert stored == energy.tolist()  # stored as given


def test_a_mig_instance_device_round_trips(tmp_path: Path) -> None:
    """MIG GPU instances are devices `gpu:N/mig:G` (docs/gpu.md): export -> import keeps them."""
    t = np.arange(3, dtype=float)
    doc = history_doc(
        [
            {
                "id": "gpu:0",
                "kind": "gpu",
                "power_limit_w": 700.0,
                "provenance": "measured:nvml-energy",
            },
            {"id": "gpu:0/mig:1", "kind": "gpu"},
        ],
        t,
        {
            "gpu:0": {"power_w": [300.0, 310.0, 320.0]},
            "gpu:0/mig:1": {"sm_active": [0.4, 0.5, 0.6]},
        },
        run_id="mig",
    )
    with Store(tmp_path / "a.db") as first, Store(tmp_path / "b.db") as second:
        exported = export_run(first, import_run(first, copy.deepcopy(doc)))
        assert [d["id"] for d in exported["devices"]] == ["gpu:0", "gpu:0/mig:1"]
        assert export_run(second, import_run(second, copy.deepcopy(exported))) == exported
