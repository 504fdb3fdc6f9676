"""Writing an imported run: once, or in place of the run it repeats, in one transaction.

`finwatt import` never stores a run twice (docs/interchange.md#run-ids-on-import): a
document whose run id is stored, or whose content was imported before under another id
(the `content_sha256` noted in the run's `config.imported_from`), is refused unless it
replaces them. The check, the delete of the replaced runs (their devices, samples,
rollups, phases, findings, job and inventory go with them: `ON DELETE CASCADE`) and the
insert are one write transaction: a refused or failed import leaves the database as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from profiler.model.device import DeviceRecord
from profiler.model.job import JobRecord
from profiler.model.run import PhaseRecord, RunRecord
from profiler.store.database import Store
from profiler.store.interchange_schema import IMPORT_NOTE_KEY
from profiler.store.inventory import insert_inventory
from profiler.store.jobs import insert_job
from profiler.store.rollup import refresh_minutes
from profiler.store.rows import (
    insert_devices,
    insert_findings,
    insert_phases,
    insert_run,
    insert_sample_values,
)

@dataclass(frozen=True)
class ImportedRun:
    """Everything an imported run stores.

    Attributes:
        run: the run row (its config holds the import note with `content_sha256`).
        devices: its devices.
        samples: sample values in `rows.SAMPLE_COLUMNS` order, consumed lazily.
        phases: its phases.
        findings: its findings in the shape of docs/design.md#findings.
        job: for a job run, its `job` row.
        inventory: its inventory (audit trail), if it has one.
    """

    run: RunRecord
    devices: Iterable[DeviceRecord]
    samples: Iterable[Iterable[Any]]
    phases: Iterable[PhaseRecord] = ()
    findings: Iterable[dict[str, Any]] = ()
    job: JobRecord | None = None
    inventory: Mapping[str, str | None] | None = field(default=None)


@dataclass(frozen=True)
class StoredCopy:
    """A stored run the document repeats: `same_id`, or the same content under `run_id`.

    Attributes:
        run_id: the stored run's id.
        same_id: True when it has the document's id, False when its content matched.
        note: its import note (`imported_at`, `source`), empty for a recorded run.
    """

    run_id: str
    same_id: bool
    note: Mapping[str, Any]


def _copies(tx: sqlite3.Connection, run_id: str, content_sha256: str) -> list[StoredCopy]:
    """The stored runs with the document's id or its content hash."""
    note = f"$.{IMPORT_NOTE_KEY}"
    rows = tx.execute(
        "SELECT id, json_extract(config, ?) FROM run WHERE id = ? "
        "OR json_extract(config, ?) = ? ORDER BY started, id",
        (note, run_id, f"{note}.content_sha256", content_sha256),
    )
    return [
        StoredCopy(stored_id, stored_id == run_id, json.loads(note) if note else {})
        for stored_id, note in rows
    ]


def store_import(
    store: Store,
    imported: ImportedRun,
    *,
    content_sha256: str,
    refuse: Callable[[list[StoredCopy]], Exception] | None,
) -> RunRecord:
    """Store `imported` in one transaction; return its run record.

    Args:
        store: the database.
        imported: the run and its rows.
        content_sha256: the document's content hash (noted in its config by the caller).
        refuse: None to replace the stored copies; else it is given them and returns the
            error to raise (nothing is stored).

    Raises:
        Exception: `refuse`'s error, when the run or its content is already stored.
    """
    run = imported.run
    with store.transaction() as tx:
        copies = _copies(tx, run.id, content_sha256)
        if copies and refuse is not None:
            raise refuse(copies)
        for copy in copies:
            tx.execute("DELETE FROM run WHERE id = ?", (copy.run_id,))
        insert_run(tx, run)
        insert_devices(tx, run.id, imported.devices)
        insert_sample_values(tx, run.id, imported.samples)
        refresh_minutes(tx, run.id)
        insert_phases(tx, run.id, imported.phases)
        insert_findings(tx, run.id, imported.findings)
        if imported.job is not None:
            insert_job(tx, imported.job)
        if imported.inventory:
            insert_inventory(tx, run.id, imported.inventory)
    return run
