"""Inside a container the exporter's capacity gauges are the container's (docs/attribution.md).

The cgroup tree is a fake one under an injected sysfs root; the limits are recorded by the
real `record_limits` and served by the real collector and `finwatt serve`.
"""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading, Tick
from profiler.model.units import GIB
from profiler.prometheus import exporter
from profiler.prometheus.exporter import FinwattCollector, exposition, make_registry
from profiler.sensors.probe import SensorSet
from profiler.workflows.provisioned import LIMITS_KEY, record_limits
from tests.profiler.prometheus.prometheus_harness import free_port, http_get
from tests.profiler.prometheus.test_exporter import start_serve, stop, wait_listening
from tests.profiler.workflows.test_provisioned import cgroup_tree

HOST = DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * GIB)
CPU = DeviceInfo("cpu:0", "cpu", logical_cores=64, power_limit_w=280.0, provenance="measured:rapl")


def _by_device(text: str, name: str) -> dict[str, float]:
    return {
        s.labels["device"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def _help(text: str, name: str) -> str:
    return next(f.documentation for f in text_string_to_metric_families(text) if f.name == name)


def _collector(tmp_path: Path, cpu_max: str) -> FinwattCollector:
    cgroup_tree(tmp_path, cpu_max=cpu_max, memory=4 * GIB)
    sensors = SensorSet([], [HOST, CPU], [])
    assert record_limits(sensors, tmp_path) is not None
    return FinwattCollector(sensors.devices, "1")


def test_the_exporter_publishes_the_containers_cores_and_memory(tmp_path: Path) -> None:
    collector = _collector(tmp_path, "150000 100000")  # 1.5 cores: 2 provisioned
    collector.observe(Tick(1, 1.0, {"host": Reading("host", util=0.01)}, 0))
    text = exposition(make_registry(collector))
    assert _by_device(text, "finwatt_device_logical_cores") == {"host": 2.0, "cpu:0": 64.0}
    assert _by_device(text, "finwatt_device_memory_total_bytes") == {"host": 4.0 * GIB}
    # busy cores stay what /proc measured: 0.01 x 64 = 0.64 of the 2 provisioned
    assert math.isclose(_by_device(text, "finwatt_utilization_ratio")["host"], 0.32)
    assert "provisioned cores" in _help(text, "finwatt_device_logical_cores")
    assert "cgroup memory limit" in _help(text, "finwatt_device_memory_total_bytes")


def test_a_host_busier_than_the_container_reads_as_full_not_over(tmp_path: Path) -> None:
    collector = _collector(tmp_path, "100000 100000")
    collector.observe(Tick(1, 1.0, {"host": Reading("host", util=0.05)}, 0))  # 3.2 cores
    text = exposition(make_registry(collector))
    assert _by_device(text, "finwatt_utilization_ratio")["host"] == 1.0


def test_without_limits_the_host_figures_pass_unchanged() -> None:
    collector = FinwattCollector([HOST], "1")
    collector.observe(Tick(1, 1.0, {"host": Reading("host", util=0.25)}, 0))
    text = exposition(make_registry(collector))
    assert _by_device(text, "finwatt_device_logical_cores") == {"host": 64.0}
    assert _by_device(text, "finwatt_device_memory_total_bytes") == {"host": 512.0 * GIB}
    assert _by_device(text, "finwatt_utilization_ratio") == {"host": 0.25}


def test_the_exporters_limits_key_is_the_one_probe_records() -> None:
    assert exporter.LIMITS_KEY == LIMITS_KEY


def test_finwatt_serve_in_a_container_serves_the_provisioned_figures(tmp_path: Path) -> None:
    cgroup_tree(tmp_path / "sys", cpu_max="100000 100000", memory=GIB)
    port = free_port()
    env = {"FINWATT_SYSFS_ROOT": str(tmp_path / "sys")}
    process = start_serve("--port", str(port), "--db", str(tmp_path / "f.db"), env=env)
    try:
        wait_listening(process, port)
        text = http_get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        code, err = stop(process)
    assert code == 0, err
    assert _by_device(text, "finwatt_device_logical_cores")["host"] == 1.0
    assert _by_device(text, "finwatt_device_memory_total_bytes")["host"] == float(GIB)
