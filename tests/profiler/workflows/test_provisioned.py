"""Inside a container the analyzer and `doctor` use the cgroup's limits (docs/attribution.md).

The cgroup tree is a fake one under an injected sysfs root (`FINWATT_SYSFS_ROOT`); the
database, the analyzer and the CLI are the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.savings import Site
from profiler.model.series import DeviceSeries
from profiler.model.units import GIB
from profiler.sensors.probe import SensorSet
from profiler.store.database import Store
from profiler.workflows.analyze import analyze_run
from profiler.workflows.provisioned import LIMITS_KEY, container_scoped, record_limits
from tests.fakes.cli import run_finwatt

HOST = DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * GIB)


def cgroup_tree(sysfs: Path, cpu_max: str = "150000 100000", memory: int = 4 * GIB) -> Path:
    mount = sysfs / "fs" / "cgroup"
    mount.mkdir(parents=True)
    (mount / "cgroup.controllers").write_text("cpu memory\n")
    (mount / "cpu.max").write_text(cpu_max + "\n")
    (mount / "memory.max").write_text(f"{memory}\n")
    return mount


def test_limits_tighter_than_the_host_are_recorded_on_the_host_device(tmp_path: Path) -> None:
    cgroup_tree(tmp_path)
    sensors = SensorSet([], [HOST], [])
    limits = record_limits(sensors, tmp_path)
    assert limits is not None and limits.cores == 1.5
    recorded = sensors.devices[0].details[LIMITS_KEY]
    assert recorded["cores"] == 1.5 and recorded["memory_max_bytes"] == 4 * GIB
    assert any(s.endswith("cpu.max: 150000 100000") for s in recorded["sources"])


def test_limits_no_tighter_than_the_host_leave_it_alone(tmp_path: Path) -> None:
    cgroup_tree(tmp_path, cpu_max="max 100000", memory=1024 * GIB)
    sensors = SensorSet([], [HOST], [])
    assert record_limits(sensors, tmp_path) is None
    assert LIMITS_KEY not in sensors.devices[0].details


def test_container_scoping_keeps_busy_cores_and_sizes_against_the_quota() -> None:
    limits = {"cgroup_version": 2, "cores": 2.0, "memory_max_bytes": 4 * GIB, "sources": []}
    spec = DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * GIB,
                      details={LIMITS_KEY: limits})  # fmt: skip
    n = 4
    series = DeviceSeries(
        spec, np.arange(n, dtype=float), np.array([0.01, 0.02, np.nan, 0.05]),
        *(np.full(n, np.nan) for _ in range(4)), np.ones(n),
    )  # fmt: skip
    (scoped,), note = container_scoped([series])
    assert scoped.spec.logical_cores == 2 and scoped.spec.mem_total_bytes == 4 * GIB
    busy_before = series.util * 64
    busy_after = scoped.util * 2
    assert np.allclose(busy_before[[0, 1]], busy_after[[0, 1]]) and np.isnan(scoped.util[2])
    assert scoped.util[3] == 1.0  # 3.2 busy host cores exceed the container's 2: capped
    assert note is not None and "provisioned: 2 cores and 4.0 GiB" in note and "64 cores" in note


def test_the_analyzer_says_it_sized_against_the_container(tmp_path: Path) -> None:
    limits = {"cgroup_version": 1, "cores": 2.0, "memory_max_bytes": None, "sources": ["x"]}
    host = DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * GIB,
                      details={LIMITS_KEY: limits})  # fmt: skip
    with Store(tmp_path / "f.db") as store:
        run = store.runs.create("monitor", interval_s=1.0)
        store.devices.add(run.id, [host])
        store.samples.add(
            run.id, [SampleRow("host", float(t), util=0.02, mem_used_bytes=GIB) for t in range(600)]
        )
        store.runs.finish(run.id, "complete")
        result = analyze_run(store, store.runs.get(run.id) or run, Site(), Thresholds())
    provisioned = result.assessment.metrics["provisioned"]
    assert provisioned["logical_cores"] == 2 and provisioned["source"] == "cgroup limits"
    assert any(a.startswith("provisioned: 2 cores") for a in result.assessment.assumptions)


@pytest.mark.parametrize("as_json", [False, True])
def test_doctor_shows_the_container_limits(tmp_path: Path, as_json: bool) -> None:
    cgroup_tree(tmp_path / "sys", memory=GIB)
    args = ["doctor", "--db", str(tmp_path / "f.db")] + (["--json"] if as_json else [])
    done = run_finwatt(*args, env={"FINWATT_SYSFS_ROOT": str(tmp_path / "sys")})
    assert done.returncode == 0, done.stderr
    if as_json:
        assert "provisioned: 1.5 cores and 1.0 GiB" in json.loads(done.stdout)["provisioned"]
    else:
        assert "container: provisioned: 1.5 cores and 1.0 GiB" in " ".join(done.stdout.split())
