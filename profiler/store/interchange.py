"""The run interchange format: one JSON document per run, exported and imported losslessly.

The document is the one of ../shared/design.md ("Run interchange format"), version 1.
Beyond the design's example it carries optional fields that make export -> import ->
export lossless: `run.interval_s`, `run.missed_ticks`, `run.finwatt_version`,
`run.config`; `devices[].details`, `status`, `status_reason`; the samples' other metrics
(`energy_from_power_j`, `clock_mhz`, `temperature_c`); `phases[].achieved_load`,
`valid`, `details`. Every metric may be null or absent (absent reads as null). The
choices made here (run ids, timestamps, findings, CSV) are written down in
docs/interchange.md.

Validation runs in two passes so that a large history (14 days of 1-s samples for 4
devices, 4.8 M samples) imports in tens of seconds: pydantic validates the document
without its samples, then the samples in chunks against a `TypedDict` schema (no model
instance per sample); numpy checks the cross-sample rules (known device, `t` not
decreasing per device). Only a document that passes everything is written, in one
transaction. Errors name the field: `samples[12].util: must be <= 1 (got 1.5)`.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, TextIO

import numpy as np
import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseRecord
from profiler.model.samples import METRICS
from profiler.model.units import TimeSpec, iso_z, parse_iso
from profiler.store.database import (
    Store,
    finding_from_row,
    finwatt_version,
    insert_devices,
    insert_findings,
    insert_phases,
    new_run_id,
    refresh_minutes,
    utc_now_iso,
)

__all__ = [
    "CSV_COLUMNS",
    "FORMAT",
    "VERSION",
    "DeviceDoc",
    "FindingDoc",
    "InterchangeError",
    "PhaseDoc",
    "RunDoc",
    "RunDocument",
    "SampleDoc",
    "canonical_utc",
    "export_run",
    "import_run",
    "parse_document",
    "validate_document",
    "write_csv",
    "write_json",
]

FORMAT = "finwatt-run"
VERSION = 1

#: Columns of the CSV export, in order: one row per sample.
CSV_COLUMNS = ("run_id", "device", "t", *METRICS)

#: Samples validated and inserted per chunk: large enough to amortise calls, small
#: enough that one chunk's rows stay a few tens of MB.
_CHUNK = 50_000

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_DEVICE_ID = re.compile(r"(cpu|dram|gpu):(0|[1-9][0-9]*)|host")
_PROVENANCE = re.compile(r"(measured|estimated):\S+")
_METADATA_KEY = "imported_from"


class InterchangeError(ValueError):
    """A document is not a valid finwatt run; the message names the field and the rule."""


def canonical_utc(text: str) -> str:
    """Return an ISO-8601 timestamp with an explicit offset as UTC with a `Z` suffix.

    Milliseconds are kept as finwatt writes them (`2026-11-01T00:00:00.000Z`);
    microseconds only when the value has them, so nothing is rounded away.

    Raises:
        ValueError: `text` is not ISO 8601 or has no UTC offset.

    """
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise ValueError(
            f"{text!r} is not an ISO-8601 timestamp such as 2026-11-01T00:00:00Z"
        ) from err
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it as UTC, e.g. ending in Z")
    spec: TimeSpec = "milliseconds" if when.microsecond % 1000 == 0 else "microseconds"
    return iso_z(when, spec)


_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

_Timestamp = Annotated[str, Field(description="ISO-8601 UTC, e.g. 2026-11-01T00:00:00Z")]
_Fraction = Annotated[float, Field(ge=0, le=1)]
_NonNegative = Annotated[float, Field(ge=0)]
_Count = Annotated[int, Field(ge=0, le=2**63 - 1)]  # SQLite INTEGER is 64-bit


class RunDoc(BaseModel):
    """The `run` object: identity, kind, host and wall-clock span of a run (UTC)."""

    model_config = _STRICT

    id: str
    kind: Literal["profile", "monitor", "scheduled"]
    label: str | None = None
    host: Annotated[str, Field(min_length=1)]
    started: _Timestamp
    ended: _Timestamp | None = None
    status: Literal["running", "complete", "interrupted", "failed"]
    interval_s: Annotated[float, Field(gt=0)] | None = None
    missed_ticks: _Count = 0
    finwatt_version: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _RUN_ID.fullmatch(value):
            raise ValueError(
                "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a "
                "letter or digit"
            )
        return value

    @field_validator("started")
    @classmethod
    def _check_started(cls, value: str) -> str:
        return canonical_utc(value)

    @field_validator("ended")
    @classmethod
    def _check_ended(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        ended = canonical_utc(value)
        started = info.data.get("started")
        if started is not None and _instant(ended) < _instant(started):
            raise ValueError(f"{value!r} is before run.started {started!r}")
        return ended


class DeviceDoc(BaseModel):
    """One device: `cpu:N`, `dram:N`, `gpu:N` or `host`, its capacity and power provenance."""

    model_config = _STRICT

    kind: Literal["cpu", "dram", "gpu", "host"]
    id: str
    model: str | None = None
    logical_cores: Annotated[int, Field(gt=0)] | None = None
    mem_total_bytes: _Count | None = None
    power_limit_w: Annotated[float, Field(gt=0)] | None = None
    provenance: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "degraded", "lost"] = "ok"
    status_reason: str | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str, info: ValidationInfo) -> str:
        if not _DEVICE_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a device id: use cpu:N, dram:N, gpu:N or host")
        kind = info.data.get("kind")
        if kind is not None and value.split(":")[0] != kind:
            raise ValueError(f"{value!r} does not match kind {kind!r}")
        return value

    @field_validator("provenance")
    @classmethod
    def _check_provenance(cls, value: str | None) -> str | None:
        if value is not None and not _PROVENANCE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a provenance: use measured:<source> or estimated:<model>"
            )
        return value


class SampleDoc(TypedDict):
    """One device's metrics at `t` seconds since `run.started`; any metric may be null.

    A `TypedDict`, not a model: millions of samples validate without a Python object
    each.
    """

    __pydantic_config__ = _STRICT  # type: ignore[misc]

    t: _NonNegative
    device: str
    util: NotRequired[_Fraction | None]
    power_w: NotRequired[_NonNegative | None]
    energy_j: NotRequired[_NonNegative | None]
    energy_from_power_j: NotRequired[_NonNegative | None]
    mem_used_bytes: NotRequired[_Count | None]
    clock_mhz: NotRequired[_NonNegative | None]
    temperature_c: NotRequired[float | None]
    sm_active: NotRequired[_Fraction | None]


class PhaseDoc(BaseModel):
    """A workload held at one target load on one device from `t_start` to `t_end` (s)."""

    model_config = _STRICT

    workload: Annotated[str, Field(min_length=1)]
    device: str
    target_load: _Fraction
    t_start: _NonNegative
    t_end: _NonNegative
    units: _NonNegative | None = None
    unit: str | None = None
    achieved_load: _NonNegative | None = None
    valid: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("t_end")
    @classmethod
    def _check_end(cls, value: float, info: ValidationInfo) -> float:
        start = info.data.get("t_start")
        if start is not None and value < start:
            raise ValueError(f"{value!r} is before t_start {start!r}")
        return value


class FindingDoc(BaseModel):
    """A finding as `finwatt analyze --json` prints it (design.md, "Findings")."""

    model_config = _STRICT

    rule: Annotated[str, Field(min_length=1)]
    device: str | None = None
    severity: Annotated[str, Field(min_length=1)]
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    recommendation: dict[str, Any] | None = None
    savings: dict[str, Any] | None = None
    confidence: str | None = None
    assumptions: list[str] = Field(default_factory=list)


class RunDocument(BaseModel):
    """A whole run in the interchange format (the schema; import validates it in passes)."""

    model_config = _STRICT

    format: Literal["finwatt-run"]
    version: Literal[1]
    run: RunDoc
    devices: list[DeviceDoc]
    samples: list[SampleDoc]
    phases: list[PhaseDoc] = Field(default_factory=list)
    findings: list[FindingDoc] = Field(default_factory=list)


class _Envelope(RunDocument):
    """The document with its samples only checked to be a list (they validate in chunks)."""

    samples: list[Any]


_SAMPLES: TypeAdapter[list[SampleDoc]] = TypeAdapter(list[SampleDoc])
_TOP_ORDER = {name: i for i, name in enumerate(RunDocument.model_fields)}


# --- validation ---------------------------------------------------------------------


def _instant(text: str) -> datetime:
    return parse_iso(text)


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
    if kind not in ("missing", "value_error") and not isinstance(value, dict | list):
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
    for name, i, device_id in references:
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


def import_run(store: Store, doc: Mapping[str, Any], *, source: str | None = None) -> str:
    """Validate `doc` and store it as a new run in one transaction; return the run id.

    The document's run id is kept when this database has no run with that id; otherwise
    the run gets a fresh id and the original is noted in its config under
    `imported_from.run_id`. A refused document stores nothing.

    Args:
        store: the database.
        doc: a parsed document (see `parse_document`).
        source: where it came from (a file name), noted in `imported_from.source`.

    Raises:
        InterchangeError: the document is invalid (message names the field).

    """
    valid = validate_document(doc)
    samples: list[dict[str, Any]] = doc["samples"]
    run = valid.run
    note: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "imported_at": utc_now_iso(),
        "source": source,
    }
    config = {**run.config, _METADATA_KEY: note}
    with store.transaction() as tx:
        taken = tx.execute("SELECT 1 FROM run WHERE id = ?", (run.id,)).fetchone()
        run_id = new_run_id() if taken else run.id
        if taken:
            note["run_id"] = run.id
        tx.execute(
            "INSERT INTO run (id, kind, label, host, started, ended, status, config, version, "
            "pid, interval_s, missed_ticks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            (
                run_id,
                run.kind,
                run.label,
                run.host,
                run.started,
                run.ended,
                run.status,
                json.dumps(config, sort_keys=True),
                run.finwatt_version or finwatt_version(),
                run.interval_s,
                run.missed_ticks,
            ),
        )
        insert_devices(
            tx,
            run_id,
            (
                DeviceRecord(
                    DeviceInfo(
                        d.id,
                        d.kind,
                        model=d.model,
                        logical_cores=d.logical_cores,
                        mem_total_bytes=d.mem_total_bytes,
                        power_limit_w=d.power_limit_w,
                        provenance=d.provenance,
                        details=d.details,
                    ),
                    status=d.status,
                    status_reason=d.status_reason,
                )
                for d in valid.devices
            ),
        )
        _insert_samples(tx, run_id, samples)
        refresh_minutes(tx, run_id)
        insert_phases(
            tx,
            run_id,
            (
                PhaseRecord(
                    p.workload,
                    p.device,
                    p.target_load,
                    p.t_start,
                    p.t_end,
                    p.units,
                    p.unit,
                    p.achieved_load,
                    p.valid,
                    p.details,
                )
                for p in valid.phases
            ),
        )
        insert_findings(tx, run_id, (f.model_dump() for f in valid.findings))
    return run_id


_SAMPLE_KEYS = ("device", "t", *METRICS)
_INSERT_SAMPLE = (
    f"INSERT INTO sample (run_id, device_id, t, {', '.join(METRICS)}) "
    f"VALUES ({', '.join('?' * (len(_SAMPLE_KEYS) + 1))})"
)


def _insert_samples(conn: sqlite3.Connection, run_id: str, samples: list[dict[str, Any]]) -> None:
    keys = _SAMPLE_KEYS
    for start in range(0, len(samples), _CHUNK):
        conn.executemany(
            _INSERT_SAMPLE,
            [(run_id, *map(s.get, keys)) for s in samples[start : start + _CHUNK]],
        )


# --- export -------------------------------------------------------------------------


def _read_only(store: Store) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    conn.row_factory = sqlite3.Row
    return conn


def _head(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """Return the document without samples; raises KeyError for an unknown run."""
    row = conn.execute("SELECT * FROM run WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise KeyError(run_id)
    config = json.loads(row["config"])
    config.pop(_METADATA_KEY, None)
    run = {
        "id": row["id"],
        "kind": row["kind"],
        "label": row["label"],
        "host": row["host"],
        "started": canonical_utc(row["started"]),
        "ended": None if row["ended"] is None else canonical_utc(row["ended"]),
        "status": row["status"],
        "interval_s": row["interval_s"],
        "missed_ticks": row["missed_ticks"],
        "finwatt_version": row["version"],
        "config": config,
    }
    devices = [
        {
            "id": r["device_id"],
            "kind": r["kind"],
            "model": r["model"],
            "logical_cores": r["logical_cores"],
            "mem_total_bytes": r["mem_total_bytes"],
            "power_limit_w": r["power_limit_w"],
            "provenance": r["provenance"],
            "details": json.loads(r["details"]),
            "status": r["status"],
            "status_reason": r["status_reason"],
        }
        for r in conn.execute("SELECT * FROM device WHERE run_id = ? ORDER BY device_id", (run_id,))
    ]
    phases = [
        {
            "workload": r["workload"],
            "device": r["device_id"],
            "target_load": r["target_load"],
            "t_start": r["t_start"],
            "t_end": r["t_end"],
            "units": r["units"],
            "unit": r["unit"],
            "achieved_load": r["achieved_load"],
            "valid": None if r["valid"] is None else bool(r["valid"]),
            "details": json.loads(r["details"]),
        }
        for r in conn.execute(
            "SELECT * FROM phase WHERE run_id = ? ORDER BY t_start, id", (run_id,)
        )
    ]
    findings = [
        finding_from_row(r)
        for r in conn.execute("SELECT * FROM finding WHERE run_id = ? ORDER BY id", (run_id,))
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": run,
        "devices": devices,
        "phases": phases,
        "findings": findings,
    }


def _sample_batches(
    conn: sqlite3.Connection, run_id: str, *, t_first: bool = False
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield lists of (device, t, *METRICS), or (t, device, ...), by device then t."""
    leading = "t, device_id" if t_first else "device_id, t"
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.arraysize = _CHUNK
    cursor.execute(
        f"SELECT {leading}, {', '.join(METRICS)} FROM sample "
        "WHERE run_id = ? ORDER BY device_id, t, rowid",
        (run_id,),
    )
    while rows := cursor.fetchmany():
        yield rows


_EXPORT_KEYS = ("t", "device", *METRICS)


def _sample_dicts(conn: sqlite3.Connection, run_id: str) -> Iterator[list[dict[str, Any]]]:
    keys = _EXPORT_KEYS
    for rows in _sample_batches(conn, run_id, t_first=True):
        yield [dict(zip(keys, row, strict=True)) for row in rows]


def export_run(store: Store, run_id: str) -> dict[str, Any]:
    """Return run `run_id` as an interchange document (everything in memory).

    Raises:
        KeyError: no such run.

    """
    with closing(_read_only(store)) as conn:
        conn.execute("BEGIN")  # one snapshot even while a recorder is writing
        head = _head(conn, run_id)
        samples = [sample for batch in _sample_dicts(conn, run_id) for sample in batch]
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
    with closing(_read_only(store)) as conn:
        conn.execute("BEGIN")
        head = _head(conn, run_id)
        stream.write("{")
        for key in ("format", "version", "run", "devices"):
            stream.write(f"{encode(key)}:{encode(head[key])},\n")
        stream.write('"samples":[')
        separator = "\n"
        for batch in _sample_dicts(conn, run_id):
            stream.write(separator + ",\n".join(map(encode, batch)))
            separator = ",\n"
            count += len(batch)
        stream.write("\n],\n")
        stream.write(f'"phases":{encode(head["phases"])},\n')
        stream.write(f'"findings":{encode(head["findings"])}}}\n')
    return count


def write_csv(store: Store, run_id: str, stream: TextIO) -> int:
    """Write run `run_id`'s samples as CSV (`CSV_COLUMNS`, null as empty); return the count.

    Raises:
        KeyError: no such run.

    """
    with closing(_read_only(store)) as conn:
        conn.execute("BEGIN")
        if conn.execute("SELECT 1 FROM run WHERE id = ?", (run_id,)).fetchone() is None:
            raise KeyError(run_id)
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        for rows in _sample_batches(conn, run_id):
            writer.writerows((run_id, *row) for row in rows)
            count += len(rows)
    return count
