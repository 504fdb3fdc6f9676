"""Assess stored runs and keep the findings (`finwatt analyze`).

The I/O half of the analyzer; `profiler.analysis` holds the pure half. A run is read
into one `RunData` (`profiler.workflows.run_data.load_run_data`: one `DeviceSeries` per
device, from raw samples or, for long or pruned runs, from minute rollups, see
`choose_source`).

With `--since`, every `monitor` and `scheduled` run of the host that overlaps the window
is placed on one absolute time axis (each run's `started` plus its `t`) and concatenated
per device (`read_window`, which `finwatt demand` reads too), each stretch of time from
the earliest-starting run that covers it (a `measure()` block inside a scheduled run, or a
stored copy of a run, adds nothing); with the site's zone the window is also assessed on
its wall clock (`profiler.analysis.time_rules`).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from profiler.analysis.annual import series_yearly
from profiler.analysis.assess import Assessment, assess_profile, assess_usage
from profiler.analysis.demand import observed_seconds, sample_power_w
from profiler.analysis.ladder_data import LadderData, phases_from_data
from profiler.analysis.phases import cpu_ids, is_host_cpu
from profiler.analysis.profile import LadderSummary, summarise_ladders
from profiler.analysis.shift_rules import shift_findings
from profiler.analysis.thresholds import Thresholds
from profiler.analysis.time_rules import LocalClock
from profiler.model.annual import Annual
from profiler.model.errors import FinwattInputError
from profiler.model.provenance import is_estimate
from profiler.model.run import RunKind, RunRecord
from profiler.model.savings import Site
from profiler.model.series import FIELDS, DeviceSeries, FloatArray, concatenate
from profiler.model.units import epoch_to_iso
from profiler.settings.time_zones import zone
from profiler.store.database import Store
from profiler.workflows.chargeback import batch_runs
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
        annual: the yearly IT energy of the monitoring data, from the time that has data
            (`metrics.annual`; docs/methodology.md#savings); None for a profiling run
            (its load is not the host's year) and for data without energy figures.
    """

    run: str | None
    assessment: Assessment
    runs: list[str] = field(default_factory=list)
    window_start: str | None = None
    window_end: str | None = None
    annual: Annual | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the Findings document (docs/design.md#findings)."""
        document = self.assessment.as_dict(self.run)
        document["metrics"]["window"] = {
            "runs": self.runs,
            "start": self.window_start,
            "end": self.window_end,
        }
        document["metrics"]["annual"] = self.annual.as_dict() if self.annual else None
        return document


def ladder_data(store: Store, run: RunRecord) -> LadderData:
    """A profiling run's phases evaluated from its raw samples (recorded or imported alike)."""
    data = load_run_data(store, run, source="raw")
    return phases_from_data(data.phases, data.devices, data.series, run.interval_s)


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
        loaded = load_run_data(store, run, source=source).series.values()
        series, provisioned = container_scoped(list(loaded))
        assessment = assess_usage(series, site, thresholds, ladder=_cpu_ladder(store, run.host))
        say_provisioned(assessment, provisioned, series)
        span_s = run.duration_s or max((float(s.t[-1]) for s in series if s.n), default=0.0)
        annual = series_yearly(series, span_s, site, thresholds)
        return AnalyzeResult(run.id, assessment, [run.id], annual=annual)
    return AnalyzeResult(run.id, assessment, [run.id])


@dataclass(frozen=True)
class WindowData:
    """Every monitoring run of one host that overlaps a window, on one absolute time axis.

    Attributes:
        host: the host.
        runs: the runs read (newest first, as `Store.list_runs` gives them).
        series: one series per device, the runs concatenated (container-scoped).
        provisioned: the assumption line saying the series were scoped to a container's
            limits, None when they were not.
        views: device id -> its demand view (`demand_view`), for the findings that see
            time (`profiler.analysis.time_rules.LocalClock`).
        start: epoch seconds where the window starts.
        end: epoch seconds where it ends.
    """

    host: str
    runs: list[RunRecord]
    series: list[DeviceSeries]
    provisioned: str | None
    views: dict[str, DeviceSeries]
    start: float
    end: float


def observed_intervals(
    series: DeviceSeries, source: str, interval_s: float | None
) -> tuple[FloatArray, FloatArray]:
    """Return (end, seconds) of the interval the samples behind each entry observed.

    A raw sample observes the interval before it (capped at twice the median, as
    `demand.observed_seconds` counts it). A minute rollup holds the samples taken in its
    minute, each observing the run's sampling interval before it: together about
    `n_samples` x that interval, centred half an interval before the minute's middle
    (to within half a minute).
    """
    if source != "minute":
        return series.t, observed_seconds(series)
    samples = np.maximum(series.n_samples, 1.0)
    step = interval_s if interval_s and interval_s > 0 else 60.0 / samples
    seconds: FloatArray = samples * step
    ends: FloatArray = series.t + 30.0 - step / 2.0 + seconds / 2.0
    return ends, seconds


def demand_view(series: DeviceSeries, ends: FloatArray, seconds: FloatArray) -> DeviceSeries:
    """Return the series with `t` and `interval_s` its samples' own (power kept as read)."""
    return dataclasses.replace(series, t=ends, interval_s=seconds, power_w=sample_power_w(series))


@dataclass(frozen=True)
class WindowPart:
    """One device's entries of one run inside a window, on the absolute time axis.

    Attributes:
        run: the run.
        series: the device's entries in the window (`t` epoch seconds; may be empty).
        source: where they were read from (`choose_source`: raw or minute).
    """

    run: RunRecord
    series: DeviceSeries
    source: Literal["raw", "minute"]


def window_parts(
    store: Store, runs: Sequence[RunRecord], span: tuple[float, float], source: Source = "auto"
) -> Iterator[WindowPart]:
    """Yield every device's entries of each run (oldest start first) in [start, end].

    Each run is read from its raw samples or minute rollups (`choose_source`, from the
    window's start), shifted by its start onto epoch seconds. `read_window` (analyze,
    demand) and the window report's demand both read a window this way.
    """
    start, end = span
    for run in sorted(runs, key=lambda r: r.started):
        offset = run.started.timestamp()
        records = store.devices.for_run(run.id)
        ids = [d.info.device_id for d in records]
        chosen = choose_source(store, run.id, ids, min_t=start - offset, source=source)
        for record in records:
            series = store.samples.series(
                run.id, record.info, min_t=start - offset, source=chosen
            ).shifted(offset)
            keep = series.t <= end
            yield WindowPart(run, series if keep.all() else _take(series, keep), chosen)


def read_window(
    store: Store,
    since_s: float,
    *,
    host: str | None = None,
    now_s: float | None = None,
    source: Source = "auto",
) -> WindowData:
    """Read every monitoring run of `host` (default this machine) in the last `since_s`.

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
    covered: dict[str, float | None] = {}  # per device: the last second earlier runs cover
    observed: dict[str, list[tuple[FloatArray, FloatArray]]] = {}
    for part in window_parts(store, runs, (start, end), source):
        device_id = part.series.spec.device_id
        series, covered[device_id] = _after(
            part.series, covered.get(device_id), minutes=part.source == "minute"
        )
        parts.setdefault(device_id, []).append(series)
        observed.setdefault(device_id, []).append(
            observed_intervals(series, part.source, part.run.interval_s)
        )
    # the newest run's description of each device wins (parts are in start order)
    merged = [
        concatenate([DeviceSeries(p[-1].spec, *_arrays(q)) for q in p]) for p in parts.values()
    ]
    merged, provisioned = container_scoped(merged)
    views = {}
    for joined in merged:
        device_id = joined.spec.device_id
        order = np.argsort(np.concatenate([p.t for p in parts[device_id]]), kind="stable")
        ends, seconds = (np.concatenate(c)[order] for c in zip(*observed[device_id], strict=True))
        views[device_id] = demand_view(joined, ends, seconds)
    return WindowData(host, runs, merged, provisioned, views, start, end)


def analyze_since(
    store: Store,
    since_s: float,
    site: Site,
    thresholds: Thresholds,
    *,
    host: str | None = None,
    now_s: float | None = None,
    source: Source = "auto",
    tz: str | None = None,
) -> AnalyzeResult:
    """Assess all monitoring data of `host` (default this machine) in the last `since_s`.

    `tz`: the site's zone (`[defaults] tz`); with it the findings that see time
    (`profiler.analysis.time_rules`) are assessed on its wall clock, without it none are.

    Raises:
        AnalyzeError: no monitoring run of the host overlaps the window.
        UnknownZoneError: `tz` is not a zone.
    """
    window = read_window(store, since_s, host=host, now_s=now_s, source=source)
    clock = LocalClock(tz, zone(tz), window.views) if tz is not None else None
    ladder = _cpu_ladder(store, window.host)
    assessment = assess_usage(window.series, site, thresholds, ladder=ladder, clock=clock)
    if clock is not None and site.hourly is not None:  # SHIFT_WINDOW: docs/methodology.md#carbon
        batches = batch_runs(store, window.start, window.host)
        assessment.findings.extend(shift_findings(batches, site, clock.zone))
    say_provisioned(assessment, window.provisioned, window.series)
    start, end = epoch_to_iso(window.start), epoch_to_iso(window.end)
    yearly = series_yearly(window.series, since_s, site, thresholds)
    return AnalyzeResult(None, assessment, [r.id for r in window.runs], start, end, yearly)


def host_history(store: Store, host: str, site: Site, thresholds: Thresholds) -> Annual | None:
    """Return the yearly figure of every monitoring run of `host`, None without any.

    A profiling run's page one states this, never its own deliberate load as the host's
    year. The span is from the first run's start to the last one's end.
    """
    runs = [
        r
        for r in store.runs.all()
        if r.kind in MONITORING_KINDS and not r.is_profiling and r.host == host
    ]
    if not runs:
        return None
    parts: dict[str, list[DeviceSeries]] = {}
    for run in sorted(runs, key=lambda r: r.started):
        offset = run.started.timestamp()
        for series in load_run_data(store, run).series.values():
            parts.setdefault(series.spec.device_id, []).append(series.shifted(offset))
    first = min(r.started.timestamp() for r in runs)
    last = max(r.started.timestamp() + (r.duration_s or 0.0) for r in runs)
    return series_yearly(_merged(parts), last - first, site, thresholds)


def _merged(parts: dict[str, list[DeviceSeries]]) -> list[DeviceSeries]:
    """Join each device's series of several runs; the newest run's description wins."""
    # parts are in start order
    return [concatenate([DeviceSeries(p[-1].spec, *_arrays(q)) for q in p]) for p in parts.values()]


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
