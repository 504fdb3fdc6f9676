"""Importing is idempotent: a run never arrives twice (docs/interchange.md#run-ids-on-import).

A document whose run id is already stored is refused, and so is one already imported
under another id (the same content: its `content_sha256`); `replace=True` (`finwatt
import --replace`) swaps the stored run for the document in one transaction.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from profiler.store.database import Store
from profiler.store.imports import DuplicateRunError
from profiler.store.interchange import export_run, import_run
from tests.fakes.cli import run_finwatt
from tests.fakes.history import history_doc


def _doc(run_id: str = "night", power_w: float = 7.0) -> dict[str, Any]:
    t = np.arange(0.0, 61.0)
    return history_doc(
        [{"id": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"}],
        t,
        {"cpu:0": {"util": np.full_like(t, 0.3), "energy_j": power_w * t}},
        run_id=run_id,
        kind="monitor",
    )


def _rows(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("run", "device", "sample", "sample_minute")
        }
    finally:
        conn.close()


def test_a_run_id_already_stored_is_refused_and_nothing_is_added(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        assert import_run(store, _doc()) == "night"
    before = _rows(db)
    with Store(db) as store, pytest.raises(DuplicateRunError, match="--replace"):
        import_run(store, _doc(power_w=9.0))
    assert _rows(db) == before


def test_the_same_document_under_another_id_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, _doc("night"))
        with pytest.raises(DuplicateRunError, match="night"):
            import_run(store, _doc("night-copy"))
        assert [r.id for r in store.runs.all()] == ["night"]


def test_replace_swaps_the_stored_run_for_the_document(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, _doc())
        before = _rows(db)
        assert import_run(store, _doc(power_w=9.0), replace=True) == "night"
        assert _rows(db) == before
        samples = export_run(store, "night")["samples"]
    assert samples[-1]["energy_j"] == pytest.approx(9.0 * 60)


def test_replace_of_the_same_content_under_another_id_keeps_one_run(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        import_run(store, _doc("night"))
        assert import_run(store, _doc("night-copy"), replace=True) == "night-copy"
        assert [r.id for r in store.runs.all()] == ["night-copy"]


def test_a_failed_replace_keeps_the_stored_run(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        import_run(store, _doc())
    before = _rows(db)
    bad = _doc(power_w=9.0)
    bad["samples"].append({"t": 70.0, "device": "gpu:9"})  # an unknown device: refused
    with Store(db) as store, pytest.raises(ValueError, match="gpu:9"):
        import_run(store, bad, replace=True)
    assert _rows(db) == before


def test_cli_refuses_a_second_import_with_exit_2_and_replaces_on_request(
    tmp_path: Path,
) -> None:
    db, path = tmp_path / "f.db", tmp_path / "night.json"
    path.write_text(json.dumps(_doc()))
    first = run_finwatt("import", str(path), "--db", str(db))
    assert first.returncode == 0, first.stderr
    again = run_finwatt("import", str(path), "--db", str(db))
    assert again.returncode == 2
    assert "already" in again.stderr and "--replace" in again.stderr
    assert "Traceback" not in again.stderr
    replaced = run_finwatt("import", str(path), "--replace", "--db", str(db))
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.startswith("imported run night from ")
    with Store(db) as store:
        assert [r.id for r in store.runs.all()] == ["night"]


def test_an_export_imported_back_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        import_run(store, _doc("night"))
        exported = copy.deepcopy(export_run(store, "night"))
        exported["run"]["id"] = "night-2"
        with pytest.raises(DuplicateRunError):
            import_run(store, exported)
