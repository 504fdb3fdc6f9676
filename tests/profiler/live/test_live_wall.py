"""The live view's wall-power line with a BMC `node` device, and totals without the wall."""

from __future__ import annotations

from datetime import UTC, datetime

from profiler.live import LiveState
from profiler.live.layout import frame
from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading, Tick

DEVICES = [
    DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"),
    DeviceInfo("dram:0", "dram", provenance="measured:rapl"),
    DeviceInfo("node", "node", provenance="measured:ipmi-dcmi"),
]


def _state(with_node_reading: bool = True) -> LiveState:
    state = LiveState(
        DEVICES,
        interval_s=1.0,
        families={"rapl": ["cpu:0", "dram:0"], "ipmi": ["node"]},
        host="bank-db-03",
        wall_start=datetime(2026, 11, 2, 17, 30, tzinfo=UTC),
    )
    for i in (1, 2):
        readings = {
            "cpu:0": Reading("cpu:0", util=0.4, power_w=150.0, energy_j=150.0 * i),
            "dram:0": Reading("dram:0", power_w=25.0, energy_j=25.0 * i),
        }
        if with_node_reading:
            readings["node"] = Reading("node", power_w=250.0, energy_j=250.0 * i)
        state.consume(Tick(i, float(i), readings, 0))
    return state


def _text(state: LiveState) -> list[str]:
    return [line.plain for line in frame(state, 100, 60)]


def test_wall_line_splits_wall_power_into_parts_and_remainder() -> None:
    lines = _text(_state())
    assert "wall 250.0 W = cpu 150.0 W + dram 25.0 W + unexplained 75.0 W (30 %)" in lines


def test_totals_do_not_add_the_wall_to_its_parts() -> None:
    text = "\n".join(_text(_state()))
    assert "175.0 W" in text
    assert "425.0 W" not in text


def test_no_wall_reading_no_wall_line() -> None:
    assert not any(line.startswith("wall ") for line in _text(_state(with_node_reading=False)))
