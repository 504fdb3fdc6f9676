"""docs/methodology.md#ladder-and-validity: the 100 % level, shared hosts, a ladder's last phase.

- The unthrottled 100 % level is the measured maximum: its throughput defines 100 %, so
  it cannot miss its target by overshooting the short calibration (nor by undershooting
  it: the calibration was off, not the level); lower levels are judged against it.
- A phase other processes disturbed still reports the workload's own energy, its share
  by CPU time (`profiler.analysis.job_energy`, as `finwatt exec` shares a host), marked
  shared-host; EP and IPR come from clean phases only, and the summary says why not.
- The last phase of an imported ladder whose samples stop one interval before its end
  has its energy (the last reading is held to the end, at most a hold).
"""

from __future__ import annotations

import pytest

from profiler.analysis.ladder_data import phases_from_data
from profiler.analysis.phases import evaluated
from profiler.analysis.profile import summarise_ladders
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import SampleRow
from profiler.model.series import DeviceSeries, series_of_rows

MODELLED = "estimated:vcpu-average"
DEVICES = [
    DeviceRecord(DeviceInfo("host", "host", logical_cores=4)),
    DeviceRecord(DeviceInfo("cpu:0", "cpu", provenance=MODELLED, details={"model_idle_w": 20.0})),
]


def rows(power_w: float, util: float, t_end: int = 40) -> dict[str, DeviceSeries]:
    return by_device(rows_of(power_w, util, t_end))


def by_device(samples: list[SampleRow]) -> dict[str, DeviceSeries]:
    return series_of_rows([d.info for d in DEVICES], samples)


def rows_of(power_w: float, util: float, t_end: int = 40) -> list[SampleRow]:
    return [
        SampleRow("cpu:0", float(t), power_w=power_w, energy_j=power_w * t)
        for t in range(1, t_end + 1)
    ] + [SampleRow("host", float(t), util=util) for t in range(1, t_end + 1)]


def level(target: float, achieved: float | None, **figures: float) -> PhaseRecord:
    units = 10_000.0 * target
    metrics = PhaseMetrics.of(**figures)
    return PhaseRecord(
        "risk", "cpu:0", target, 5.0, 15.0, units, "scenario", achieved, None, metrics
    )


@pytest.mark.parametrize("achieved", [1.07, 0.93, 1.11])
def test_the_unthrottled_100_level_is_the_reference_not_judged_against_calibration(
    achieved: float,
) -> None:
    quiet = rows(60.0, 0.5)  # 20 busy CPU s over 10 s on 4 cores: all the workers' own
    result = evaluated(level(1.0, achieved, worker_cpu_seconds=20.0), DEVICES, quiet, 1.0)
    assert result.metrics.invalid_reasons == ()
    assert result.valid is True


def test_a_lower_level_still_misses_its_target_by_more_than_5_points() -> None:
    quiet = rows(40.0, 0.25)
    result = evaluated(level(0.5, 0.44, worker_cpu_seconds=10.0), DEVICES, quiet, 1.0)
    assert result.valid is False
    assert "achieved load misses target by more than 5 points" in (
        result.metrics.invalid_reasons or ()
    )


def test_a_disturbed_phase_reports_the_workloads_own_energy_by_cpu_time() -> None:
    # 60 W for 10 s = 600 J; idle 20 W x 10 s = 200 J; dynamic 400 J. The host was busy
    # 75 % of 4 cores (30 CPU s), the workers used 15 of them: half the dynamic energy.
    busy = rows(60.0, 0.75)
    result = evaluated(level(1.0, 0.6, worker_cpu_seconds=15.0), DEVICES, busy, 1.0)
    d = result.metrics
    assert d.disturbed is True and result.valid is False
    assert d.energy_j == pytest.approx(600.0)  # the device's energy is still there
    assert d.shared_host is True
    assert d.attributed_energy_j == pytest.approx(200.0)  # idle share none (the default)
    assert d.attributed_provenance == f"attributed:cpu-time({MODELLED})"
    assert d.idle_share == "none"
    with_idle = evaluated(
        level(1.0, 0.6, worker_cpu_seconds=15.0), DEVICES, busy, 1.0, idle_share="cpu-time"
    )
    assert with_idle.metrics.attributed_energy_j == pytest.approx(300.0)  # + half of 200 J


def test_a_clean_phase_is_not_attributed() -> None:
    quiet = rows(60.0, 0.5)
    d = evaluated(level(1.0, 1.0, worker_cpu_seconds=20.0), DEVICES, quiet, 1.0).metrics
    assert d.shared_host is None and d.attributed_energy_j is None


def ladder(utils: tuple[float, float, float]) -> list[PhaseRecord]:
    """100 %, 50 % and idle, 10 s each, at 60 W; `utils`: the host's utilisation in each."""
    energy = [s for s in rows_of(60.0, 0.0, t_end=60) if s.device_id == "cpu:0"]
    out = []
    for k, (target, cpu_s) in enumerate(((1.0, 15.0), (0.5, 8.0), (0.0, 0.0))):
        t0 = 5.0 + 15.0 * k
        phase = PhaseRecord(
            "risk",
            "cpu:0",
            target,
            t0,
            t0 + 10.0,
            10_000.0 * target,
            "scenario",
            target,
            None,
            PhaseMetrics.of(worker_cpu_seconds=cpu_s),
        )
        host = [SampleRow("host", float(t), util=utils[k]) for t in range(1, 61)]
        out.append(evaluated(phase, DEVICES, by_device(energy + host), 1.0))
    return out


def test_a_ladder_disturbed_throughout_gives_figures_and_says_why_there_is_no_ep() -> None:
    (summary,) = summarise_ladders(ladder((0.75, 0.75, 0.75)))
    assert summary.metrics is None
    assert summary.peak_units_per_s == pytest.approx(1000.0)  # measured, on a shared host
    # the workload's own energy: 200 J at 100 %, (400 x 8 / 30) J at 50 %
    own_j = 200.0 + 400.0 * 8.0 / 30.0
    assert summary.attributed_units_per_j == pytest.approx(15_000.0 / own_j)
    assert summary.note is not None and "no clean phase" in summary.note
    assert summary.shared_host is not None
    assert "3 of 3 phases" in summary.shared_host
    assert f"attributed:cpu-time({MODELLED})" in summary.shared_host
    shape = summary.as_dict()
    assert shape["attributed_units_per_j"] == pytest.approx(15_000.0 / own_j)
    assert shape["shared_host"] == summary.shared_host


def test_ep_and_ipr_come_from_the_clean_phases_only() -> None:
    phases = ladder((0.375, 0.5, 0.0))  # 100 % and idle clean; 50 %: 8 of 20 busy CPU s
    assert [p.valid for p in phases] == [True, False, True]
    (summary,) = summarise_ladders(phases)
    assert summary.metrics is not None
    assert [u for u, _ in summary.metrics.curve] == [0.0, 1.0]  # the 50 % level left out
    assert summary.shared_host is not None and "1 of 3 phases" in summary.shared_host


def test_the_last_imported_phase_gets_energy_when_samples_stop_one_interval_early() -> None:
    # 50 s levels at 1 Hz; the recorder stopped one interval before the idle phase's end
    levels = [(1.0, 1000.0, 200.0), (0.5, 500.0, 140.0), (0.0, 0.0, 80.0)]
    phases = [
        PhaseRecord("ssj", "cpu:0", target, 50.0 * k, 50.0 * (k + 1), rate * 50.0, "op", None, None)
        for k, (target, rate, _) in enumerate(levels)
    ]
    power = [w for _, _, w in levels for _ in range(50)]
    samples = [SampleRow("cpu:0", float(t), power_w=power[t - 1]) for t in range(1, 150)]
    devices = [DeviceRecord(DeviceInfo("cpu:0", "cpu", provenance="measured:wall-meter"))]
    data = phases_from_data(phases, devices, series_of_rows([devices[0].info], samples), 1.0)
    idle = data.phases[-1]
    assert idle.metrics.coverage == pytest.approx(0.98)
    assert idle.metrics.energy_j == pytest.approx(80.0 * 50.0)
    assert idle.valid is True
    (summary,) = summarise_ladders(data.phases)
    assert summary.metrics is not None
    assert summary.metrics.ipr == pytest.approx(80.0 / 200.0)
