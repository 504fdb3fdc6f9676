"""Measured power curves in the fleet: what the exporter publishes and the fleet reads.

`finwatt serve` publishes the CPU power curve of the host's latest valid profiling run
(a load ladder, `finwatt profile`): one gauge per load level,

    finwatt_power_curve_watts{device="cpu:0", workload="risk", run="<run id>",
                              provenance="measured:rapl", load="0.5"} 212.0
    finwatt_power_curve_run_timestamp_seconds{device=..., run=...} <run end, epoch s>

`load` is the level's throughput as a share of the ladder's peak (0 is active idle). The
fleet reads the newest run per host (`read_curves`) and uses it for consolidation
savings, IDLE_HOST's idle power and LOW_EFFICIENCY_HOST; the findings name the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from profiler.analysis.curve import PowerCurve
from profiler.analysis.profile import LadderSummary
from profiler.analysis.proportionality import LadderLevel, proportionality
from profiler.model.provenance import is_estimate
from profiler.prometheus.api import PrometheusApi

CURVE_METRIC = "finwatt_power_curve_watts"
CURVE_RUN_METRIC = "finwatt_power_curve_run_timestamp_seconds"
CURVE_LABELS = ("device", "workload", "run", "provenance")
"""Labels of both curve metrics; `finwatt_power_curve_watts` adds `load`."""


@dataclass(frozen=True)
class PublishedCurve:
    """A profiling run's power curve as the exporter publishes it.

    Attributes:
        run_id: the profiling run.
        run_end_s: when it ended, epoch seconds (the newest run wins in the fleet).
        workload: the ladder's workload.
        device: the device the ladder ran on (`cpu:0`).
        provenance: provenance of the ladder's power figures.
        points: (load share of peak throughput, watts), idle at load 0.

    """

    run_id: str
    run_end_s: float
    workload: str
    device: str
    provenance: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class HostCurve:
    """One host's measured curve as the analyzer uses it."""

    run_id: str
    curve: PowerCurve
    ladder: LadderSummary


def host_curve(published: PublishedCurve) -> HostCurve | None:
    """Return the analyzer's view of a published curve, None without idle and one level."""
    points = sorted(published.points)
    if len(points) < 2 or points[0][0] != 0.0 or points[-1][1] <= 0:
        return None
    levels = [LadderLevel(u, w) for u, w in points[1:] if u > 0]
    metrics = proportionality(levels, points[0][1])
    label = (
        f"{published.workload} ladder on {published.device}, run {published.run_id} "
        f"({published.provenance})"
    )
    summary = LadderSummary(
        workload=published.workload,
        device=published.device,
        unit="share of peak throughput",
        provenance=published.provenance,
        peak_units_per_s=None,
        metrics=metrics,
        note=f"curve read from {CURVE_METRIC} (run {published.run_id})",
    )
    curve = PowerCurve(tuple(points), "ladder", label, estimated=is_estimate(published.provenance))
    return HostCurve(published.run_id, curve, summary)


def read_curves(
    api: PrometheusApi, curve_selector: str, since_s: float, end_s: float
) -> dict[str, HostCurve]:
    """Return each host's newest published curve (instance -> curve), two instant queries."""
    lookback = f"{round(since_s)}s"
    run_selector = curve_selector.replace(CURVE_METRIC, CURVE_RUN_METRIC, 1)
    newest: dict[str, tuple[float, str]] = {}
    for labels, value in api.query(f"last_over_time({run_selector}[{lookback}])", end_s):
        instance, run = labels.get("instance"), labels.get("run")
        if instance and run and value > newest.get(instance, (float("-inf"), ""))[0]:
            newest[instance] = (value, run)
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for labels, value in api.query(f"last_over_time({curve_selector}[{lookback}])", end_s):
        instance = labels.get("instance")
        if instance in newest and labels.get("run") == newest[instance][1]:
            found.setdefault(instance, []).append((labels, value))
    curves: dict[str, HostCurve] = {}
    for instance, items in found.items():
        curve = host_curve(_published(items, newest[instance][0]))
        if curve is not None:
            curves[instance] = curve
    return curves


def _published(items: Sequence[tuple[dict[str, str], float]], run_end_s: float) -> PublishedCurve:
    first = items[0][0]
    points = []
    for labels, value in items:
        try:
            points.append((float(labels.get("load", "nan")), value))
        except ValueError:
            continue
    return PublishedCurve(
        run_id=first.get("run", ""),
        run_end_s=run_end_s,
        workload=first.get("workload", ""),
        device=first.get("device", "cpu:0"),
        provenance=first.get("provenance", ""),
        points=tuple(p for p in points if p[0] == p[0]),
    )
