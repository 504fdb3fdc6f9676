"""Reconciliation of wall power with CPU, DRAM and GPU power on synthetic runs."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.reconcile import reconcile
from profiler.model.device import DeviceInfo
from profiler.model.series import DeviceSeries, device_series

RUN_S = 300.0


def _counter(device_id: str, kind: str, watts: float, provenance: str) -> DeviceSeries:
    """A device with a cumulative energy counter sampled every second at constant power."""
    t = np.arange(1.0, RUN_S + 1.0)
    return device_series(DeviceInfo(device_id, kind, provenance=provenance), t, energy_j=watts * t)


def _wall(watts: np.ndarray | float, step_s: float = 5.0) -> DeviceSeries:
    """A BMC node device: power only, read every `step_s` seconds."""
    t = np.arange(step_s, RUN_S + step_s, step_s)
    power = np.broadcast_to(np.asarray(watts, dtype=np.float64), t.shape)
    return device_series(
        DeviceInfo("node", "node", provenance="measured:ipmi-dcmi"), t, power_w=power
    )


def _server(wall: DeviceSeries, cpu_provenance: str = "measured:rapl") -> list[DeviceSeries]:
    return [
        wall,
        _counter("cpu:0", "cpu", 120.0, cpu_provenance),
        _counter("dram:0", "dram", 20.0, "measured:rapl"),
        _counter("gpu:0", "gpu", 100.0, "measured:nvml-energy"),
    ]


def test_remainder_of_a_300_w_server_with_240_w_of_parts_is_60_w_and_20_pct() -> None:
    result = reconcile(_server(_wall(300.0)), interval_s=60.0)
    assert result is not None
    assert result.total.wall_w == pytest.approx(300.0)
    assert result.total.parts_w == pytest.approx({"cpu": 120.0, "dram": 20.0, "gpu": 100.0})
    assert result.total.remainder_w == pytest.approx(60.0)
    assert result.total.remainder_pct == pytest.approx(20.0)
    assert len(result.intervals) == 5
    assert all(b.remainder_w == pytest.approx(60.0) for b in result.intervals)
    assert not result.estimated
    assert result.provenance == "measured:ipmi-dcmi,measured:rapl,measured:nvml-energy"


def test_each_interval_shows_its_own_remainder_when_wall_power_steps() -> None:
    t = np.arange(5.0, RUN_S + 5.0, 5.0)
    wall = _wall(np.where(t <= 150.0, 260.0, 340.0))
    result = reconcile(_server(wall), interval_s=30.0)
    assert result is not None
    remainders = [round(b.remainder_w, 6) for b in result.intervals]
    assert remainders == [20.0] * 5 + [100.0] * 5
    assert result.total.remainder_w == pytest.approx(60.0)


def test_an_interval_the_wall_does_not_cover_is_left_out() -> None:
    wall = _wall(300.0)
    keep = (wall.t <= 100.0) | (wall.t > 200.0)  # the BMC went silent for 100 s
    gappy = device_series(wall.spec, wall.t[keep], power_w=np.full(int(keep.sum()), 300.0))
    result = reconcile(_server(gappy), interval_s=50.0)
    assert result is not None
    starts = [round(b.t_start_s) for b in result.intervals]
    assert starts == [0, 50, 200, 250]
    assert result.total.remainder_w == pytest.approx(60.0)


def test_an_estimated_cpu_makes_the_remainder_an_estimate_and_says_so() -> None:
    result = reconcile(_server(_wall(300.0), "estimated:linear-tdp"))
    assert result is not None
    assert result.estimated
    assert any("cpu:0 power is estimated:linear-tdp" in n for n in result.notes())


def test_parts_above_the_wall_give_a_negative_remainder_and_a_warning() -> None:
    result = reconcile(_server(_wall(200.0)))
    assert result is not None
    assert result.total.remainder_w == pytest.approx(-40.0)
    assert any("components exceed wall power" in n for n in result.notes())


def test_a_missing_dram_domain_is_named_as_inside_the_remainder() -> None:
    devices = [d for d in _server(_wall(300.0)) if d.spec.kind != "dram"]
    result = reconcile(devices)
    assert result is not None
    assert result.missing_kinds == ("dram",)
    assert result.total.remainder_w == pytest.approx(80.0)


def test_no_wall_device_means_no_reconciliation() -> None:
    assert reconcile(_server(_wall(300.0))[1:]) is None


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        reconcile(_server(_wall(300.0)), interval_s=0.0)


def test_json_shape_carries_total_intervals_and_notes() -> None:
    result = reconcile(_server(_wall(300.0)), interval_s=100.0)
    assert result is not None
    document = result.as_dict()
    assert document["total"]["remainder_pct"] == pytest.approx(20.0)
    assert len(document["intervals"]) == 3
    assert document["wall_provenance"] == "measured:ipmi-dcmi"
