"""Load stored runs into numpy arrays, assess them, and keep the findings (`finwatt analyze`).

The I/O half of the analyzer; `profiler.analysis` holds the pure half. Samples are read
as one `DeviceSeries` per device per run (`store.samples.series`: one indexed query, no
`SampleRow` per sample). A run (or the part of it in the window) spanning at least
`ROLLUP_MIN_SPAN_S`, or whose oldest raw samples were pruned, is read from its minute
rollups instead (`sample_minute`: 60x fewer rows at 1-s sampling); every rule gives the
same result from them (docs/decisions.md, "Rollups and retention"); shorter runs keep
their raw samples, so their figures stay exact to the sample.

With `--since`, every `monitor` and `scheduled` run of the host that overlaps the window
is placed on one absolute time axis (each run's `started` plus its `t`) and concatenated
per device.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

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

log = logging.getLogger(__name__)

MONITORING_KINDS = (RunKind.MONITOR, RunKind.SCHEDULED)


Source = Literal["auto", "raw", "minute"]
"""Where samples are read from: raw `sample` rows, `sample_minute` rollups, or chosen."""

ROLLUP_MIN_SPAN_S = 6 * 3600.0
"""Runs (or parts in a window) at least this long are analysed from minute rollups."""


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


def choose_source(
    store: Store,
    run_id: str,
    device_ids: list[str],
    *,
    min_t: float | None = None,
    source: Source = "auto",
) -> Literal["raw", "minute"]:
    """Return where to read a run from: raw samples or minute rollups.

    `source` decides unless it is "auto"; then rollups when the run's data from `min_t` on
    span `ROLLUP_MIN_SPAN_S` or more, or when any device's raw samples there were pruned
    (its first raw sample is after its first rolled-up one).
    """
    if source != "auto":
        return source
    first, last = store.samples.minute_span(run_id, min_t=min_t)
    if first is None or last is None:
        return "raw"
    floor_t = float("-inf") if min_t is None else min_t
    for device_id in device_ids:
        bounds = store.samples.time_bounds(run_id, device_id)
        rolled, raw = bounds["minute_first"], bounds["raw_first"]
        if rolled is not None and (raw is None or raw > max(rolled, floor_t)):
            return "minute"
    return "minute" if last - first >= ROLLUP_MIN_SPAN_S else "raw"


def load_run(
    store: Store, run: RunRecord, *, offset_s: float = 0.0, source: Source = "auto"
) -> list[DeviceSeries]:
    """Read every device of a run (from raw samples or minute rollups, see `choose_source`)."""
    records = store.devices.for_run(run.id)
    chosen = choose_source(store, run.id, [d.info.device_id for d in records], source=source)
    return [store.samples.series(run.id, d.info, source=chosen).shifted(offset_s) for d in records]


def ladder_data(store: Store, run: RunRecord) -> LadderData:
    """A profiling run's phases evaluated from its samples (recorded or imported alike)."""
    devices = store.devices.for_run(run.id)
    series = {d.info.device_id: store.samples.series(run.id, d.info) for d in devices}
    return phases_from_data(store.phases.for_run(run.id), devices, series, run.interval_s)


def _cpu_ladder(store: Store, host: str) -> LadderSummary | None:
    """The newest measured ladder of `host`'s whole CPU (its packages summed), if any.

    A phase on `cpu` (every package) or on the host's only package `cpu:N` qualifies.
    """
    for run in store.runs.all():
        if not run.is_profiling or run.host != host:
            continue
        packages = cpu_ids(store.devices.for_run(run.id))
        for summary in summarise_ladders(ladder_data(store, run).phases):
            estimated = is_estimate(summary.provenance)
            if is_host_cpu(summary.device, packages) and summary.metrics and not estimated:
                return summary
    return None


def _observed_util(store: Store, host: str) -> float | None:
    """Mean utilisation of `host` in its newest monitoring run, for LOW_EFFICIENCY_HOST."""
    for run in store.runs.all():
        if run.kind in MONITORING_KINDS and not run.is_profiling and run.host == host:
            for series in load_run(store, run):
                if series.spec.kind == "host" and not np.isnan(series.util).all():
                    return float(np.nanmean(series.util))
    return None


def resolve_run(store: Store, run_id: str | None) -> RunRecord:
    """Return the run to analyse: `run_id`, else the newest run.

    Raises:
        AnalyzeError: no such run, or no runs at all.
    """
    if run_id is not None:
        run = store.runs.get(run_id)
        if run is None:
            raise AnalyzeError(f"RUN_ID: no run {run_id!r} in {store.path}; see `finwatt runs`")
        return run
    runs = store.runs.all(limit=1)
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
        series, provisioned = container_scoped(load_run(store, run, source=source))
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
        for r in store.runs.all()
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
    for run in sorted(runs, key=lambda r: r.started):
        offset = run.started.timestamp()
        records = store.devices.for_run(run.id)
        chosen = choose_source(
            store,
            run.id,
            [d.info.device_id for d in records],
            min_t=start - offset,
            source=source,
        )
        for record in records:
            series = store.samples.series(
                run.id, record.info, min_t=start - offset, source=chosen
            ).shifted(offset)
            keep = series.t <= end
            if not keep.all():
                series = _take(series, keep)
            parts.setdefault(record.info.device_id, []).append(series)
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


def store_findings(store: Store, result: AnalyzeResult) -> None:
    """Replace the stored findings of the run (or window) with this result's.

    A store this process cannot write (a read-only file or folder) keeps its old ones.
    """
    if not store.can_write:
        return
    try:
        store.findings.replace(
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
