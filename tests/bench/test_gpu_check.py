"""bench/gpu_check.sh's Python stages, driven here by the fake NVML and fake clocks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid as uuidlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bench import gpu_correctness, gpu_crosscheck, gpu_facts, gpu_load, gpu_summary
from profiler.sensors.nvml.library import NvmlLibrary
from tests.fakes.clock import FakeClock
from tests.fakes.fake_pynvml import FakeGpu, FakeNvml
from workloads import sha256_lanes
from workloads.base import resolve_backend

ROOT = Path(__file__).resolve().parents[2]

HELP = """List of valid properties to query for the switch "--query-gpu=":

"timestamp"
The timestamp of when the query was made in format "YYYY/MM/DD HH:MM:SS.msec".

"name" or "gpu_name"
The official product name of the GPU.

"uuid" or "gpu_uuid"
"driver_version"
"power.draw" or "power.draw.average"
"power.draw.instant"
"mig.mode.current"
"total_energy_consumption"
The total energy consumed by the GPU in millijoules (mJ) since the driver was last reloaded.
"""


# -- stage 1: nvidia-smi ----------------------------------------------------------------------


def test_smi_fields_reads_names_and_aliases() -> None:
    fields = gpu_facts.smi_fields(HELP)
    assert {"name", "gpu_name", "power.draw.instant", "total_energy_consumption"} <= fields
    assert "energy.consumption" not in fields  # the old check's field does not exist


def fake_smi(help_text: str):
    calls: list[list[str]] = []

    def run(argv: Sequence[str]) -> str:
        calls.append(list(argv))
        if "--help-query-gpu" in argv:
            return help_text
        if argv[1].startswith("--query-gpu="):
            fields = argv[1].split("=", 1)[1].split(",")
            return ", ".join(f"v-{f}" for f in fields) + "\n"
        return "GPU 0: NVIDIA H200 (UUID: GPU-1234)"

    return run, calls


def test_environment_queries_only_fields_the_driver_knows() -> None:
    run, calls = fake_smi(HELP)
    env = gpu_facts.environment(run)
    assert env["energy_field"] == "total_energy_consumption"
    assert "persistence_mode" in env["fields_unknown"]
    query = next(c for c in calls if c[1].startswith("--query-gpu="))
    assert "persistence_mode" not in query[1]
    assert env["gpus"][0]["power.draw.instant"] == "v-power.draw.instant"
    assert env["list"].startswith("GPU 0")


def test_environment_without_an_energy_field() -> None:
    run, _ = fake_smi(HELP.replace('"total_energy_consumption"', ""))
    assert gpu_facts.environment(run)["energy_field"] is None


# -- stage 2: NVML facts ------------------------------------------------------------------------


def test_latency_of_each_tick_call_and_failures_named() -> None:
    fake = FakeNvml([FakeGpu(power_instant_mw=None)])
    lib = NvmlLibrary(fake)
    lib.call("nvmlInit")
    clock = FakeClock()
    calls = gpu_facts.tick_calls(lib, lib.call("nvmlDeviceGetHandleByIndex", 0))
    ticking = {name: _advancing(call, clock, 25e-6) for name, call in calls.items()}
    latency = gpu_facts.call_latency_us(ticking, repeats=10, clock=clock.now)
    assert latency["energy_counter"]["median_us"] == pytest.approx(25.0)
    assert latency["energy_counter"]["calls"] == 10
    assert "Not Supported" in latency["power_instant"]["error"]


def _advancing(call, clock: FakeClock, seconds: float):
    def timed():
        clock.advance(seconds)
        return call()

    return timed


def test_update_period_counts_value_changes() -> None:
    clock = FakeClock()

    def read() -> float:
        clock.advance(0.001)  # a poll costs 1 ms
        return float(int(clock.now() / 0.1))  # the value moves every 100 ms

    period = gpu_facts.update_period_s(read, 2.0, clock.now)
    assert period["median_s"] == pytest.approx(0.1, abs=0.002)
    assert period["changes"] >= 19


def test_nvml_facts_map_nvml_indices_to_cuda_ordinals_by_uuid() -> None:
    a, b = (f"GPU-{i}a1b2c3d-0000-4000-8000-00000000000{i}" for i in (1, 2))
    fake = FakeNvml([FakeGpu(uuid=a, power_instant_mw=90_000), FakeGpu(uuid=b)])
    clock = FakeClock()
    cuda = ("torch", [uuidlib.UUID(b[4:]), uuidlib.UUID(a[4:])])  # CUDA lists b first
    facts = gpu_facts.nvml_facts(NvmlLibrary(fake), cuda, poll_s=0.0, repeats=3, clock=clock.now)
    mapping = facts["mapping"]
    assert mapping["cuda_ordinal_by_nvml_index"] == {"gpu:0": 1, "gpu:1": 0}
    assert mapping["index_is_ordinal"] is False
    assert mapping["prediction_matches_runtime"] is False  # PCI order is not CUDA's here
    assert [g["uuid"] for g in facts["gpus"]] == [a, b]
    assert fake.init_count == 0  # initialised and shut down


def test_uuid_mapping_honours_cuda_visible_devices() -> None:
    nvml = ["GPU-aaaa0000", "GPU-bbbb0000", "GPU-cccc0000"]
    mapping = gpu_facts.uuid_mapping(nvml, [nvml[2], nvml[0]], "2,0")
    assert mapping["cuda_ordinal_by_nvml_index"] == {"gpu:0": 1, "gpu:1": None, "gpu:2": 0}
    assert mapping["prediction_matches_runtime"] is True
    assert gpu_facts.uuid_mapping(nvml, None, None)["cuda_ordinal_by_nvml_index"]["gpu:0"] is None


# -- stage 4: the scripted load and the cross-check ---------------------------------------------


class FakeDevice:
    """A GPU on a fake clock: each matmul step takes 2 ms of busy time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.busy_s = 0.0

    def step(self) -> None:
        self.clock.advance(0.002)
        self.busy_s += 0.002


def test_schedule_windows_and_duty_cycle() -> None:
    clock = FakeClock()
    device = FakeDevice(clock)
    load = gpu_load.Load("fake", device.step, lambda: None)
    schedule = [("idle", 1.0, 0.0), ("full", 1.0, 1.0), ("half", 2.0, 0.5)]
    windows = gpu_load.run_schedule(
        schedule, load, clock=clock.now, wall=lambda: clock.now() + 1e9, sleep=clock.advance
    )
    assert [w.name for w in windows] == ["idle", "full", "half"]
    for w, (_, seconds, _) in zip(windows, schedule, strict=True):
        assert w.t1_mono - w.t0_mono == pytest.approx(seconds, abs=0.01)
        assert w.t0_wall == pytest.approx(w.t0_mono + 1e9)
    assert windows[0].steps == 0
    assert windows[1].steps == pytest.approx(500, abs=8)
    assert windows[2].steps * 0.002 == pytest.approx(1.0, abs=0.03)  # busy half of 2 s


def test_torch_load_uses_a_torch_transpose_not_numpy_copy() -> None:
    source = (ROOT / "bench" / "gpu_load.py").read_text()
    torch_branch = source.split("import torch", 1)[1].split("import cupy", 1)[0]
    assert "b = a.t().contiguous()" in torch_branch
    assert ".copy()" not in torch_branch.split("#")[0]


def fake_power_gpu(clock: FakeClock, power_w) -> tuple[FakeNvml, FakeGpu]:
    """A fake GPU whose counter and instant power follow `power_w(t)` as the clock moves."""
    gpu = FakeGpu(power_instant_mw=round(power_w(clock.now()) * 1000))
    fake = FakeNvml([gpu])

    def sleep(seconds: float) -> None:
        steps = max(1, round(seconds / 0.001))
        for _ in range(steps):
            w = power_w(clock.now())
            gpu.run(seconds / steps, w)
            gpu.power_instant_mw = round(w * 1000)
            clock.advance(seconds / steps)

    return fake, gpu, sleep  # type: ignore[return-value]


def test_crosscheck_sources_agree_on_a_known_load() -> None:
    clock = FakeClock(start=0.0)

    def power(t: float) -> float:
        return 400.0 if 1.0 <= t < 3.0 else 100.0

    fake, _, sleep = fake_power_gpu(clock, power)
    lib = NvmlLibrary(fake)
    lib.call("nvmlInit")
    samples = gpu_crosscheck.sample_nvml(
        lib,
        lib.call("nvmlDeviceGetHandleByIndex", 0),
        until=lambda: clock.now() >= 4.0,
        interval_s=0.02,
        clock=clock.now,
        wall=clock.now,
        sleep=sleep,
    )
    t = samples["t_wall"]
    sources = {
        "counter": gpu_crosscheck.counter_series(t, samples["counter_mj"]),
        "instant": gpu_crosscheck.integrate(t, samples["instant_w"]),
        "average": gpu_crosscheck.integrate(t, samples["average_w"]),
    }
    windows = [
        {"name": "idle", "load": 0.0, "t0_wall": 0.1, "t1_wall": 0.9},
        {"name": "full", "load": 1.0, "t0_wall": 1.1, "t1_wall": 2.9},
    ]
    table = gpu_crosscheck.window_table(windows, sources)
    idle, full = table
    assert idle["counter"]["energy_j"] == pytest.approx(80.0, rel=1e-3)
    assert full["counter"]["energy_j"] == pytest.approx(720.0, rel=1e-3)
    assert full["counter"]["mean_w"] == pytest.approx(400.0, rel=1e-3)
    assert full["instant"]["vs_counter"] == pytest.approx(0.0, abs=0.01)
    assert full["average"]["energy_j"] is not None
    assert full["counter"]["vs_counter"] == 0.0


def test_series_interpolates_at_edges_and_refuses_outside() -> None:
    series = gpu_crosscheck.Series([0.0, 1.0, 2.0], [0.0, 10.0, 30.0])
    assert series.at(1.5) == 20.0
    assert series.between(0.5, 2.0) == 25.0
    assert series.at(2.5) is None
    assert series.between(-1.0, 1.0) is None
    bridged = gpu_crosscheck.integrate([0.0, 1.0, 2.0], [100.0, None, 300.0])
    assert bridged.energy_j == [0.0, 400.0]


def test_monitor_series_reads_the_stored_run(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.db")
    db.executescript(
        "CREATE TABLE run (id TEXT, kind TEXT, started TEXT);"
        "CREATE TABLE sample (run_id TEXT, device_id TEXT, t REAL, energy_j REAL);"
    )
    db.execute("INSERT INTO run VALUES ('r1', 'monitor', '2026-11-29T10:00:00.500Z')")
    rows = [("r1", "gpu:0", 0.0, 0.0), ("r1", "gpu:0", 0.1, 30.0), ("r1", "cpu:0", 0.1, 5.0)]
    db.executemany("INSERT INTO sample VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    series = gpu_crosscheck.monitor_series(tmp_path / "m.db")
    start = datetime(2026, 11, 29, 10, 0, 0, 500_000, tzinfo=UTC).timestamp()
    assert series.t_wall == pytest.approx([start, start + 0.1])
    assert series.energy_j == [0.0, 30.0]


def test_smi_series_integrates_power_and_counts_energy() -> None:
    lines = (
        "2026/11/29 10:00:00.000, 0, 100.00, 110.00, 5000000\n"
        "2026/11/29 10:00:01.000, 0, 300.00, [N/A], 5000200\n"
        "2026/11/29 10:00:01.000, 1, 999.00, 999.00, 1\n"  # another GPU: ignored
        "garbage line\n"
    )
    fields = ("power.draw", "power.draw.instant", "total_energy_consumption")
    series = gpu_crosscheck.smi_series(lines, fields)
    start = datetime(2026, 11, 29, 10, 0, 0).timestamp()
    assert series["smi_power.draw"].between(start, start + 1.0) == pytest.approx(200.0)
    assert series["smi_power.draw.instant"].energy_j == [0.0]  # one usable sample
    assert series["smi_energy"].energy_j == [0.0, 0.2]  # mJ -> J


# -- stage 5: checks of `finwatt run --json` ------------------------------------------------------


def phase(load: float, watts: float, **kw: object) -> dict[str, object]:
    base = {
        "workload": "risk", "device": "gpu:0", "target_load": load, "achieved_load": load,
        "mean_power_w": watts, "provenance": "measured:nvml-energy", "coverage": 1.0,
        "unit": "scenario", "j_per_1000_units": 1.0,
    }  # fmt: skip
    return {**base, **kw}


def test_run_checks_pass_a_good_gpu_ladder() -> None:
    run = {"status": "complete", "phases": [phase(1.0, 600), phase(0.5, 380), phase(0.0, 90)]}
    checks = gpu_summary.run_checks(run)
    assert checks["ok"] is True
    assert checks["gpu_phases"] == 3


def test_run_checks_name_each_problem() -> None:
    run = {
        "status": "complete",
        "phases": [
            phase(1.0, 300, provenance="estimated:tdp"),
            phase(0.5, 380, achieved_load=0.31, coverage=0.5),
            phase(0.0, 90),
            phase(1.0, 50, device="cpu", provenance="measured:rapl"),  # not a GPU phase
        ],
    }
    problems = gpu_summary.run_checks(run)["problems"]
    assert problems["provenance"] == ["risk gpu:0 at 100%: estimated:tdp"]
    assert problems["coverage"] == ["risk gpu:0 at 50%: 0.5"]
    assert problems["half_load"] == ["risk gpu:0 at 50%: achieved 0.31"]
    assert problems["power"] and "100% 300 W" in problems["power"][0]
    assert gpu_summary.run_checks({"status": "complete", "phases": []})["ok"] is False


# -- stage 6: correctness, on the CPU back end here -----------------------------------------------


def test_correctness_checks_run_and_pass_on_numpy() -> None:
    result = gpu_correctness.correctness(
        resolve_backend("numpy"), hash_lanes=sha256_lanes.sha256_lanes_numpy, scale=0.05
    )
    assert result["ok"] is True
    assert result["risk"]["normal"]["errors_in_se"][0] < 4
    assert result["inference"]["max_abs_diff"] == 0.0
    assert all(result["ledger"]["roots_equal"].values())


def test_merkle_check_skips_torch() -> None:
    backend = resolve_backend("numpy")
    torchlike = type(backend)("torch", "gpu:0", np)
    assert "needs CuPy" in gpu_correctness.merkle_check(torchlike)["skipped"]


# -- the summary and the scripts ------------------------------------------------------------------


def test_summary_renders_every_stage(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text(json.dumps({
        "environment": {"gpus": [{"name": "NVIDIA H200", "uuid": "GPU-1", "driver_version": "580"}],
                        "energy_field": None, "fields_unknown": ["total_energy_consumption"]},
        "nvml": {"gpus": [], "mapping": {"cuda_runtime": "torch",
                                         "cuda_ordinal_by_nvml_index": {"gpu:0": 0}}},
    }))  # fmt: skip
    (tmp_path / "doctor.json").write_text(
        json.dumps({"families": [{"family": "nvml", "state": "found", "reason": "gpu:0"}]})
    )
    (tmp_path / "run.json").write_text(
        json.dumps({"status": "complete", "phases": [phase(1.0, 600), phase(0.5, 300)]})
    )
    (tmp_path / "crosscheck.json").write_text(json.dumps({"table": [
        {"window": "full", "load": 1.0, "seconds": 10.0,
         "counter": {"energy_j": 6000.0, "mean_w": 600.0, "vs_counter": 0.0},
         "average": {"energy_j": 5700.0, "mean_w": 570.0, "vs_counter": -0.05}},
    ]}))  # fmt: skip
    text = gpu_summary.summarise(tmp_path)
    assert "card: NVIDIA H200" in text
    assert "doctor nvml: found" in text
    assert "average 5700 (-5.0%)" in text
    assert "ok=True" in text


@pytest.mark.parametrize("script", ["gpu_check.sh", "wheelhouse.sh"])
def test_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / "bench" / script)], check=True)


def test_gpu_check_installs_from_the_wheelhouse_and_names_no_bad_field() -> None:
    text = (ROOT / "bench" / "gpu_check.sh").read_text()
    assert 'pip install -q --no-index --find-links "$WHEELHOUSE" -e "$ROOT"' in text
    assert "--system-site-packages" in text
    assert "energy.consumption" not in text.replace("total_energy_consumption", "")
    for stage in ("gpu_facts", "gpu_crosscheck", "gpu_correctness", "gpu_summary"):
        assert f"bench.{stage}" in text
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/wheelhouse/" in ignored and "/gpu-check-out/" in ignored
