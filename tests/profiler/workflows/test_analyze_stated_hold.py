"""Raw samples and minute rollups hold power readings alike for a run with a stated interval.

A power reading covers at most 2 x the run's stated sampling interval before it
(`profiler.model.energy.run_hold_s`, what the rollups use). The raw-sample analysis used
2 x the median step instead, so a run sampled more slowly than it stated (missed ticks)
gave different energies from raw samples and from rollups. Real SQLite store, real
rollups, the real analyzer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.savings import Site
from profiler.store.database import Store
from profiler.workflows.analyze import analyze_run, analyze_since

POWER_W = 100.0
STATED_INTERVAL_S = 1.0
"""Its hold is 2.0 s (`run_hold_s`): shorter than the 2.5 s gaps, longer than the steps."""


def _times() -> list[float]:
    """Steps of 1.5 s (the sampler fell behind its stated 1 s), every 10th a 2.5 s gap."""
    times, t = [], 0.0
    for i in range(160):
        t += 2.5 if i % 10 == 9 else 1.5
        times.append(t)
    return times


def _store(path: Path) -> tuple[Store, str]:
    store = Store(path)
    run = store.runs.create("monitor", interval_s=STATED_INTERVAL_S, status="complete")
    gpu = DeviceInfo("gpu:0", "gpu", provenance="measured:nvml-power")
    store.devices.add(run.id, [DeviceInfo("host", "host", logical_cores=4), gpu])
    rows = [SampleRow("host", t, util=0.2) for t in _times()]
    rows += [SampleRow("gpu:0", t, util=0.5, power_w=POWER_W) for t in _times()]
    store.samples.add(run.id, rows)
    return store, run.id


def _energy_j(metrics: dict[str, object]) -> float:
    devices = metrics["devices"]
    assert isinstance(devices, dict)
    return float(devices["gpu:0"]["energy_j"])


def test_a_run_from_raw_samples_and_from_rollups_has_the_same_energy(tmp_path: Path) -> None:
    store, run_id = _store(tmp_path / "f.db")
    with store:
        run = store.runs.get(run_id)
        assert run is not None
        raw = analyze_run(store, run, Site(), Thresholds(), source="raw")
        minutes = analyze_run(store, run, Site(), Thresholds(), source="minute")
    raw_j, minute_j = _energy_j(raw.assessment.metrics), _energy_j(minutes.assessment.metrics)
    # 16 gaps of 2.5 s each hold 2.0 s; every other step holds its 1.5 s
    expected_j = POWER_W * (144 * 1.5 + 16 * 2.0)
    assert raw_j == pytest.approx(expected_j, rel=1e-12)
    assert minute_j == pytest.approx(expected_j, rel=1e-12)


def test_a_window_from_raw_samples_and_from_rollups_has_the_same_energy(tmp_path: Path) -> None:
    store, run_id = _store(tmp_path / "f.db")
    with store:
        run = store.runs.get(run_id)
        assert run is not None
        start_s = run.started.timestamp()
        now_s = start_s + 3600.0  # `analyze --since 2h` an hour after the run began
        window = {"since_s": 7200.0, "host": run.host, "now_s": now_s}
        raw = analyze_since(store, site=Site(), thresholds=Thresholds(), source="raw", **window)
        minutes = analyze_since(
            store, site=Site(), thresholds=Thresholds(), source="minute", **window
        )
    assert raw.runs == minutes.runs == [run_id]
    assert _energy_j(raw.assessment.metrics) == pytest.approx(
        _energy_j(minutes.assessment.metrics), rel=1e-12
    )
    assert _energy_j(raw.assessment.metrics) == pytest.approx(POWER_W * (144 * 1.5 + 16 * 2.0))
