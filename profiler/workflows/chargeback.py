"""Read the jobs and monitor runs of a window from the store and charge them: `finwatt chargeback`.

The grouping and the closing `idle` / `unattributed` rows are `profiler.analysis.chargeback`;
here the job rows become `JobCharge`s and every `monitor`/`scheduled` run overlapping the
window becomes a `HostWindow` (its devices' energy inside the window and the idle part of
it, split per interval as `exec` splits a job's).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise

from profiler.analysis.attribution import split_idle_j
from profiler.analysis.chargeback import Chargeback, HostWindow, JobCharge, charge, charge_groups
from profiler.analysis.energy import energy_at, energy_series
from profiler.model.device import DeviceRecord
from profiler.model.errors import FinwattInputError
from profiler.model.job import JobRecord
from profiler.model.run import RunRecord
from profiler.model.samples import SampleRow
from profiler.model.units import epoch_to_iso
from profiler.store.database import Store

HOST_RUN_KINDS = ("monitor", "scheduled")


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
) -> HostWindow:
    """Return a monitor run's energy and idle energy from `since_s` (epoch seconds) on."""
    start_s = run.started.timestamp()
    t_from = max(0.0, since_s - start_s)
    by_device: dict[str, list[SampleRow]] = {}
    for sample in samples:
        by_device.setdefault(sample.device_id, []).append(sample)
    energy_j = idle_j = 0.0
    last_t = 0.0
    provenances = []
    for record in devices:
        info = record.info
        if info.provenance is None:
            continue
        series = energy_series(by_device.get(info.device_id, []))
        if not series or series[-1][0] <= t_from:
            continue
        first = energy_at(series, t_from)
        points = [(t_from, first if first is not None else 0.0)]
        points += [p for p in series if p[0] > t_from]
        idle_w = info.details.get("model_idle_w")
        if idle_w is None:
            idle_w = min(
                ((e1 - e0) / (t1 - t0) for (t0, e0), (t1, e1) in pairwise(points) if t1 > t0),
                default=0.0,
            )
        for (t0, e0), (t1, e1) in pairwise(points):
            _, idle = split_idle_j(max(0.0, e1 - e0), float(idle_w), t1 - t0)
            idle_j += idle
        energy_j += points[-1][1] - points[0][1]
        last_t = max(last_t, points[-1][0])
        provenances.append(info.provenance)
    return HostWindow(
        run.id,
        start_s + t_from,
        start_s + last_t,
        energy_j,
        idle_j,
        ",".join(dict.fromkeys(provenances)) or None,
    )


def chargeback(store: Store, since_s: float, kind: str, key: str | None) -> Chargeback:
    """Charge the jobs started since `since_s` (epoch seconds); see the module docstring.

    `--by cgroup` reads `monitor --attribute`'s per-minute rows instead of job rows.

    Raises:
        ChargebackInputError: `--by cgroup` and no attribution rows in the window.
    """
    if kind == "cgroup":
        return _by_cgroup(store, since_s)
    since_iso = epoch_to_iso(since_s, "stored")
    jobs = [job_charge(run, job) for run, job in store.jobs_since(since_iso)]
    windows = [
        host_window(run, store.devices(run.id), store.samples(run.id), since_s)
        for run in store.runs_since(since_iso, HOST_RUN_KINDS)
    ]
    return charge(jobs, [w for w in windows if w.end_s > w.start_s], kind, key)


def since_epoch_s(window_s: float, now_s: float | None = None) -> float:
    """Return the epoch seconds `window_s` before now."""
    return (time.time() if now_s is None else now_s) - window_s


def _by_cgroup(store: Store, since_s: float) -> Chargeback:
    now = datetime.now(UTC)
    groups = store.attributed_energy_by_group(datetime.fromtimestamp(since_s, UTC), now, "cgroup")
    if not groups:
        raise ChargebackInputError(
            "--by cgroup: no per-minute attribution rows in the window; record them with "
            "`finwatt monitor --attribute`, or group jobs with --by tag:KEY, unit or command"
        )
    return charge_groups(groups)
