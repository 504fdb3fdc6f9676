"""Synthetic run histories in the interchange format, built from numpy arrays.

For tests (and benches) that feed `finwatt import` / `profiler.store.interchange.import_run`
days of samples without recording them:

    t = np.arange(0.0, 7 * 86400.0, 60.0)
    doc = history_doc(
        [{"id": "host", "kind": "host", "logical_cores": 64}, "cpu:0"],
        t,
        {"host": {"util": np.full(t.size, 0.1)}, "cpu:0": {"power_w": np.full(t.size, 90.0)}},
    )

`write_history` streams the same document to a file without building per-sample dicts,
for histories of millions of samples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from profiler.model.samples import METRICS

METRICS = METRICS
INT_METRICS = frozenset({"mem_used_bytes"})

DeviceInfo = str | Mapping[str, Any]
Series = Mapping[str, Mapping[str, Any]]


def device_doc(spec: DeviceInfo) -> dict[str, Any]:
    """Expand "cpu:0" into {"id": "cpu:0", "kind": "cpu"}; a mapping is copied as is."""
    if isinstance(spec, str):
        return {"id": spec, "kind": spec.split(":")[0]}
    return dict(spec)


def run_doc(
    *,
    run_id: str = "synthetic",
    kind: str = "monitor",
    started: str = "2026-11-01T00:00:00.000Z",
    ended: str | None = None,
    host: str = "synthetic-host",
    label: str | None = "synthetic",
    status: str = "complete",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": run_id,
        "kind": kind,
        "label": label,
        "host": host,
        "started": started,
        "ended": ended,
        "status": status,
        **extra,
    }


def _columns(
    t: np.ndarray[Any, Any], series: Series, device_id: str
) -> tuple[list[str], list[list[Any]]]:
    metrics = series.get(device_id, {})
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"{device_id}: unknown metrics {sorted(unknown)}; use {METRICS}")
    names: list[str] = []
    columns: list[list[Any]] = []
    for name, values in metrics.items():
        array = np.asarray(values)
        if array.shape != t.shape:
            raise ValueError(f"{device_id}.{name}: shape {array.shape}, t has {t.shape}")
        if array.dtype == object:
            column = [None if v is None else v for v in array.tolist()]
        else:
            floats = array.astype(np.float64)
            column = (floats.astype(np.int64) if name in INT_METRICS else floats).tolist()
            for i in np.flatnonzero(np.isnan(floats)).tolist():
                column[i] = None  # NaN in an input array means "not available"
        names.append(name)
        columns.append(column)
    return names, columns


def _device_samples(
    t: np.ndarray[Any, Any], series: Series, device_id: str
) -> list[dict[str, Any]]:
    names, columns = _columns(t, series, device_id)
    return [
        {"t": ti, "device": device_id, **dict(zip(names, values, strict=True))}
        for ti, *values in zip(t.tolist(), *columns, strict=True)
    ]


def history_doc(
    devices: Sequence[DeviceInfo],
    t: Any,
    series: Series,
    *,
    phases: Sequence[Mapping[str, Any]] = (),
    findings: Sequence[Mapping[str, Any]] = (),
    **run: Any,
) -> dict[str, Any]:
    """Build an interchange document: every device sampled at the same times `t` (s).

    Args:
        devices: device ids ("cpu:0", "host") or full device objects.
        t: seconds since run start, shared by all devices.
        series: {device id: {metric: array like t}}; NaN (or None) means null, missing
            metrics are absent (read as null).
        phases: phase objects, copied.
        findings: finding objects, copied.
        **run: fields of the run object (see `run_doc`), e.g. run_id="a", started=...

    """
    t_array = np.asarray(t, dtype=np.float64)
    device_docs = [device_doc(d) for d in devices]
    samples: list[dict[str, Any]] = []
    for device in device_docs:
        samples += _device_samples(t_array, series, device["id"])
    return {
        "format": "finwatt-run",
        "version": 1,
        "run": run_doc(**run),
        "devices": device_docs,
        "samples": samples,
        "phases": [dict(p) for p in phases],
        "findings": [dict(f) for f in findings],
    }


def write_history(
    path: Path,
    devices: Sequence[DeviceInfo],
    t: Any,
    series: Series,
    **run: Any,
) -> int:
    """Write the document `history_doc` would build to `path`; return the sample count.

    One device at a time and one sample per line, so 4.8 M samples take seconds and
    no more memory than one device's columns.
    """
    t_array = np.asarray(t, dtype=np.float64)
    device_docs = [device_doc(d) for d in devices]
    encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    count = 0
    with path.open("w") as out:
        out.write('{"format":"finwatt-run","version":1,\n')
        out.write(f'"run":{encode(run_doc(**run))},\n"devices":{encode(device_docs)},\n')
        out.write('"samples":[')
        separator = "\n"
        for device in device_docs:
            for start in range(0, t_array.size, 100_000):
                part = t_array[start : start + 100_000]
                sliced = {
                    device["id"]: {
                        name: np.asarray(values)[start : start + 100_000]
                        for name, values in series.get(device["id"], {}).items()
                    }
                }
                samples = _device_samples(part, sliced, device["id"])
                out.write(separator + ",\n".join(map(encode, samples)))
                separator = ",\n"
                count += len(samples)
        out.write('\n],\n"phases":[],\n"findings":[]}\n')
    return count
