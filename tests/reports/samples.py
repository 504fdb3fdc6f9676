"""Realistic report inputs of each kind (run, window, fleet), built from records.

Used by the browser checks (Nu validator, axe-core, screenshots) and by
`tests/reports/screenshots.py`, which writes the docs/ screenshots a person looked at.
The run has what a bank's report meets: a CPU and a GPU ladder, a 100 % level that
overshot (invalid), a disturbed level, an idle stretch, and findings with savings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from profiler.analysis.assess import Assessment
from profiler.analysis.savings import savings_from_power
from profiler.analysis.trend import DayEnergy, Trend, TrendPoint, TrendSeries
from profiler.model.annual import Annual, annual_kwh
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.findings import Finding
from profiler.model.run import PhaseMetrics, PhaseRecord, RunRecord
from profiler.model.run_data import RunData
from profiler.model.savings import Estimate
from profiler.model.series import DeviceSeries, device_series
from profiler.model.units import DAY_S, parse_iso
from reports.data import ReportData, report_data
from tests.profiler.analysis.examples import given_site

SITE = given_site(581.0, "China national grid (given)", 0.85)
DURATION_S = 900.0


def _phase(
    workload: str, device: str, target: float, t0: float, watts: float, x_per_s: float, **extra: Any
) -> PhaseRecord:
    seconds = 60.0
    units = x_per_s * seconds
    energy = watts * seconds
    achieved = extra.pop("achieved", target)
    valid = extra.pop("valid", True)
    metrics = PhaseMetrics.of(
        seconds=seconds,
        energy_j=energy,
        mean_power_w=watts,
        units_per_s=x_per_s,
        units_per_j=units / energy,
        j_per_1000_units=1000 * energy / units if units else None,
        coverage=1.0,
        cpu_share=0.97 if target else None,
        provenance="estimated:linear-tdp" if device.startswith("cpu") else "measured:nvml-energy",
        energy_devices=[device],
        **extra,
    )
    return PhaseRecord(
        workload, device, target, t0, t0 + seconds, units, "scenario", achieved, valid, metrics
    )


def _phases() -> list[PhaseRecord]:
    cpu = [
        (1.0, 95.0, 2400.0, {"achieved": 1.19, "valid": False, "invalid_reasons": [
            "achieved load misses target by more than 5 points"]}),
        (0.75, 80.0, 1800.0, {}),
        (0.5, 66.0, 1200.0, {"disturbed": True, "foreign_cpu_share": 0.31}),
        (0.25, 52.0, 600.0, {}),
        (0.0, 38.0, 0.0, {}),
    ]  # fmt: skip
    phases = [
        _phase("risk", "cpu:0", target, 60.0 * i, watts, x, **extra)
        for i, (target, watts, x, extra) in enumerate(cpu)
    ]
    gpu = [(1.0, 280.0, 52_000.0), (0.5, 190.0, 26_000.0), (0.0, 62.0, 0.0)]
    phases += [
        _phase("risk", "gpu:0", target, 300.0 + 60.0 * i, watts, x)
        for i, (target, watts, x) in enumerate(gpu)
    ]
    return phases


def _series(devices: list[DeviceRecord], phases: list[PhaseRecord]) -> dict[str, DeviceSeries]:
    t = np.arange(1.0, DURATION_S + 1)
    rng = np.random.default_rng(1)
    idle_power = {"cpu:0": 38.0, "gpu:0": 62.0, "host": None}
    series: dict[str, DeviceSeries] = {}
    for record in devices:
        device, idle_w = record.info.device_id, idle_power[record.info.device_id]
        util = np.full(t.size, 0.01)
        power = np.full(t.size, idle_w or np.nan)
        for p in phases:
            if p.device_id == device or (device == "host" and p.device_id == "cpu:0"):
                inside = (t > p.t_start) & (t <= p.t_end)
                util[inside] = min(p.achieved_load or 0.0, 1.0) + 0.01
                if idle_w is not None:
                    power[inside] = p.metrics.mean_power_w or np.nan
        if idle_w is not None:
            power = power + rng.normal(0, 0.4, t.size)
        series[device] = device_series(
            record.info, t, util=util, power_w=power,
            energy_j=np.cumsum(power) if idle_w is not None else None,
        )  # fmt: skip
    return series


def run_sample(label: str | None = "nightly risk ladder") -> ReportData:
    """A profile run on a CPU (modelled power) and a GPU (measured), 15 minutes."""
    run = RunRecord(
        "r-20261129-a1", "profile", label, "bank-node-07",
        parse_iso("2026-11-29T02:00:00.000Z"), parse_iso("2026-11-29T02:15:00.000Z"),
        "complete", {"workloads": ["risk"]}, "0.9.0", interval_s=1.0,
    )  # fmt: skip
    devices = [
        DeviceRecord(DeviceInfo("host", "host", model="Xeon Gold 6248", logical_cores=40)),
        DeviceRecord(DeviceInfo("cpu:0", "cpu", model="Xeon Gold 6248", logical_cores=40,
                                power_limit_w=150.0, provenance="estimated:linear-tdp")),
        DeviceRecord(DeviceInfo("gpu:0", "gpu", model="NVIDIA H200", power_limit_w=700.0,
                                provenance="measured:nvml-energy")),
    ]  # fmt: skip
    phases = _phases()
    return report_data(RunData(run, tuple(devices), tuple(phases), _series(devices, phases)))


def host_history() -> Annual:
    """The run's host's monitoring runs: 20 days of RAPL data in 21 days at 410 W."""
    covered = 20 * DAY_S
    return Annual(410.0 * covered, covered, 21 * DAY_S, annual_kwh(410.0), "medium")


def window_annual() -> Annual:
    """The window's monitoring data: 13.5 days of RAPL data in 14 days at 445 W."""
    covered = 13.5 * DAY_S
    return Annual(445.0 * covered, covered, 14 * DAY_S, annual_kwh(445.0), "medium")


def findings() -> list[Finding]:
    """Three findings with savings and one without, in the analyzer's evidence shapes."""
    gpu = {
        "max_util": 0.0,
        "mean_util": 0.0,
        "mean_sm_active": 0.0,
        "max_mem_used_bytes": 0.2 * 2**30,
        "mean_power_w": 38.0,
        "span_days": 7.0,
    }
    return [
        Finding(
            "IDLE_GPU", "gpu:0", "warning",
            "gpu:0 is idle: no utilisation and under 1 GiB used in 7.0 days; release it to the "
            "pool or power it down (332.9 kWh/yr IT).",
            gpu, recommendation={"action": "release or power down"},
            savings=savings_from_power(Estimate(38.0, 30.0, 46.0), SITE), confidence="high",
            assumptions=("annualised from mean power x 8,760 h/yr",),
        ),
        Finding(
            "POOR_PROPORTIONALITY", "cpu:0", "info",
            "the power model for cpu:0 (estimated:linear-tdp) gives EP 0.62 and IPR 0.40 under "
            "risk: this restates the model, not the hardware; measure with RAPL or NVML before "
            "acting.",
            {"workload": "risk", "ep": 0.62, "ipr": 0.40, "dynamic_range": 0.6,
             "provenance": "estimated:linear-tdp", "estimated": True},
            savings=savings_from_power(Estimate(9.0, 4.0, 14.0), SITE), confidence="low",
        ),
        Finding(
            "OVER_PROVISIONED_CPU", "host", "warning",
            "host uses 6.1 of 40 cores at P95 (production mode); 10 cores would serve it at 65% "
            "target utilisation.",
            {"p95_busy_cores": 6.1, "needed_cores": 6.1 / 0.65, "provisioned_cores": 40,
             "mode": "production"},
            recommendation={"cores": 10},
            savings=savings_from_power(Estimate(21.0, 12.0, 30.0), SITE), confidence="medium",
        ),
        Finding(
            "UNDERUSED_GPU", "gpu:0", "info",
            "gpu:0 is underused: mean utilisation 31.0%, mean SM activity 22.0%; batch more work "
            "onto it or move the job to a smaller GPU.",
            {**gpu, "max_util": 0.9, "mean_util": 0.31, "mean_sm_active": 0.22},
        ),
    ]  # fmt: skip


def run_assessment() -> Assessment:
    """The findings of `run_sample`, with the site's assumption lines."""
    return Assessment(findings(), {}, SITE.assumptions())


def window_trend() -> Trend:
    """Two weeks: a risk series on the CPU with one regression, and daily energy."""
    points = []
    for day, upj in enumerate((25.1, 25.4, 24.9, 25.3, 20.2, 25.0)):
        points.append(
            TrendPoint(
                f"r{day}", f"2026-11-{15 + 2 * day:02d}T02:00:00.000Z", upj,
                "measured:rapl", 25.1 if day else None, day, (upj / 25.1 - 1) if day else None,
                upj < 21,
            )
        )  # fmt: skip
    series = TrendSeries("bank-node-07", "risk", "cpu:0", "standard", "scenario", points)
    days = [
        DayEnergy(f"2026-11-{d:02d}", 3_600_000.0 * (9.0 + (d % 3)), {"cpu:0": 2.0e7}, d == 20)
        for d in range(15, 29)
    ]
    return Trend("2026-11-15T00:00:00Z", "2026-11-29T00:00:00Z", 6, [series], days)


def fleet_document() -> dict[str, Any]:
    """An `analyze --prometheus` findings document for three hosts."""
    found = [f.as_dict() for f in findings()[:3]]
    found[0]["device"] = "node-a:9100/gpu:0"
    found[2]["device"] = "node-b:9100"
    return {
        "findings": found,
        "metrics": {
            "window": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-29T00:00:00Z"},
            "hosts": {"node-a:9100": {}, "node-b:9100": {}, "node-c:9100": {}},
            "fleet": {"hosts_read": 2, "hosts_screened": 1, "measured_curves": ["node-a:9100"]},
        },
    }
