"""The run interchange format: one JSON document per run, exported and imported losslessly.

The document is the one of docs/design.md#run-interchange-format, version 1;
its objects are the models of `profiler.store.interchange_schema`. Beyond the design's
example it carries optional fields that make export -> import -> export lossless:
`run.interval_s`, `run.missed_ticks`, `run.finwatt_version`, `run.config`,
`run.inventory`, `run.status_reason`, `run.job` (a job run's `job` row);
`devices[].details`, `status`, `status_reason`; the samples' other metrics
(`energy_from_power_j`, `clock_mhz`, `temperature_c`); `phases[].achieved_load`,
`valid`, `details`. Every metric may be null or absent (absent reads as null). The
choices made here (run ids, timestamps, findings, CSV) are written down in
docs/interchange.md.

This module validates documents and maps them to and from the model's records; the
`Store` reads and writes them (no SQL here). Validation runs in two passes so that a
large history (14 days of 1-s samples for 4 devices, 4.8 M samples) imports in tens of
seconds: pydantic validates the document without its samples, then the samples in
chunks against a `TypedDict` schema (no model instance per sample); numpy checks the
cross-sample rules (known device, `t` not decreasing per device). Only a document that
passes everything is written, in one transaction, its samples streamed into the
database as value rows. Errors name the field: `samples[12].util: must be <= 1 (got 1.5)`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import numpy as np
import pydantic_core
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from profiler.model.errors import FinwattInputError
from profiler.model.samples import METRICS
from profiler.store.database import Store
from profiler.store.imports import ImportedRun, content_sha256, store_import
from profiler.store.interchange_schema import (
    FORMAT,
    HOST_CPU_PHASE,
    IMPORT_NOTE_KEY,
    VERSION,
    DeviceDoc,
    FindingDoc,
    JobDoc,
    PhaseDoc,
    RunDoc,
    RunDocument,
    SampleDoc,
    canonical_utc,
    device_object,
    job_object,
    job_provenance_problem,
    phase_object,
    run_object,
)
from profiler.store.stamps import utc_now_iso

__all__ = [
    "CSV_COLUMNS",
    "FORMAT",
    "VERSION",
    "DeviceDoc",
    "FindingDoc",
    "InterchangeError",
    "JobDoc",
    "PhaseDoc",
    "RunDoc",
    "RunDocument",
    "SampleDoc",
    "canonical_utc",
    "counter_resets",
    "export_run",
    "import_run",
    "parse_document",
    "validate_document",
    "write_csv",
    "write_json",
]

#: Columns of the CSV export, in order: one row per sample.
CSV_COLUMNS = ("run_id", "device", "t", *METRICS)

#: Samples validated and exported per chunk: large enough to amortise calls, small
#: enough that one chunk's rows stay a few tens of MB.
_CHUNK = 50_000


class InterchangeError(FinwattInputError):
    """A document is not a valid finwatt run; the message names the field and the rule."""


class _Envelope(RunDocument):
    """The document with its samples only checked to be a list (they validate in chunks)."""

    samples: list[Any]


_SAMPLES: TypeAdapter[list[SampleDoc]] = TypeAdapter(list[SampleDoc])
_TOP_ORDER = {name: i for i, name in enumerate(RunDocument.model_fields)}


# --- validation ---------------------------------------------------------------------


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "document"


_TYPE_WORDS = {
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be true, false or null",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "finite_number": "must be a finite number",
    "missing": "required field missing",
    "extra_forbidden": "unknown field",
    "int_from_float": "must be an integer",
}


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    bounds = {
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
    }
    if kind in bounds:
        symbol, key = bounds[kind]
        bound = ctx[key]
        text = (
            f"must be {symbol} {bound:g}"
            if isinstance(bound, float)
            else f"must be {symbol} {bound}"
        )
    elif kind == "literal_error":
        text = f"must be {ctx['expected']}"
    elif kind == "string_too_short":
        text = "must not be empty"
    elif kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
    else:
        text = _TYPE_WORDS.get(kind, error["msg"])
    value = error.get("input")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        # an integer beyond 64 bits (10**400): too large for SQLite and for a float
        text += f" (got an integer of {len(str(value))} digits)"
    elif kind not in ("missing", "value_error") and not isinstance(value, dict | list):
        shown = json.dumps(value) if _jsonable(value) else repr(value)
        text += f" (got {shown[:40] + '...' if len(shown) > 40 else shown})"
    return f"{_path(error['loc'])}: {text}"


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class _Problems:
    """First problem in document order, plus how many there are."""

    def __init__(self) -> None:
        self.first: tuple[tuple[int, int], str] | None = None
        self.count = 0

    def add(self, key: tuple[int, int], message: str, count: int = 1) -> None:
        if self.first is None or key < self.first[0]:
            self.first = (key, message)
        self.count += count

    def add_errors(self, errors: list[ErrorDetails], offset: tuple[str, int] | None = None) -> None:
        for error in errors:
            loc: tuple[int | str, ...] = tuple(error["loc"])
            if offset is not None:
                assert isinstance(loc[0], int)
                loc = (offset[0], offset[1] + loc[0], *loc[1:])
                error = {**error, "loc": loc}
            top = _TOP_ORDER.get(str(loc[0]), len(_TOP_ORDER)) if loc else -1
            index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            self.add((top, index), _describe(error))

    def raise_if_any(self) -> None:
        if self.first is not None:
            more = f" (and {self.count - 1} more)" if self.count > 1 else ""
            raise InterchangeError(self.first[1] + more)


def parse_document(data: bytes | str) -> dict[str, Any]:
    """Parse JSON text into a document object (not yet validated).

    Raises:
        InterchangeError: the text is not JSON or not a JSON object.

    """
    try:
        # pydantic-core's parser: 2-3x faster than json.loads on millions of samples and
        # shares one string object per repeated key and device id.
        doc = pydantic_core.from_json(data, cache_strings="all")
    except ValueError as err:
        raise InterchangeError(f"not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise InterchangeError("document: must be a JSON object")
    return doc


def validate_document(doc: Mapping[str, Any]) -> RunDocument:
    """Validate a whole document; returns it with run/devices/phases/findings as models.

    Samples are checked but left as given (plain dicts, strict types, so already in
    their stored form).

    Raises:
        InterchangeError: the first problem, with its field path, and how many more.

    """
    if not isinstance(doc, Mapping):
        raise InterchangeError("document: must be a JSON object")
    if doc.get("format") != FORMAT:
        raise InterchangeError(
            f"format: must be {FORMAT!r} (got {json.dumps(doc.get('format'))[:40]})"
        )
    if doc.get("version") != VERSION or isinstance(doc.get("version"), bool):
        raise InterchangeError(
            f"version: this finwatt reads version {VERSION} (got "
            f"{json.dumps(doc.get('version'))[:40]})"
        )
    problems = _Problems()
    envelope: _Envelope | None = None
    try:
        envelope = _Envelope.model_validate(doc)
    except ValidationError as err:
        problems.add_errors(err.errors())
    samples = doc.get("samples")
    if not isinstance(samples, list):
        problems.raise_if_any()
        raise InterchangeError("samples: must be a list")
    for start in range(0, len(samples), _CHUNK):
        try:
            _SAMPLES.validate_python(samples[start : start + _CHUNK])
        except ValidationError as err:
            problems.add_errors(err.errors(), offset=("samples", start))
    problems.raise_if_any()
    assert envelope is not None
    _check_references(envelope, samples, problems)
    job_problem = job_provenance_problem(envelope)  # review 6
    if job_problem is not None:
        problems.add((_TOP_ORDER["run"], 0), job_problem)
    problems.raise_if_any()
    return envelope


def _check_references(doc: RunDocument, samples: list[Any], problems: _Problems) -> None:
    top = _TOP_ORDER
    index: dict[str, int] = {}
    for i, device in enumerate(doc.devices):
        if device.id in index:
            problems.add((top["devices"], i), f"devices[{i}].id: duplicate device {device.id!r}")
        index.setdefault(device.id, len(index))
    references: list[tuple[str, int, str | None]]
    references = [("phases", i, p.device) for i, p in enumerate(doc.phases)]
    references += [("findings", i, f.device) for i, f in enumerate(doc.findings)]
    packages = [d.id for d in doc.devices if d.kind == "cpu"]
    for name, i, device_id in references:
        if name == "phases" and device_id == HOST_CPU_PHASE and packages:
            continue  # the host's CPU: every cpu:N package, their energy summed
        if device_id is not None and device_id not in index:
            problems.add(
                (top[name], i),
                f"{name}[{i}].device: unknown device {device_id!r} (not in devices)",
            )
    n = len(samples)
    codes = np.fromiter((index.get(s["device"], -1) for s in samples), np.int64, count=n)
    t = np.fromiter((s["t"] for s in samples), np.float64, count=n)
    unknown = np.flatnonzero(codes < 0)
    if unknown.size:
        i = int(unknown[0])
        problems.add(
            (top["samples"], i),
            f"samples[{i}].device: unknown device {samples[i]['device']!r} (not in devices)",
            int(unknown.size),
        )
    for code in range(len(index)):
        rows = np.flatnonzero(codes == code)
        back = rows[1:][np.diff(t[rows]) < 0]
        if back.size:
            i = int(back[0])
            before = float(t[rows[np.searchsorted(rows, i) - 1]])
            problems.add(
                (top["samples"], i),
                f"samples[{i}].t: {float(t[i])!r} is before the previous sample of "
                f"{samples[i]['device']} (t={before!r}); t must not decrease per device",
                int(back.size),
            )


# --- import -------------------------------------------------------------------------


def counter_resets(samples: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Return {device: times its cumulative `energy_j` went down} for devices where it did.

    `energy_j` is cumulative since run start, so it never decreases; a decrease is a
    counter that restarted (reboot, driver reload). The samples are stored as given and
    the analysis drops the interval each reset falls in; the count is kept in the run's
    import note (`imported_from.counter_resets`) for the data-quality record.
    """
    last: dict[str, float] = {}
    found: dict[str, int] = {}
    for sample in samples:
        energy = sample.get("energy_j")
        if energy is None:
            continue
        device = sample["device"]
        if device in last and energy < last[device]:
            found[device] = found.get(device, 0) + 1
        last[device] = energy
    return found


#: Keys of a sample object in the order `Runs.add` takes its values.
_SAMPLE_KEYS = ("device", "t", *METRICS)


def import_run(
    store: Store, doc: Mapping[str, Any], *, source: str | None = None, replace: bool = False
) -> str:
    """Validate `doc` and store it under its own run id in one transaction; return the id.

    A run is stored once: a document whose run id is already stored, or whose content
    (`content_sha256`) was imported before under another id, is refused with
    `DuplicateRunError`, unless `replace`, which deletes those runs and stores the
    document in the same transaction. A refused document stores nothing.

    Args:
        store: the database.
        doc: a parsed document (see `parse_document`).
        source: where it came from (a file name), noted in `imported_from.source`.
        replace: replace the stored run(s) the document repeats (`--replace`).

    Raises:
        InterchangeError: the document is invalid (message names the field).
        profiler.store.imports.DuplicateRunError: its run is already stored and
            `replace` is False.

    """
    valid = validate_document(doc)
    samples: list[dict[str, Any]] = doc["samples"]
    digest = content_sha256(valid, samples, _SAMPLE_KEYS)
    note: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "imported_at": utc_now_iso(),
        "source": source,
        "content_sha256": digest,
    }
    resets = counter_resets(samples)
    if resets:
        note["counter_resets"] = resets
    run = valid.run.record({**valid.run.config, IMPORT_NOTE_KEY: note})
    imported = ImportedRun(
        run,
        devices=[d.record() for d in valid.devices],
        # Validated samples are plain dicts in their stored types: bind their values
        # straight from each dict, one row at a time.
        samples=(map(s.get, _SAMPLE_KEYS) for s in samples),
        phases=[p.record() for p in valid.phases],
        findings=[f.model_dump() for f in valid.findings],
        job=None if valid.run.job is None else valid.run.job.record(run.id),
        inventory=valid.run.inventory,
    )
    return store_import(store, imported, content_sha256=digest, replace=replace).id


# --- export -------------------------------------------------------------------------


def _head(store: Store, run_id: str) -> dict[str, Any]:
    """Return the document without samples; raises KeyError for an unknown run."""
    run = store.runs.get(run_id)
    if run is None:
        raise KeyError(run_id)
    inventory = store.inventory.for_run(run_id)
    job = store.jobs.get(run_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": run_object(run)
        | ({"inventory": inventory} if inventory else {})
        | ({"job": job_object(job)} if job is not None else {}),
        "devices": [device_object(d) for d in store.devices.for_run(run_id)],
        "phases": [phase_object(p) for p in store.phases.for_run(run_id)],
        "findings": store.findings.for_run(run_id),
    }


#: Sample values as export reads them, and the JSON keys they become, in document order.
_EXPORT_COLUMNS = ("t", "device_id", *METRICS)
_EXPORT_KEYS = ("t", "device", *METRICS)


def _sample_dicts(store: Store, run_id: str) -> Iterator[list[dict[str, Any]]]:
    keys = _EXPORT_KEYS
    for rows in store.samples.sample_values(run_id, _EXPORT_COLUMNS, batch_rows=_CHUNK):
        yield [dict(zip(keys, row, strict=True)) for row in rows]


def export_run(store: Store, run_id: str) -> dict[str, Any]:
    """Return run `run_id` as an interchange document (everything in memory).

    Raises:
        KeyError: no such run.

    """
    with store.snapshot():  # one view even while a recorder is writing
        head = _head(store, run_id)
        samples = [sample for batch in _sample_dicts(store, run_id) for sample in batch]
    order = ("format", "version", "run", "devices", "samples", "phases", "findings")
    return {key: samples if key == "samples" else head[key] for key in order}


def write_json(store: Store, run_id: str, stream: TextIO) -> int:
    """Stream run `run_id` to `stream` as an interchange document; return the sample count.

    Compact JSON with one sample per line, so a 4.8 M-sample run never sits in memory
    as Python objects and the file diffs and greps line by line.

    Raises:
        KeyError: no such run.
        ValueError: a stored value is NaN or infinite (not representable in JSON).

    """
    encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    count = 0
    with store.snapshot():
        head = _head(store, run_id)
        stream.write("{")
        for key in ("format", "version", "run", "devices"):
            stream.write(f"{encode(key)}:{encode(head[key])},\n")
        stream.write('"samples":[')
        separator = "\n"
        for batch in _sample_dicts(store, run_id):
            stream.write(separator + ",\n".join(map(encode, batch)))
            separator = ",\n"
            count += len(batch)
        stream.write("\n],\n")
        stream.write(f'"phases":{encode(head["phases"])},\n')
        stream.write(f'"findings":{encode(head["findings"])}}}\n')
    return count


#: Sample values as the CSV writes them after the run id (`CSV_COLUMNS`).
_CSV_VALUES = ("device_id", "t", *METRICS)


def write_csv(store: Store, run_id: str, stream: TextIO) -> int:
    """Write run `run_id`'s samples as CSV (`CSV_COLUMNS`, null as empty); return the count.

    Raises:
        KeyError: no such run.

    """
    with store.snapshot():
        if store.runs.get(run_id) is None:
            raise KeyError(run_id)
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        for rows in store.samples.sample_values(run_id, _CSV_VALUES, batch_rows=_CHUNK):
            writer.writerows((run_id, *row) for row in rows)
            count += len(rows)
    return count
