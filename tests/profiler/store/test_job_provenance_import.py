"""Review fix 6: an imported job's provenance must be attributed from the run's devices."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from profiler.store.database import Store
from profiler.store.interchange import InterchangeError, export_run, import_run
from tests.fakes.cli import run_finwatt
from tests.profiler.store.test_interchange_job_and_reason import _stored_job_run


def _job_document(tmp_path: Path) -> dict[str, Any]:
    run_id = _stored_job_run(tmp_path / "a.db")
    with Store(tmp_path / "a.db") as store:
        return export_run(store, run_id)


@pytest.mark.parametrize(
    "claimed",
    ["measured:rapl", "whatever", "attributed:cpu-time(measured:ipmi-dcmi)"],
)
def test_a_job_provenance_not_attributed_from_the_runs_devices_is_refused(
    tmp_path: Path, claimed: str
) -> None:
    doc = copy.deepcopy(_job_document(tmp_path))
    doc["run"]["job"]["provenance"] = claimed
    with Store(tmp_path / "b.db") as store, pytest.raises(InterchangeError) as caught:
        import_run(store, doc)
    assert str(caught.value).startswith("run.job.provenance:")
    assert "\n" not in str(caught.value)


def test_an_attributed_job_provenance_from_the_runs_devices_imports(tmp_path: Path) -> None:
    doc = _job_document(tmp_path)
    assert doc["run"]["job"]["provenance"] == "attributed:cpu-time(measured:rapl)"
    with Store(tmp_path / "b.db") as store:
        run_id = import_run(store, doc)
        job = store.jobs.get(run_id)
    assert job is not None and job.provenance == "attributed:cpu-time(measured:rapl)"


def test_import_of_a_job_claiming_measured_exits_2_naming_the_field(tmp_path: Path) -> None:
    doc = copy.deepcopy(_job_document(tmp_path))
    doc["run"]["job"]["provenance"] = "measured:rapl"
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run_finwatt("import", str(path), "--db", str(tmp_path / "c.db"))
    assert result.returncode == 2
    assert "run.job.provenance" in result.stderr
    assert "Traceback" not in result.stderr
