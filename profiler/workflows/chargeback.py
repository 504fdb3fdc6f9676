"""Read the jobs and monitor runs of a window from the store and charge them: `finwatt chargeback`.

The grouping and the closing `idle` / `unattributed` rows are `profiler.analysis.chargeback`;
here the job rows become `JobCharge`s and every `monitor`/`scheduled` run overlapping the
window becomes a `HostWindow` (its devices' energy inside the window and the idle part of
it, split per interval as `exec` splits a job's).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise

from profiler.analysis.attribution import split_idle_j
from profiler.analysis.chargeback import (
    POD_KINDS,
    Chargeback,
    HostWindow,
    JobCharge,
    charge,
    charge_groups,
    charge_pods,
    group_of,
)
from profiler.analysis.energy import EnergyCurve, energy_at, energy_curve, window
from profiler.analysis.pod_requests import PodRequestRow, requests_against_use
from profiler.analysis.reconcile import WALL_KINDS
from profiler.analysis.shift_rules import BatchRun
from profiler.model.device import DeviceRecord
from profiler.model.errors import FinwattInputError
from profiler.model.job import JobRecord
from profiler.model.run import RunKind, RunRecord
from profiler.model.samples import SampleRow
from profiler.model.series import series_of_rows
from profiler.model.units import epoch_to_iso
from profiler.store.database import Store

HOST_RUN_KINDS = (RunKind.MONITOR, RunKind.SCHEDULED)


class ChargebackInputError(FinwattInputError):
    """`--by cgroup` without per-minute attribution rows in the window."""


def job_charge(run: RunRecord, job: JobRecord) -> JobCharge:
    """Return a stored job as chargeback needs it."""
    start_s = run.started.timestamp()
    end_s = run.ended.timestamp() if run.ended else start_s + (job.seconds or 0.0)
    return JobCharge(
        run_id=run.id,
        start_s=start_s,
        end_s=end_s,
        command=job.command,
        tags=job.tags,
        unit=job.unit,
        units=job.units,
        charged_j=job.energy_j or 0.0,
        idle_j=job.idle_j or 0.0,
        idle_unallocated_j=job.idle_unallocated_j or 0.0,
        host_energy_j=job.host_energy_j or 0.0,
        provenance=job.provenance,
    )


def host_window(
    run: RunRecord,
    devices: Sequence[DeviceRecord],
    samples: Sequence[SampleRow],
    since_s: float,
    taken: Sequence[tuple[float, float]] = (),
) -> HostWindow:
    """Return a monitor run's energy and idle energy from `since_s` (epoch seconds) on.

    The parts (CPU, DRAM, GPU) only: a wall device (`node`) holds their energy and is
    never added to them (review 2). `taken`: (start, end) epoch spans that earlier runs
    already account for; the energy inside them is not counted again (review 3).
    """
    start_s = run.started.timestamp()
    t_from = max(0.0, since_s - start_s)
    skip = [(a - start_s, b - start_s) for a, b in taken]
    by_device = series_of_rows([d.info for d in devices], samples)
    energy_j = idle_j = 0.0
    last_t = 0.0
    provenances = []
    for record in devices:
        info = record.info
        if info.provenance is None or info.kind in WALL_KINDS:
            continue
        series = energy_curve(by_device[info.device_id])
        if not series[0].size or series[0][-1] <= t_from:
            continue
        end_t = float(series[0][-1])
        idle_w = info.details.get("model_idle_w")
        if idle_w is None:
            whole = _points(series, t_from, end_t)
            idle_w = min(
                ((e1 - e0) / (t1 - t0) for (t0, e0), (t1, e1) in pairwise(whole) if t1 > t0),
                default=0.0,
            )
        for lo, hi in _uncovered(t_from, end_t, skip):
            points = _points(series, lo, hi)
            for (t0, e0), (t1, e1) in pairwise(points):
                idle_j += split_idle_j(max(0.0, e1 - e0), float(idle_w), t1 - t0)[1]
            energy_j += points[-1][1] - points[0][1]
        last_t = max(last_t, end_t)
        provenances.append(info.provenance)
    return HostWindow(
        run.id,
        start_s + t_from,
        start_s + last_t,
        energy_j,
        idle_j,
        ",".join(dict.fromkeys(provenances)) or None,
    )


def _points(series: EnergyCurve, lo: float, hi: float) -> list[tuple[float, float]]:
    """The (t, cumulative J) points from `lo` to `hi`, the ends interpolated."""
    t, e = window(series, lo, hi)
    inner = [(a, b) for a, b in zip(t.tolist(), e.tolist(), strict=True) if lo < a < hi]
    return [(lo, energy_at(series, lo) or 0.0), *inner, (hi, energy_at(series, hi) or 0.0)]


def _uncovered(
    lo: float, hi: float, spans: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The parts of [lo, hi] outside every span."""
    out = []
    for a, b in sorted(spans):
        if b <= lo or a >= hi:
            continue
        if a > lo:
            out.append((lo, a))
        lo = max(lo, b)
    if hi > lo:
        out.append((lo, hi))
    return out


def host_windows(
    runs: Iterable[tuple[RunRecord, Sequence[DeviceRecord], Sequence[SampleRow]]],
    since_s: float,
) -> list[HostWindow]:
    """Return the host windows of monitor runs, each stretch of time counted from one run.

    Runs are taken in order of start (the longer first on a tie); a later run of a host
    counts only the time no earlier run of that host covers, so a manual `monitor`, a
    `measure()` block during a scheduled run or a stored copy of a run adds nothing
    twice (review 3), while two hosts monitored at once are both counted. A window keeps
    its whole span, so the jobs inside it stay covered.
    """
    ordered = sorted(runs, key=lambda r: (r[0].started, -_end_key(r[0])))
    windows: list[HostWindow] = []
    taken: dict[str, list[tuple[float, float]]] = {}
    for run, devices, samples in ordered:
        spans = taken.setdefault(run.host, [])
        window = host_window(run, devices, samples, since_s, spans)
        if window.end_s > window.start_s:
            windows.append(window)
            spans.append((window.start_s, window.end_s))
    return windows


def stored_once(pairs: Iterable[tuple[RunRecord, JobRecord]]) -> list[tuple[RunRecord, JobRecord]]:
    """Return the jobs with each stored copy of one job left out (the first one kept).

    A copy is the same host, start, end, command and figures under another run id: a
    database from before imports were refused twice holds such renamed copies
    (docs/interchange.md#run-ids-on-import). Two real jobs never share all of these.
    """
    seen: set[tuple[object, ...]] = set()
    kept = []
    for run, job in pairs:
        key = (
            run.host,
            run.started_iso,
            run.ended_iso,
            tuple(job.command),
            job.cpu_s,
            job.dynamic_j,
        )
        if key not in seen:
            seen.add(key)
            kept.append((run, job))
    return kept


def _end_key(run: RunRecord) -> float:
    return run.ended.timestamp() if run.ended else float("inf")


def chargeback(store: Store, since_s: float, kind: str, key: str | None) -> Chargeback:
    """Charge the jobs started since `since_s` (epoch seconds); see the module docstring.

    `--by cgroup` reads `monitor --attribute`'s per-minute rows instead of job rows.

    Raises:
        ChargebackInputError: `--by cgroup` and no attribution rows in the window.
    """
    if kind == "cgroup":
        return _by_cgroup(store, since_s)
    if kind in POD_KINDS:
        return _by_pods(store, since_s, kind, key)
    since_iso = epoch_to_iso(since_s, "stored")
    pairs = stored_once(store.jobs.since(since_iso))
    runs = store.runs.since(since_iso, HOST_RUN_KINDS)
    windows = host_windows(
        ((run, store.devices.for_run(run.id), store.samples.sample_rows(run.id)) for run in runs),
        since_s,
    )
    return charge(_jobs_once(store, pairs, windows, since_s), windows, kind, key)


def batch_runs(store: Store, since_s: float, host: str) -> list[BatchRun]:
    """Return the jobs of `host` started since `since_s` as SHIFT_WINDOW reads them."""
    pairs = stored_once(store.jobs.since(epoch_to_iso(since_s, "stored")))
    runs = []
    for run, job in pairs:
        if run.host != host or job.energy_j is None:
            continue
        charge_ = job_charge(run, job)
        group = group_of(charge_, "command", None)
        runs.append(BatchRun(group, job.tags, charge_.start_s, charge_.end_s, job.energy_j))
    return runs


def _jobs_once(
    store: Store,
    pairs: Sequence[tuple[RunRecord, JobRecord]],
    windows: Sequence[HostWindow],
    since_s: float,
) -> list[JobCharge]:
    """Return the jobs' charges, the host energy of overlapping job windows counted once.

    A job no monitor run covers brings its window's host energy; where it overlaps an
    earlier such job of the same host, only the energy outside the earlier windows (from
    its own samples, `host_window`) is added, so two concurrent jobs do not count the
    host twice. Its unallocated idle is the idle of that part less its allocated idle.
    """
    taken: dict[str, list[tuple[float, float]]] = {}
    charges = []
    for run, job in pairs:
        charge_ = job_charge(run, job)
        if not any(charge_.start_s < w.end_s and w.start_s < charge_.end_s for w in windows):
            spans = taken.setdefault(run.host, [])
            if any(charge_.start_s < b and a < charge_.end_s for a, b in spans):
                part = host_window(
                    run,
                    store.devices.for_run(run.id),
                    store.samples.sample_rows(run.id),
                    since_s,
                    spans,
                )
                charge_ = replace(
                    charge_,
                    host_energy_j=part.energy_j,
                    idle_unallocated_j=max(0.0, part.idle_j - charge_.idle_j),
                )
            spans.append((charge_.start_s, charge_.end_s))
        charges.append(charge_)
    return charges


def since_epoch_s(window_s: float, now_s: float | None = None) -> float:
    """Return the epoch seconds `window_s` before now."""
    return (time.time() if now_s is None else now_s) - window_s


def _by_cgroup(store: Store, since_s: float) -> Chargeback:
    now = datetime.now(UTC)
    groups = store.attribution.energy_by_group(datetime.fromtimestamp(since_s, UTC), now, "cgroup")
    if not groups:
        raise ChargebackInputError(
            "--by cgroup: no per-minute attribution rows in the window; record them with "
            "`finwatt monitor --attribute`, or group jobs with --by tag:KEY, unit or command"
        )
    return charge_groups(groups)


def _by_pods(store: Store, since_s: float, kind: str, key: str | None) -> Chargeback:
    now = datetime.now(UTC)
    groups = store.attribution.energy_by_group(datetime.fromtimestamp(since_s, UTC), now, "cgroup")
    if not groups:
        by = f"label:{key}" if kind == "label" else kind
        raise ChargebackInputError(
            f"--by {by}: no per-minute attribution rows in the window; record them with "
            "`finwatt monitor --attribute` and FINWATT_KUBELET_URL set (docs/kubernetes.md)"
        )
    return charge_pods(groups, kind, key)


def pod_requests(store: Store, since_s: float) -> tuple[list[PodRequestRow], int | None]:
    """Return the named pod containers' requests against use since `since_s`, and node cores.

    The node's cores are the `host` device's of the latest monitor run in the window.

    Raises:
        ChargebackInputError: no per-minute attribution rows in the window.
    """
    now = datetime.now(UTC)
    groups = store.attribution.energy_by_group(datetime.fromtimestamp(since_s, UTC), now, "cgroup")
    if not groups:
        raise ChargebackInputError(
            "finwatt pods: no per-minute attribution rows in the window; record them with "
            "`finwatt monitor --attribute` and FINWATT_KUBELET_URL set (docs/kubernetes.md)"
        )
    cores = None
    for run in reversed(store.runs.since(epoch_to_iso(since_s, "stored"), HOST_RUN_KINDS)):
        host = next((d.info for d in store.devices.for_run(run.id) if d.info.kind == "host"), None)
        if host is not None and host.logical_cores:
            cores = host.logical_cores
            break
    return requests_against_use(groups, cores), cores
