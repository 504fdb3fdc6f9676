"""Writing an imported run: once, or in place of the run it repeats, in one transaction.

`finwatt import` never stores a run twice (docs/interchange.md#run-ids-on-import): a
document whose run id is stored, or whose content was imported before under another id
(the `content_sha256` noted in the run's `config.imported_from`), is refused unless it
replaces them. The check, the delete of the replaced runs (their devices, samples,
rollups, phases, findings, job and inventory go with them: `ON DELETE CASCADE`) and the
insert are one write transaction: a refused or failed import leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from profiler.model.device import DeviceRecord
from profiler.model.errors import FinwattInputError
from profiler.model.job import JobRecord
from profiler.model.run import PhaseRecord, RunRecord
from profiler.store.database import Store
from profiler.store.interchange_schema import (
    IMPORT_NOTE_KEY,
    RunDocument,
    device_object,
    phase_object,
    run_object,
)
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

HASH_CHUNK = 50_000
"""Samples serialised per update of the content hash."""


class DuplicateRunError(FinwattInputError):
    """The document's run is already stored: its id, or its content under another id."""


def content_sha256(
    valid: RunDocument, samples: Sequence[Mapping[str, Any]], sample_keys: Sequence[str]
) -> str:
    """Return the SHA-256 of a validated document's content, its run id left out.

    The run, devices, phases and findings as export writes them (so an export of an
    imported run hashes as the document did), then each sample's values in
    `sample_keys` order (whatever order its keys were written in), serialised by
    pydantic-core in chunks: about 4.7 s per million samples under a load average of 12
    on 2 vCPUs.
    """
    digest = hashlib.sha256()
    run = run_object(valid.run.record({**valid.run.config}))
    run.pop("id")
    head = {
        "run": run,
        "devices": [device_object(d.record()) for d in valid.devices],
        "phases": [phase_object(p.record()) for p in valid.phases],
        "findings": [f.model_dump() for f in valid.findings],
    }
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    for start in range(0, len(samples), HASH_CHUNK):
        chunk = samples[start : start + HASH_CHUNK]
        digest.update(pydantic_core.to_json([tuple(map(s.get, sample_keys)) for s in chunk]))
    return digest.hexdigest()


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


def _refusal(run_id: str, copy: StoredCopy) -> DuplicateRunError:
    """The error for a document whose run is stored as `copy`: what is kept, the fix."""
    when = f" on {copy.note['imported_at']}" if copy.note.get("imported_at") else ""
    where = f" from {copy.note['source']}" if copy.note.get("source") else ""
    if not copy.same_id:
        said = f"its content is already stored as run {copy.run_id} (imported{when}{where})"
    elif copy.note:
        said = f"run {run_id} is already stored (imported{when}{where})"
    else:
        said = f"run {run_id} is already stored (recorded here)"
    return DuplicateRunError(
        f"{said}; importing it again would count its energy twice: nothing imported; "
        "to replace the stored run, import it with --replace"
    )


def store_import(
    store: Store, imported: ImportedRun, *, content_sha256: str, replace: bool = False
) -> RunRecord:
    """Store `imported` in one transaction; return its run record.

    Args:
        store: the database.
        imported: the run and its rows.
        content_sha256: the document's content hash (noted in its config by the caller).
        replace: delete the stored runs it repeats first, instead of refusing it.

    Raises:
        DuplicateRunError: its run id or content is already stored and not `replace`.
    """
    run = imported.run
    with store.transaction() as tx:
        copies = _copies(tx, run.id, content_sha256)
        if copies and not replace:
            raise _refusal(run.id, copies[0])
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
