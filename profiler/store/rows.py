"""Model records <-> table rows: the one translation between `profiler.model` and SQL.

Each `insert_*` writes inside the caller's transaction, so `Store`, the `SampleWriter`
and the import of a whole run share them; each `*_from_row` reads a `sqlite3.Row` back
into its record. JSON columns (config, details, evidence, ...) are written with sorted
keys so equal records give equal text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseMetrics, PhaseRecord, RunKind, RunRecord, RunStatus
from profiler.model.samples import METRICS, SampleRow
from profiler.model.units import parse_iso

RUN_COLUMNS = (
    "id",
    "kind",
    "label",
    "host",
    "started",
    "ended",
    "status",
    "config",
    "version",
    "pid",
    "interval_s",
    "missed_ticks",
    "status_reason",
)
"""Columns of the `run` table, in `RunRecord` field order."""

SAMPLE_COLUMNS = ("device_id", "t", *METRICS)
"""Columns of a `sample` row after its run_id, in `SampleRow` field order."""

_INSERT_SAMPLE = (
    f"INSERT INTO sample (run_id, {', '.join(SAMPLE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(SAMPLE_COLUMNS) + 1))})"
)


def insert_run(conn: sqlite3.Connection, run: RunRecord) -> None:
    """Insert a run row inside the caller's transaction."""
    conn.execute(
        f"INSERT INTO run ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
        (
            run.id,
            run.kind,
            run.label,
            run.host,
            run.started_iso,
            run.ended_iso,
            run.status,
            json.dumps(run.config, sort_keys=True),
            run.version,
            run.pid,
            run.interval_s,
            run.missed_ticks,
            run.status_reason,
        ),
    )


def run_from_row(row: sqlite3.Row) -> RunRecord:
    """Return a `run` row as its record."""
    return RunRecord(
        id=row["id"],
        kind=RunKind(row["kind"]),
        label=row["label"],
        host=row["host"],
        started=parse_iso(row["started"]),
        ended=None if row["ended"] is None else parse_iso(row["ended"]),
        status=RunStatus(row["status"]),
        config=json.loads(row["config"]),
        version=row["version"],
        pid=row["pid"],
        interval_s=row["interval_s"],
        missed_ticks=row["missed_ticks"],
        status_reason=row["status_reason"],
    )


def insert_devices(conn: sqlite3.Connection, run_id: str, records: Iterable[DeviceRecord]) -> None:
    """Insert device rows inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO device (run_id, device_id, kind, model, logical_cores, "
        "mem_total_bytes, power_limit_w, provenance, details, status, status_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                r.info.device_id,
                r.info.kind,
                r.info.model,
                r.info.logical_cores,
                r.info.mem_total_bytes,
                r.info.power_limit_w,
                r.info.provenance,
                json.dumps(r.info.details, sort_keys=True),
                r.status,
                r.status_reason,
            )
            for r in records
        ],
    )


def update_device_status(
    conn: sqlite3.Connection, run_id: str, device_id: str, status: str, reason: str | None
) -> None:
    """Set a device's health (ok, degraded, lost) and why, inside the caller's transaction."""
    conn.execute(
        "UPDATE device SET status = ?, status_reason = ? WHERE run_id = ? AND device_id = ?",
        (status, reason, run_id, device_id),
    )


def device_from_row(r: sqlite3.Row) -> DeviceRecord:
    """Return a `device` row as its record."""
    return DeviceRecord(
        DeviceInfo(
            r["device_id"],
            r["kind"],
            model=r["model"],
            logical_cores=r["logical_cores"],
            mem_total_bytes=r["mem_total_bytes"],
            power_limit_w=r["power_limit_w"],
            provenance=r["provenance"],
            details=json.loads(r["details"]),
        ),
        status=r["status"],
        status_reason=r["status_reason"],
    )


def insert_samples(conn: sqlite3.Connection, run_id: str, rows: Iterable[SampleRow]) -> None:
    """Insert `SampleRow`s inside the caller's transaction."""
    conn.executemany(
        _INSERT_SAMPLE,
        ((run_id, r.device_id, r.t, *(getattr(r, f) for f in METRICS)) for r in rows),
    )


def insert_sample_values(
    conn: sqlite3.Connection, run_id: str, rows: Iterable[Iterable[Any]]
) -> None:
    """Insert samples given as values in `SAMPLE_COLUMNS` order, inside the caller's transaction.

    `rows` is consumed lazily, one row at a time: millions of samples (an import) are
    written without a Python object per sample beyond the row being bound.
    """
    conn.executemany(_INSERT_SAMPLE, ((run_id, *row) for row in rows))


def sample_from_row(r: sqlite3.Row) -> SampleRow:
    """Return a `sample` row as a `SampleRow`."""
    return SampleRow(r["device_id"], r["t"], *(r[f] for f in METRICS))


def insert_phases(conn: sqlite3.Connection, run_id: str, phases: Iterable[PhaseRecord]) -> None:
    """Insert phase rows inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO phase (run_id, workload, device_id, target_load, t_start, t_end, "
        "units, unit, achieved_load, valid, details) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                p.workload,
                p.device_id,
                p.target_load,
                p.t_start,
                p.t_end,
                p.units,
                p.unit,
                p.achieved_load,
                None if p.valid is None else int(p.valid),
                json.dumps(p.metrics.as_details(), sort_keys=True),
            )
            for p in phases
        ],
    )


def phase_from_row(r: sqlite3.Row) -> PhaseRecord:
    """Return a `phase` row as its record."""
    return PhaseRecord(
        r["workload"],
        r["device_id"],
        r["target_load"],
        r["t_start"],
        r["t_end"],
        r["units"],
        r["unit"],
        r["achieved_load"],
        None if r["valid"] is None else bool(r["valid"]),
        PhaseMetrics.from_details(json.loads(r["details"])),
    )


def insert_findings(
    conn: sqlite3.Connection,
    run_id: str | None,
    findings: Iterable[dict[str, Any]],
    window_start: str | None = None,
    window_end: str | None = None,
) -> None:
    """Insert findings shaped as docs/design.md#findings inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO finding (run_id, window_start, window_end, rule, device_id, "
        "severity, message, evidence, recommendation, savings, confidence, assumptions) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                window_start,
                window_end,
                f["rule"],
                f.get("device"),
                f["severity"],
                f["message"],
                json.dumps(f.get("evidence") or {}, sort_keys=True),
                _json_or_null(f.get("recommendation")),
                _json_or_null(f.get("savings")),
                f.get("confidence"),
                json.dumps(list(f.get("assumptions") or [])),
            )
            for f in findings
        ],
    )


def finding_from_row(r: sqlite3.Row) -> dict[str, Any]:
    """Return a `finding` row as a docs/design.md#findings object."""
    return {
        "rule": r["rule"],
        "device": r["device_id"],
        "severity": r["severity"],
        "message": r["message"],
        "evidence": json.loads(r["evidence"]),
        "recommendation": _loads_or_null(r["recommendation"]),
        "savings": _loads_or_null(r["savings"]),
        "confidence": r["confidence"],
        "assumptions": json.loads(r["assumptions"]),
    }


def _json_or_null(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _loads_or_null(text: str | None) -> Any:
    return None if text is None else json.loads(text)
