"""Resolve the `host_curve` setting into a host power curve for `estimated:host-curve`.

`host_curve` names either a load,watts CSV file (`profiler.sensors.host_curve`) or the
id of a finwatt profiling run on the hypervisor host, imported into this database
(`finwatt import`): its CPU ladder's power curve, P(u) from idle to peak, becomes the
host curve, and its `host` device's logical cores the host's thread count.
"""

from __future__ import annotations

from pathlib import Path

from profiler.analysis.phases import cpu_ids, is_host_cpu
from profiler.analysis.profile import summarise_ladders
from profiler.model.provenance import is_estimate
from profiler.sensors.host_curve import HostCurve, HostCurveError, read_curve_csv
from profiler.settings.config import Settings
from profiler.store.database import Store


def _host_threads(store: Store, run_id: str) -> int | None:
    devices = [d.info for d in store.devices.for_run(run_id)]
    host = next((d.logical_cores for d in devices if d.kind == "host"), None)
    if host:
        return host
    cores = [d.logical_cores for d in devices if d.kind == "cpu" and d.logical_cores]
    return sum(c for c in cores if c is not None) or None


def curve_from_run(store: Store, run_id: str) -> HostCurve:
    """Return the CPU ladder curve of a stored profiling run.

    Raises:
        HostCurveError: no such run, not a profiling run, or no ladder with metrics.
    """
    from profiler.workflows.analyze import ladder_data  # only when used

    run = store.runs.get(run_id)
    if run is None:
        raise HostCurveError(
            f"host_curve {run_id!r}: neither a CSV file nor a run in {store.path}; give a "
            "load,watts CSV or import the host's profiling run with `finwatt import`"
        )
    if not run.is_profiling:
        raise HostCurveError(
            f"host_curve {run_id!r}: run {run_id} is a {run.kind} run; name a profiling run "
            "(`finwatt run`) recorded on the host"
        )
    packages = cpu_ids(store.devices.for_run(run.id))
    for summary in summarise_ladders(ladder_data(store, run).phases):
        if summary.metrics is not None and is_host_cpu(summary.device, packages):
            label = f"run {run.id} ({summary.workload} ladder on {run.host}'s {summary.device}"
            label += f", {summary.provenance})" if summary.provenance else ")"
            if is_estimate(summary.provenance):
                label += " - itself an estimate"
            return HostCurve(summary.metrics.curve, label, _host_threads(store, run.id))
    raise HostCurveError(
        f"host_curve {run_id!r}: run {run_id} has no CPU ladder with an idle and a loaded "
        "level; profile the host with `finwatt run <workload>`"
    )


def resolve_host_curve(settings: Settings) -> HostCurve | None:
    """Return the host curve the settings name, None when `host_curve` is not set.

    Raises:
        HostCurveError: the file or run is unusable (the message says how to fix it).
    """
    if settings.host_curve is None:
        return None
    path = Path(settings.host_curve).expanduser()
    if path.is_file() or path.suffix.lower() == ".csv":
        return read_curve_csv(path)
    if not settings.db_path.exists():
        raise HostCurveError(
            f"host_curve {settings.host_curve!r}: no such file, and no database "
            f"{settings.db_path} to find a run in"
        )
    with Store(settings.db_path) as store:
        return curve_from_run(store, settings.host_curve)
