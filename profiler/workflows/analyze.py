"""Assess stored runs and keep the findings (`finwatt analyze`).

The I/O half of the analyzer; `profiler.analysis` holds the pure half. A run is read
into one `RunData` (`profiler.workflows.run_data.load_run_data`: one `DeviceSeries` per
device, from raw samples or, for long or pruned runs, from minute rollups, see
`choose_source`).

With `--since`, every `monitor` and `scheduled` run of the host that overlaps the window
is placed on one absolute time axis (each run's `started` plus its `t`) and concatenated
per device, each stretch of time from the earliest-starting run that covers it (a
`measure()` block inside a scheduled run, or a stored copy of a run, adds nothing).
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from profiler.analysis.assess import Assessment, assess_profile, assess_usage
from profiler.analysis.ladder_data import LadderData, phases_from_data
from profiler.analysis.phases import cpu_ids, is_host_cpu
from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.analysis.thresholds import Thresholds
from profiler.model.errors import FinwattInputError
from profiler.model.provenance import is_estimate
from profiler.model.run import RunKind, RunRecord
from profiler.model.savings import Site
from profiler.model.series import FIELDS, DeviceSeries, concatenate
from profiler.model.units import epoch_to_iso
from profiler.store.database import Store
from profiler.workflows.provisioned import container_scoped, say_provisioned
from profiler.workflows.run_data import Source, choose_source, load_run_data

log = logging.getLogger(__name__)

MONITORING_KINDS = (RunKind.MONITOR, RunKind.SCHEDULED)


class AnalyzeError(FinwattInputError):
    """Bad input to `finwatt analyze` (no such run, nothing in the window): exit 2."""


@dataclass(frozen=True)
class AnalyzeResult:
    """An assessment and what it covered.

    Attributes:
        run: the run analysed, None for a `--since` window.
        assessment: findings and metrics.
        runs: ids of the runs whose data were used.
        window_start: UTC ISO start of the window (`--since`), else None.
        window_end: UTC ISO end of the window (`--since`), else None.
    """

    run: str | None
    assessment: Assessment
    runs: list[str] = field(default_factory=list)
    window_start: str | None = None
    window_end: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the Findings document (docs/design.md#findings)."""
        document = self.assessment.as_dict(self.run)
        document["metrics"]["window"] = {
            "runs": self.runs,
            "start": self.window_start,
            "end": self.window_end,
        }
        return document


def ladder_data(store: Store, run: RunRecord) -> LadderData:
    """A profiling run's phases evaluated from its raw samples (recorded or imported alike)."""
    data = load_run_data(store, run, source="raw")
    return phases_from_data(data.phases, data.devices, data.series, run.interval_s)


def _cpu_ladder(store: Store, host: str) -> LadderSummary | None:
    """The newest measured ladder of `host`'s whole CPU (its packages summed), if any.

    A phase on `cpu` (every package) or on the host's only package `cpu:N` qualifies.
    """
    for run in store.list_runs():
        if not run.is_profiling or run.host != host:
            continue
        packages = cpu_ids(store.devices(run.id))
        for summary in summarise_ladders(ladder_data(store, run).phases):
            estimated = is_estimate(summary.provenance)
            if is_host_cpu(summary.device, packages) and summary.metrics and not estimated:
                return summary
    return None


def _observed_util(store: Store, host: str) -> float | None:
    """Mean utilisation of `host` in its newest monitoring run, for LOW_EFFICIENCY_HOST."""
    for run in store.list_runs():
        if run.kind in MONITORING_KINDS and not run.is_profiling and run.host == host:
            for series in load_run_data(store, run).series.values():
                if series.spec.kind == "host" and not np.isnan(series.util).all():
                    return float(np.nanmean(series.util))
    return None


def resolve_run(store: Store, run_id: str | None) -> RunRecord:
    """Return the run to analyse: `run_id`, else the newest run.

    Raises:
        AnalyzeError: no such run, or no runs at all.
    """
    if run_id is not None:
        run = store.get_run(run_id)
        if run is None:
            raise AnalyzeError(f"RUN_ID: no run {run_id!r} in {store.path}; see `finwatt runs`")
        return run
    runs = store.list_runs(limit=1)
    if not runs:
        raise AnalyzeError(f"no runs in {store.path}: record one with `finwatt monitor`")
    return runs[0]


def analyze_run(
    store: Store,
    run: RunRecord,
    site: Site,
    thresholds: Thresholds,
    *,
    source: Source = "auto",
) -> AnalyzeResult:
    """Assess one stored run (profiling or monitoring); `source` as in `choose_source`."""
    if run.is_profiling:
        data = ladder_data(store, run)
        assessment = assess_profile(
            data.phases,
            site,
            thresholds,
            observed_util=_observed_util(store, run.host),
            ladder_data=data,
        )
    else:
        loaded = load_run_data(store, run, source=source).series.values()
        series, provisioned = container_scoped(list(loaded))
        assessment = assess_usage(series, site, thresholds, ladder=_cpu_ladder(store, run.host))
        say_provisioned(assessment, provisioned, series)
    return AnalyzeResult(run.id, assessment, [run.id])


def analyze_since(
    store: Store,
    since_s: float,
    site: Site,
    thresholds: Thresholds,
    *,
    host: str | None = None,
    now_s: float | None = None,
    source: Source = "auto",
) -> AnalyzeResult:
    """Assess all monitoring data of `host` (default this machine) in the last `since_s`.

    Raises:
        AnalyzeError: no monitoring run of the host overlaps the window.
    """
    host = host or socket.gethostname()
    end = datetime.now(UTC).timestamp() if now_s is None else now_s
    start = end - since_s
    runs = [
        r
        for r in store.list_runs()
        if r.kind in MONITORING_KINDS
        and not r.is_profiling
        and r.host == host
        and r.started.timestamp() <= end
        and (r.ended is None or r.ended.timestamp() >= start)
    ]
    if not runs:
        raise AnalyzeError(
            f"--since: no monitor or scheduled run of host {host!r} in the last "
            f"{since_s:g} s; see `finwatt runs`"
        )
    parts: dict[str, list[DeviceSeries]] = {}
    covered: dict[str, float | None] = {}  # per device: the last second earlier runs cover
    for run in sorted(runs, key=lambda r: r.started):
        offset = run.started.timestamp()
        records = store.devices(run.id)
        chosen = choose_source(
            store,
            run.id,
            [d.info.device_id for d in records],
            min_t=start - offset,
            source=source,
        )
        for record in records:
            series = store.series(run.id, record.info, min_t=start - offset, source=chosen).shifted(
                offset
            )
            keep = series.t <= end
            if not keep.all():
                series = _take(series, keep)
            device_id = record.info.device_id
            series, covered[device_id] = _after(
                series, covered.get(device_id), minutes=chosen == "minute"
            )
            parts.setdefault(device_id, []).append(series)
    # the newest run's description of each device wins (parts are in start order)
    merged = [
        concatenate([DeviceSeries(p[-1].spec, *_arrays(q)) for q in p]) for p in parts.values()
    ]
    merged, provisioned = container_scoped(merged)
    assessment = assess_usage(merged, site, thresholds, ladder=_cpu_ladder(store, host))
    say_provisioned(assessment, provisioned, merged)
    return AnalyzeResult(
        None, assessment, [r.id for r in runs], epoch_to_iso(start), epoch_to_iso(end)
    )


def _arrays(s: DeviceSeries) -> tuple[Any, ...]:
    return tuple(getattr(s, name) for name in FIELDS)


def _take(s: DeviceSeries, mask: Any) -> DeviceSeries:
    return DeviceSeries(s.spec, *(a[mask] for a in _arrays(s)))


def _after(
    s: DeviceSeries, covered_s: float | None, *, minutes: bool
) -> tuple[DeviceSeries, float | None]:
    """Return the part of `s` after `covered_s`, and the last second now covered.

    `covered_s`: the last second an earlier-starting run of the host already covers (a
    scheduled run around a `measure()` block, a stored copy of the same run). Each entry
    covers the `interval_s` before its end (a raw sample's `t`, a minute's `t` + 60 s);
    entries ending by `covered_s` are left out, and the first one kept counts only the
    part of its interval after it, so no stretch of the host is counted twice.
    """
    if not s.n:
        return s, covered_s
    ends = s.t + 60.0 if minutes else s.t
    last = float(ends[-1]) if covered_s is None else max(covered_s, float(ends[-1]))
    if covered_s is None or (ends[0] > covered_s and ends[0] - s.interval_s[0] >= covered_s):
        return s, last
    kept = _take(s, ends > covered_s)
    if kept.n:
        span = float(kept.interval_s[0])
        left = float(ends[ends > covered_s][0]) - covered_s
        if span > left > 0.0:
            kept.energy_delta_j[0] *= left / span
            kept.interval_s[0] = left
    return kept, last


def store_findings(store: Store, result: AnalyzeResult) -> None:
    """Replace the stored findings of the run (or window) with this result's.

    A store this process cannot write (a read-only file or folder) keeps its old ones.
    """
    if not store.can_write:
        return
    try:
        store.add_findings(
            result.run,
            result.assessment.findings,
            window_start=result.window_start,
            window_end=result.window_end,
        )
    except sqlite3.OperationalError as err:
        if not store.read_only:
            raise
        # a command that only reads (analyze, report) still answers on a full disk
        log.info("findings not stored in %s: %s", store.path, err)
