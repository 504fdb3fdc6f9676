"""The capture-side attributor over a fake /proc tree and hand-made ticks (docs/attribution.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.capture.attribution import Attributor
from profiler.model.attribution_rows import AttributionRow, check_top_n
from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading, Tick
from profiler.sensors.processes import CLK_TCK, ProcessTable

DEVICES = [
    DeviceInfo("host", "host", logical_cores=2),
    DeviceInfo(
        "cpu:0",
        "cpu",
        logical_cores=2,
        provenance="estimated:vcpu-average",
        details={"model_idle_w": 2.0},
    ),
]
CTR = "4f1a2b3c4d5e" + "b" * 52


class FakeProc:
    """A /proc tree whose processes' CPU time the test advances."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ticks: dict[int, int] = {}

    def spawn(self, pid: int, comm: str, cgroup: str) -> None:
        folder = self.root / str(pid)
        folder.mkdir(parents=True)
        (folder / "cmdline").write_bytes(f"{comm}\0--run\0".encode())
        (folder / "cgroup").write_text(f"0::{cgroup}\n")
        self.ticks[pid] = 0
        self._write(pid, comm)

    def burn(self, pid: int, seconds: float, comm: str) -> None:
        self.ticks[pid] += round(seconds * CLK_TCK)
        self._write(pid, comm)

    def _write(self, pid: int, comm: str) -> None:
        fields = ["S", "1"] + ["0"] * 9 + [str(self.ticks[pid]), "0"] + ["0"] * 6
        fields += [str(1000 + pid), "0", "10"] + ["0"] * 28
        (self.root / str(pid) / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")


def tick(index: int, t: float, energy_j: float, util: float) -> Tick:
    readings = {
        "host": Reading("host", util=util),
        "cpu:0": Reading("cpu:0", util=util, energy_j=energy_j),
    }
    return Tick(index, t, readings, 0)


def attributor(root: Path, rows: list[AttributionRow], top_n: int = 10) -> Attributor:
    return Attributor(DEVICES, top_n=top_n, table=ProcessTable(root), row_sink=rows.extend)


def by_name(rows: list[AttributionRow], kind: str) -> dict[str, AttributionRow]:
    return {r.group_name: r for r in rows if r.group_kind == kind}


def test_dynamic_energy_is_shared_by_cpu_time_and_idle_kept_apart(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.spawn(100, "risk", "/system.slice/risk.service")
    proc.spawn(200, "report", f"/system.slice/docker-{CTR}.scope")
    rows: list[AttributionRow] = []
    att = attributor(tmp_path, rows)
    proc.burn(100, 1.0, "risk")
    proc.burn(200, 0.5, "report")
    att.observe(tick(1, 1.0, 10.0, 0.75))  # 0.75 x 2 cores x 1 s = 1.5 busy CPU s
    att.flush()
    processes = by_name(rows, "process")
    # 10 J in 1 s with a 2 W idle: 8 J dynamic shared 2:1, 2 J idle charged to nobody
    assert processes["risk[100]"].dynamic_j == pytest.approx(8.0 * 2 / 3)
    assert processes["report[200]"].dynamic_j == pytest.approx(8.0 / 3)
    assert processes["risk[100]"].idle_j == 0.0
    assert processes["risk[100]"].detail == "risk --run"
    assert processes["risk[100]"].provenance == "attributed:cpu-time(estimated:vcpu-average)"
    cgroups = by_name(rows, "cgroup")
    assert cgroups["systemd:risk.service"].dynamic_j == pytest.approx(8.0 * 2 / 3)
    assert cgroups[f"docker:{CTR[:12]}"].owner == "docker"
    (idle,) = [r for r in rows if r.group_kind == "host"]
    assert idle.group_name == "idle" and idle.idle_j == pytest.approx(2.0)
    assert idle.provenance == "estimated:vcpu-average"


def test_busy_time_no_process_claims_goes_to_other(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.spawn(100, "risk", "/a.service")
    rows: list[AttributionRow] = []
    att = attributor(tmp_path, rows)
    proc.burn(100, 0.5, "risk")
    att.observe(tick(1, 1.0, 6.0, 1.0))  # 2 busy CPU s, the process claims 0.5
    att.flush()
    processes = by_name(rows, "process")
    assert processes["risk[100]"].dynamic_j == pytest.approx(4.0 * 0.25)
    assert processes["other"].dynamic_j == pytest.approx(4.0 * 0.75)
    assert processes["other"].cpu_s == pytest.approx(1.5)


def test_top_n_bounds_the_rows_and_every_minute_adds_up(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    for i in range(6):
        proc.spawn(10 + i, f"w{i}", f"/w{i}.service")
    rows: list[AttributionRow] = []
    att = attributor(tmp_path, rows, top_n=2)
    energy = 0.0
    for k in range(1, 71):  # 70 s: one whole minute and a part
        for i in range(6):
            proc.burn(10 + i, 0.05 * (i + 1), f"w{i}")
        energy += 5.0
        att.observe(tick(k, float(k), energy, 0.6))
    assert {r.minute for r in rows} == {0}  # minute 0 was handed over when minute 1 began
    att.flush()
    for minute in (0, 1):
        mine = [r for r in rows if r.minute == minute]
        for kind in ("process", "cgroup"):
            named = [r for r in mine if r.group_kind == kind and r.group_name != "other"]
            assert [r.group_name.split("[")[0] for r in named] in (
                ["w5", "w4"],
                ["systemd:w5.service", "systemd:w4.service"],
            )
            total = sum(r.energy_j for r in mine if r.group_kind in (kind, "host"))
            assert total == pytest.approx(5.0 * (59 if minute == 0 else 11))  # t 1-59; 60-70


def test_a_process_started_between_ticks_counts_all_its_cpu_time(tmp_path: Path) -> None:
    rows: list[AttributionRow] = []
    proc = FakeProc(tmp_path)
    att = attributor(tmp_path, rows)
    proc.spawn(300, "late", "/late.service")
    proc.burn(300, 0.4, "late")
    att.observe(tick(1, 1.0, 4.0, 0.2))
    att.flush()
    assert by_name(rows, "process")["late[300]"].cpu_s == pytest.approx(0.4)


def test_a_fast_sampler_is_shared_once_a_second_and_finish_takes_the_rest(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.spawn(100, "risk", "/a.service")
    rows: list[AttributionRow] = []
    att = attributor(tmp_path, rows)
    last = None
    for k in range(1, 8):  # 0.5 s ticks up to 3.5 s
        proc.burn(100, 0.2, "risk")
        last = tick(k, 0.5 * k, 2.0 * k, 0.5)
        att.observe(last)
    assert att.ticks == 3  # at 1.0, 2.0 and 3.0 s
    att.finish(last)
    assert att.ticks == 4
    assert sum(r.energy_j for r in rows if r.group_kind in ("process", "host")) == pytest.approx(
        14.0
    )
    assert by_name(rows, "process")["risk[100]"].cpu_s == pytest.approx(1.4)


def test_top_n_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="use 1 to 100"):
        check_top_n(0)


RAPL = [
    DeviceInfo("host", "host", logical_cores=2),
    DeviceInfo("cpu:0", "cpu", logical_cores=2, provenance="measured:rapl"),
]


def rapl_attributor(root: Path, rows: list[AttributionRow], parts: list[object]) -> Attributor:
    return Attributor(
        RAPL, table=ProcessTable(root), row_sink=rows.extend, listeners=[parts.extend]
    )


def test_a_measured_package_keeps_its_running_minimum_power_as_idle(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.spawn(100, "risk", "/risk.service")
    rows: list[AttributionRow] = []
    att = rapl_attributor(tmp_path, rows, [])
    att.observe(tick(1, 1.0, 10.0, 0.0))  # 10 W with nothing running: the minimum so far
    proc.burn(100, 1.0, "risk")
    att.observe(tick(2, 2.0, 40.0, 0.5))  # 30 J: 10 J idle (10 W x 1 s) + 20 J the process's
    att.flush()
    processes = by_name(rows, "process")
    assert processes["risk[100]"].energy_j == pytest.approx(20.0)
    assert processes["risk[100]"].idle_j == 0.0  # idle policy none: no idle charged to it
    assert processes["risk[100]"].provenance == "attributed:cpu-time(measured:rapl)"
    (idle,) = [r for r in rows if r.group_kind == "host"]
    assert idle.idle_j == pytest.approx(20.0)
    assert idle.detail == "idle power: cpu:0 running minimum"
    assert idle.provenance == "measured:rapl"


def test_energy_of_intervals_without_cpu_time_lands_in_other_and_rows_add_up(
    tmp_path: Path,
) -> None:
    rows: list[AttributionRow] = []
    att = rapl_attributor(tmp_path, rows, [])
    att.observe(tick(1, 1.0, 20.0, 0.0))  # 20 W: all idle (the running minimum)
    att.observe(tick(2, 2.0, 60.0, 0.0))  # 40 J, no CPU time at all: 20 J idle, 20 J other
    att.flush()
    assert by_name(rows, "process")["other"].dynamic_j == pytest.approx(20.0)
    for kind in ("process", "cgroup"):
        assert sum(r.energy_j for r in rows if r.group_kind in (kind, "host")) == pytest.approx(
            60.0
        )


def test_listeners_get_each_share_with_its_attributed_provenance(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.spawn(100, "risk", "/risk.service")
    parts: list[object] = []
    att = rapl_attributor(tmp_path, [], parts)
    att.observe(tick(1, 1.0, 10.0, 0.0))
    proc.burn(100, 1.0, "risk")
    att.observe(tick(2, 2.0, 40.0, 0.5))
    assert ("process", "risk", pytest.approx(20.0), "attributed:cpu-time(measured:rapl)") in parts
    assert (
        "systemd",
        "risk.service",
        pytest.approx(20.0),
        "attributed:cpu-time(measured:rapl)",
    ) in (parts)
