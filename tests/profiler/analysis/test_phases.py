import pytest

from profiler.analysis.phases import evaluated
from profiler.model.device import DeviceInfo, DeviceRecord
from profiler.model.run import PhaseMetrics, PhaseRecord
from profiler.model.samples import SampleRow
from profiler.model.series import DeviceSeries, series_of_rows

DEVICES = [
    DeviceRecord(DeviceInfo("host", "host", logical_cores=4)),
    DeviceRecord(DeviceInfo("cpu:0", "cpu", provenance="measured:rapl")),
    DeviceRecord(DeviceInfo("cpu:1", "cpu", provenance="measured:rapl")),
    DeviceRecord(DeviceInfo("gpu:0", "gpu", provenance="measured:nvml-energy")),
]


def by_device(rows: list[SampleRow]) -> dict[str, DeviceSeries]:
    return series_of_rows([d.info for d in DEVICES], rows)


def samples(device: str, power_w: float, util: float | None = None) -> list[SampleRow]:
    return [
        SampleRow(device, float(t), util=util, power_w=power_w, energy_j=power_w * t)
        for t in range(1, 21)
    ]


def phase(device: str, **figures: float) -> PhaseRecord:
    metrics = PhaseMetrics.of(**figures)
    return PhaseRecord("risk", device, 1.0, 5.0, 15.0, 20_000.0, "scenario", 1.02, None, metrics)


def test_gpu_phase_reports_host_cpu_energy_beside_gpu_energy() -> None:
    rows = samples("gpu:0", 300.0) + samples("cpu:0", 60.0) + samples("cpu:1", 40.0)
    rows += samples("host", 0.0, util=0.13)  # the workers' 5 CPU s and a little more
    result = evaluated(phase("gpu:0", worker_cpu_seconds=5.0), DEVICES, by_device(rows), 1.0)
    d = result.metrics
    assert d.energy_j == pytest.approx(3000.0)  # 300 W x 10 s, the GPU only
    assert d.host_cpu_energy_j == pytest.approx(1000.0)  # both packages, same window
    assert d.units_per_j == pytest.approx(20_000 / 3000)
    assert d.units_per_j_incl_host == pytest.approx(20_000 / 4000)
    assert d.provenance == "measured:nvml-energy"
    assert d.cpu_share == pytest.approx(5.0 / (0.13 * 4 * 10))
    assert d.foreign_cpu_share == pytest.approx(0.2 / 40)
    assert d.disturbed is False
    assert result.valid is True


def test_cpu_phase_on_two_packages_sums_them_and_flags_missing_samples() -> None:
    rows = samples("cpu:0", 60.0) + [s for s in samples("cpu:1", 40.0) if not 8 <= s.t <= 10]
    result = evaluated(phase("cpu"), DEVICES, by_device(rows), 1.0)
    d = result.metrics
    assert d.energy_j == pytest.approx(1000.0)  # interpolation bridges the gap exactly
    assert d.coverage == pytest.approx(0.7)
    assert result.valid is False
    assert any("95%" in r for r in d.invalid_reasons or ())


def ladder(valid_full: bool, provenance: str) -> list[PhaseRecord]:
    def p(target: float, ups: float, watts: float, valid: bool = True) -> PhaseRecord:
        figures = PhaseMetrics.of(units_per_s=ups, mean_power_w=watts, provenance=provenance)
        return PhaseRecord(
            "risk", "cpu:0", target, 0.0, 1.0, ups, "scenario", target, valid, figures
        )

    return [p(1.0, 1000.0, 100.0, valid_full), p(0.5, 500.0, 70.0), p(0.0, 0.0, 40.0)]


def test_ladder_summary_uses_the_100_level_and_says_when_power_is_a_model() -> None:
    from profiler.analysis.profile import summarise_ladders

    (measured,) = summarise_ladders(ladder(True, "measured:rapl"))
    assert measured.metrics is not None and measured.note is None
    assert measured.metrics.ipr == pytest.approx(0.4)
    assert measured.metrics.overall_units_per_j == pytest.approx(1500 / 210)
    (estimated,) = summarise_ladders(ladder(True, "estimated:linear-tdp"))
    assert estimated.note is not None and "restate the power model" in estimated.note
    assert estimated.as_dict()["estimated"] is True
    (invalid,) = summarise_ladders(ladder(False, "measured:rapl"))
    assert invalid.metrics is None and invalid.note is not None and "100%" in invalid.note


def test_foreign_load_marks_a_phase_disturbed_even_when_idle() -> None:
    """docs/analyzer.md#data-truth: other processes' CPU during a phase, idle phases included."""
    rows = samples("cpu:0", 60.0) + samples("cpu:1", 40.0) + samples("host", 0.0, util=0.30)
    idle = PhaseRecord("risk", "cpu", 0.0, 5.0, 15.0, 0.0, "scenario", 0.0, None)
    result = evaluated(idle, DEVICES, by_device(rows), 1.0)
    assert result.metrics.foreign_cpu_share == pytest.approx(0.30)
    assert result.metrics.disturbed is True
    assert result.valid is False
    assert any("disturbed" in r for r in result.metrics.invalid_reasons or ())
    loaded = phase("cpu", worker_cpu_seconds=11.0)  # 11 of the 12 busy CPU s are its own
    clean = evaluated(loaded, DEVICES, by_device(rows), 1.0)
    assert clean.metrics.foreign_cpu_share == pytest.approx(1.0 / 40)
    assert clean.metrics.disturbed is False


def test_finwatts_own_cpu_is_overhead_not_foreign_load() -> None:
    """The sampler and writer threads are the measurement, not another process's load."""
    rows = samples("cpu:0", 60.0) + samples("cpu:1", 40.0) + samples("host", 0.0, util=0.30)
    busy = phase("cpu", worker_cpu_seconds=9.0, profiler_cpu_seconds=2.9)  # of 12 busy CPU s
    result = evaluated(busy, DEVICES, by_device(rows), 1.0)
    assert result.metrics.foreign_cpu_share == pytest.approx(0.1 / 40)
    assert result.metrics.disturbed is False
    without = evaluated(phase("cpu", worker_cpu_seconds=9.0), DEVICES, by_device(rows), 1.0)
    assert without.metrics.disturbed is True  # the same overhead unaccounted would disturb it


def test_energy_counter_reset_inside_a_phase_is_dropped_and_invalidates_it() -> None:
    """docs/analyzer.md#data-truth: a counter that restarts adds nothing, and is not a wrap."""
    rows = [
        SampleRow("cpu:0", float(t), energy_j=60.0 * t if t < 10 else 60.0 * (t - 10))
        for t in range(1, 21)
    ]
    result = evaluated(phase("cpu:0"), DEVICES, by_device(rows), 1.0)
    assert result.metrics.energy_j == pytest.approx(60.0 * 9)  # the reset interval dropped
    assert result.valid is False
    assert any("reset" in r for r in result.metrics.invalid_reasons or ())
