"""A job run's `job` row and every run's `status_reason` travel in the interchange document.

docs/interchange.md#json-document: `run.job` (the `job` table row of a `finwatt exec` run) and
`run.status_reason` are optional fields of version 1; export -> import -> export is
lossless with them, and documents without them (older ones) import as before.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from profiler.model.device import DeviceInfo
from profiler.model.job import JobRecord
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from profiler.store.imports import DuplicateRunError
from profiler.store.interchange import (
    InterchangeError,
    export_run,
    import_run,
    parse_document,
    write_json,
)
from tests.fakes.cli import exec_document, run_finwatt
from tests.profiler.store.job_records import job_record

REASON = "writing samples: the disk is full; samples up to t=2.0 s kept"


def _job(run_id: str) -> JobRecord:
    return job_record(
        run_id,
        command=["var-batch", "--date", "2026-11-27", "ünïcode \x1b[2J"],
        exit_status=137,
        tags={"desk": "rates", "book": "EUR-1"},
        dynamic_j=80.25,
        idle_j=3.5,
        idle_share="cpu-time",
        details={"devices": {"cpu:0": {"energy_j": 130.0, "idle_power_w": 1.48}}},
    )


def _stored_job_run(path: Path) -> str:
    """A failed job run with a device, three samples, its job row and its reason."""
    cpu = DeviceInfo("cpu:0", "cpu", model="test cpu", provenance="measured:rapl")
    with Store(path) as store:
        run = store.runs.create("job", label="var", interval_s=1.0, pid=0)
        store.devices.add(run.id, [cpu])
        store.samples.add(
            run.id,
            [
                SampleRow(device_id="cpu:0", t=float(t), power_w=10.0, energy_j=10.0 * t)
                for t in range(3)
            ],
        )
        store.jobs.add(_job(run.id))
        store.runs.finish(run.id, "failed", reason=REASON)
    return run.id


def test_a_job_run_exports_imports_and_exports_again_unchanged(tmp_path: Path) -> None:
    run_id = _stored_job_run(tmp_path / "a.db")
    with Store(tmp_path / "a.db") as store:
        first = export_run(store, run_id)
    assert first["run"]["status_reason"] == REASON
    assert first["run"]["job"]["command"] == _job(run_id).command
    with Store(tmp_path / "b.db") as other:
        imported = import_run(other, copy.deepcopy(first))
        assert imported == run_id
        assert other.jobs.get(imported) == _job(run_id)
        assert other.runs.status_reason(imported) == REASON
        again = export_run(other, imported)
    assert again == first


def test_the_streamed_export_carries_the_job_and_the_reason(tmp_path: Path) -> None:
    run_id = _stored_job_run(tmp_path / "a.db")
    stream = io.StringIO()
    with Store(tmp_path / "a.db") as store:
        write_json(store, run_id, stream)
        whole = export_run(store, run_id)
    assert parse_document(stream.getvalue()) == json.loads(json.dumps(whole))


def test_a_job_run_imported_again_is_refused_and_replaced_with_its_job_row(
    tmp_path: Path,
) -> None:
    run_id = _stored_job_run(tmp_path / "a.db")
    with Store(tmp_path / "a.db") as store:
        doc = export_run(store, run_id)
        with pytest.raises(DuplicateRunError):  # its job would be charged twice
            import_run(store, copy.deepcopy(doc))
        assert import_run(store, copy.deepcopy(doc), replace=True) == run_id
        assert store.jobs.get(run_id) == _job(run_id)
        assert store.runs.status_reason(run_id) == REASON
        assert len(store.jobs.since("2000-01-01T00:00:00.000Z")) == 1


def test_an_older_document_without_job_or_reason_still_imports(tmp_path: Path) -> None:
    run_id = _stored_job_run(tmp_path / "a.db")
    with Store(tmp_path / "a.db") as store:
        doc = export_run(store, run_id)
    del doc["run"]["job"], doc["run"]["status_reason"]
    with Store(tmp_path / "b.db") as other:
        imported = import_run(other, copy.deepcopy(doc))
        assert other.jobs.get(imported) is None
        assert other.runs.status_reason(imported) is None
        assert export_run(other, imported) == doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "monitor"}, "run.job: only a run of kind 'job' has one"),
        ({"job": {"command": []}}, "run.job.command"),
        ({"job": {"idle_share": "half"}}, "run.job.idle_share: must be"),
        ({"job": {"dynamic_j": -1.0}}, "run.job.dynamic_j: must be >= 0"),
        ({"job": {"tags": {"desk": 1}}}, "run.job.tags.desk: must be a string"),
        ({"job": {"surprise": 1}}, "run.job.surprise: unknown field"),
        ({"status_reason": 5}, "run.status_reason: must be a string"),
    ],
)
def test_a_bad_job_or_reason_is_refused_naming_the_field_and_stores_nothing(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    run_id = _stored_job_run(tmp_path / "a.db")
    with Store(tmp_path / "a.db") as store:
        doc = export_run(store, run_id)
    for key, value in change.items():
        if isinstance(value, dict):
            doc["run"][key] = {**doc["run"][key], **value}
        else:
            doc["run"][key] = value
    with Store(tmp_path / "b.db") as other:
        with pytest.raises(InterchangeError, match=message.replace(".", r"\.")):
            import_run(other, doc)
        assert other.runs.all() == []


def test_a_finwatt_exec_run_round_trips_through_the_cli(tmp_path: Path) -> None:
    db_a, db_b = tmp_path / "a.db", tmp_path / "b.db"
    ran = run_finwatt(
        "exec", "--units", "10", "--unit", "trades", "--tag", "desk=rates", "--db", str(db_a),
        "--json", "--", "sh", "-c", "exit 3",
    )  # fmt: skip
    assert ran.returncode == 3, ran.stderr
    run_id = exec_document(ran.stderr)["run"]
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert run_finwatt("export", run_id, "-o", str(first), "--db", str(db_a)).returncode == 0
    done = run_finwatt("import", str(first), "--db", str(db_b))
    assert done.returncode == 0, done.stderr
    assert run_finwatt("export", run_id, "-o", str(second), "--db", str(db_b)).returncode == 0
    doc = json.loads(first.read_text())
    assert doc["run"]["job"]["exit_status"] == 3
    assert doc["run"]["job"]["tags"] == {"desk": "rates"}
    assert json.loads(second.read_text()) == doc


def test_the_job_object_has_every_column_of_the_job_row_but_its_run_id() -> None:
    from dataclasses import fields

    from profiler.store.interchange import JobDoc

    assert list(JobDoc.model_fields) == [f.name for f in fields(JobRecord) if f.name != "run_id"]
