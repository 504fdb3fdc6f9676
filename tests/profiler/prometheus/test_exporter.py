import itertools
import json
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.provenance import MEASURED_RAPL
from profiler.model.samples import Reading, Tick
from profiler.prometheus.exporter import (
    FinwattCollector,
    MetricsServer,
    exposition,
    is_loopback,
    make_registry,
)
from profiler.sensors.rapl.powercap import RaplSensors
from tests.fakes.cli import run_finwatt, start_finwatt
from tests.fakes.powercap import FakePowercap
from tests.profiler.prometheus.prometheus_harness import (
    Prometheus,
    free_port,
    http_get,
    require_prometheus,
)

DEVICES = [
    DeviceInfo("host", "host", model="Xeon", logical_cores=8, mem_total_bytes=2**34),
    DeviceInfo(
        "cpu:0", "cpu", model="Xeon", logical_cores=8, power_limit_w=120.0, provenance=MEASURED_RAPL
    ),
    DeviceInfo(
        "gpu:0",
        "gpu",
        model="H100",
        mem_total_bytes=2**36,
        power_limit_w=700.0,
        provenance="measured:nvml-energy",
    ),
]


def tick(index: int, readings: list[Reading], missed: int = 0) -> Tick:
    return Tick(index, float(index), {r.device_id: r for r in readings}, missed)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def by_name(text: str, name: str) -> dict[str, float]:
    """Samples of one metric by their `device` label."""
    return {
        dict(labels).get("device", ""): value
        for (n, labels), value in samples(text).items()
        if n == name
    }


def scripted() -> tuple[FinwattCollector, str]:
    collector = FinwattCollector(DEVICES, "1.2.3")
    registry = make_registry(collector)
    collector.observe(
        tick(
            1,
            [
                Reading("host", util=0.25, mem_used_bytes=2**33),
                Reading("cpu:0", util=0.3, power_w=40.0, energy_j=40.0, temperature_c=55.0),
                Reading(
                    "gpu:0", util=0.0, power_w=70.0, energy_j=70.0, mem_used_bytes=0, sm_active=0.0
                ),
            ],
        )
    )
    collector.observe(
        tick(
            2,
            [
                Reading("host", util=0.5, mem_used_bytes=2**33),
                Reading("cpu:0", util=0.6, power_w=60.0, energy_j=100.0, temperature_c=60.0),
                # the GPU family failed this tick: its metrics are absent, never 0
                Reading("gpu:0", status=DeviceStatus.DEGRADED),
            ],
            missed=3,
        )
    )
    return collector, exposition(registry)


def test_metric_names_types_and_labels() -> None:
    _, text = scripted()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["finwatt_energy_joules"].type == "counter"
    assert families["finwatt_sampler_missed_ticks"].type == "counter"
    assert families["finwatt_power_watts"].type == "gauge"
    assert by_name(text, "finwatt_power_watts") == {"cpu:0": 60.0}
    assert by_name(text, "finwatt_utilization_ratio") == {"host": 0.5, "cpu:0": 0.6}
    assert by_name(text, "finwatt_memory_used_bytes") == {"host": 2**33}
    assert by_name(text, "finwatt_temperature_celsius") == {"cpu:0": 60.0}
    assert by_name(text, "finwatt_sampler_missed_ticks_total") == {"": 3.0}
    assert by_name(text, "finwatt_device_logical_cores") == {"host": 8, "cpu:0": 8}
    assert by_name(text, "finwatt_device_power_limit_watts") == {"cpu:0": 120, "gpu:0": 700}
    all_samples = samples(text)
    assert all_samples[("finwatt_build_info", (("version", "1.2.3"),))] == 1.0
    info = {
        dict(labels)["device"]: dict(labels)
        for (name, labels), _ in all_samples.items()
        if name == "finwatt_device_info"
    }
    assert info["cpu:0"] == {
        "device": "cpu:0",
        "kind": "cpu",
        "provenance": MEASURED_RAPL,
        "model": "Xeon",
    }
    assert info["gpu:0"]["provenance"] == "measured:nvml-energy"
    assert info["host"]["provenance"] == ""  # no power figures: empty = absent in Prometheus
    for (name, labels), _ in all_samples.items():
        if name.startswith("finwatt_") and name not in (
            "finwatt_build_info",
            "finwatt_sampler_missed_ticks_total",
        ):
            assert {"device", "kind", "provenance"} <= dict(labels).keys(), name


def test_absent_metrics_are_not_emitted_never_zero() -> None:
    _, text = scripted()
    # the degraded GPU tick: no gauge for gpu:0 at all (not even its earlier values)
    for name in ("finwatt_power_watts", "finwatt_utilization_ratio", "finwatt_sm_active_ratio"):
        assert "gpu:0" not in by_name(text, name)
    # the host has no power sensor: no power or energy series for it
    assert "host" not in by_name(text, "finwatt_power_watts")
    assert "host" not in by_name(text, "finwatt_energy_joules_total")
    # energy counted so far stays: the counter does not vanish or drop while degraded
    assert by_name(text, "finwatt_energy_joules_total") == {"cpu:0": 100.0, "gpu:0": 70.0}
    # no metric family without samples is advertised
    assert "finwatt_sm_active_ratio" not in text


def test_nothing_observed_yet_serves_static_metrics_only() -> None:
    text = exposition(make_registry(FinwattCollector(DEVICES, "1")))
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "finwatt_power_watts" not in names and "finwatt_energy_joules" not in names
    assert {"finwatt_device_info", "finwatt_build_info"} <= names


@given(st.lists(st.one_of(st.none(), st.floats(0, 1e6)), min_size=1, max_size=40))
def test_energy_counter_never_decreases(energies: list[float | None]) -> None:
    collector = FinwattCollector(DEVICES, "1")
    registry = make_registry(collector)
    previous = 0.0
    for i, energy_j in enumerate(energies):
        collector.observe(tick(i + 1, [Reading("cpu:0", energy_j=energy_j)]))
        value = by_name(exposition(registry), "finwatt_energy_joules_total").get("cpu:0", 0.0)
        assert value >= previous
        previous = value


def test_energy_counter_monotone_across_a_rapl_wrap(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    range_uj = 10_000_000  # a 10 J counter range: a 3 J step wraps every few reads
    tree.add_zone("intel-rapl:0", "package-0", range_uj - 1_000_000, max_energy_range_uj=range_uj)
    rapl = RaplSensors(tmp_path)
    collector = FinwattCollector(rapl.devices(), "1")
    registry = make_registry(collector)
    rapl.start(0.0)
    totals, raw = [], []
    for i in range(1, 13):
        raw.append(tree.advance("intel-rapl:0", 3_000_000))
        readings = rapl.read(float(i))
        collector.observe(Tick(i, float(i), {r.device_id: r for r in readings}, 0))
        totals.append(by_name(exposition(registry), "finwatt_energy_joules_total")["cpu:0"])
    assert any(b < a for a, b in itertools.pairwise(raw)), "the counter never wrapped"
    assert all(b >= a for a, b in itertools.pairwise(totals))
    assert totals[-1] == pytest.approx(36.0)
    labels = next(
        labels
        for (name, labels) in samples(exposition(registry))
        if name == "finwatt_energy_joules_total"
    )
    assert dict(labels)["provenance"] == MEASURED_RAPL


def test_promtool_accepts_the_exposition() -> None:
    _, promtool = require_prometheus()
    _, text = scripted()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_metrics_server_serves_registry_on_loopback() -> None:
    collector, _ = scripted()
    server = MetricsServer(make_registry(collector), "127.0.0.1", 0)
    try:
        text = http_get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        server.close()
    assert by_name(text, "finwatt_power_watts") == {"cpu:0": 60.0}


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert not is_loopback("example.org")


# --- the CLI: a real server -----------------------------------------------------------


def start_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return start_finwatt("serve", *args, env=env)


def wait_listening(process: subprocess.Popen[str], port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {process.stderr.read()}")
        try:
            http_get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve never answered")


def stop(process: subprocess.Popen[str], signum: int = 15) -> tuple[int, str]:
    process.send_signal(signum)
    _, err = process.communicate(timeout=15)
    return process.returncode, err


def test_serve_default_binds_loopback_only_and_sigterm_exits_0(tmp_path: Path) -> None:
    port = free_port()
    process = start_serve("--port", str(port), "--db", str(tmp_path / "f.db"))
    try:
        wait_listening(process, port)
        listening = [
            c.laddr
            for c in psutil.Process(process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert [(a.ip, a.port) for a in listening] == [("127.0.0.1", port)]
    finally:
        code, err = stop(process)
    assert code == 0, err
    assert "warning" not in err


def test_serve_on_all_addresses_warns_and_sigint_exits_0(tmp_path: Path) -> None:
    port = free_port()
    process = start_serve("--host", "0.0.0.0", "--port", str(port), "--db", str(tmp_path / "f.db"))
    try:
        wait_listening(process, port)
    finally:
        code, err = stop(process, 2)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0] and "127.0.0.1" in warnings[0]


def test_serve_port_in_use_is_one_line_exit_1(tmp_path: Path) -> None:
    collector, _ = scripted()
    server = MetricsServer(make_registry(collector), "127.0.0.1", 0)
    try:
        result = run_finwatt("serve", "--port", str(server.port), "--db", str(tmp_path / "f.db"))
    finally:
        server.close()
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "finwatt: error:" in result.stderr
    assert str(server.port) in result.stderr


def test_monitor_serve_records_and_serves(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "f.db"
    process = start_finwatt(
        "monitor",
        "--serve",
        "--port",
        str(port),
        "--interval",
        "0.2s",
        "--duration",
        "4s",
        "--json",
        "--db",
        str(db),
    )
    wait_listening(process, port)
    time.sleep(0.6)
    text = http_get(f"http://127.0.0.1:{port}/metrics")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert json.loads(out)["status"] == "complete"
    util = by_name(text, "finwatt_utilization_ratio")
    assert "host" in util and 0.0 <= util["host"] <= 1.0


def test_prometheus_scrapes_finwatt_serve(tmp_path: Path) -> None:
    """A real Prometheus scrapes `finwatt serve` (fake RAPL that wraps) every second."""
    _, promtool = require_prometheus()
    sysfs = tmp_path / "sys"
    tree = FakePowercap(sysfs)
    range_uj = 60_000_000  # 60 J: at 50 W the counter wraps every 1.2 s
    tree.add_zone(
        "intel-rapl:0",
        "package-0",
        range_uj - 2_000_000,
        max_energy_range_uj=range_uj,
        max_power_uw=100_000_000,
    )
    energy_file = tree.energy_path("intel-rapl:0")
    stop_advancing = threading.Event()
    wraps = []

    def advance() -> None:  # 50 W: 5 J every 0.1 s, written atomically
        value = tree.energy("intel-rapl:0")
        while not stop_advancing.wait(0.1):
            new = (value + 5_000_000) % (range_uj + 1)
            wraps.append(new < value)
            value = new
            partial = energy_file.with_name("energy_uj.tmp")
            partial.write_text(f"{value}\n")
            partial.replace(energy_file)

    env = {"FINWATT_SYSFS_ROOT": str(sysfs)}
    doctor = json.loads(
        run_finwatt("doctor", "--json", "--db", str(tmp_path / "f.db"), env=env).stdout
    )
    expected = {d["device"]: d for d in doctor["devices"]}
    assert expected["cpu:0"]["provenance"] == MEASURED_RAPL

    port = free_port()
    advancer = threading.Thread(target=advance, daemon=True)
    advancer.start()
    process = start_serve(
        "--port", str(port), "--interval", "0.25s", "--db", str(tmp_path / "f.db"), env=env
    )
    try:
        wait_listening(process, port)
        text = http_get(f"http://127.0.0.1:{port}/metrics")
        check = subprocess.run(
            [promtool, "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        with Prometheus(tmp_path / "prom", targets=[f"127.0.0.1:{port}"]) as prom:
            prom.wait_for(
                'count_over_time(finwatt_energy_joules_total{device="cpu:0"}[1m]) >= 6',
                timeout_s=30,
            )
            up = prom.query('up{job="finwatt"}')
            assert [float(r["value"][1]) for r in up] == [1.0]
            info = {r["metric"]["device"]: r["metric"] for r in prom.query("finwatt_device_info")}
            assert info.keys() == expected.keys()
            for device, labels in info.items():
                assert labels["kind"] == expected[device]["kind"]
                assert labels.get("provenance") == expected[device]["provenance"]
                assert labels.get("model") == expected[device]["model"]
            energy = prom.query("finwatt_energy_joules_total")
            assert {r["metric"]["provenance"] for r in energy} == {MEASURED_RAPL}
            assert prom.query("resets(finwatt_energy_joules_total[1m])")[0]["value"][1] == "0"
            rate = float(prom.query("rate(finwatt_energy_joules_total[5s])")[0]["value"][1])
            assert 25.0 < rate < 100.0  # about 50 W
            power = prom.query('finwatt_power_watts{device="cpu:0"}')
            assert 10.0 < float(power[0]["value"][1]) < 200.0
            util = prom.api(
                "query_range",
                query="finwatt_utilization_ratio",
                start=f"{time.time() - 60:.3f}",
                end=f"{time.time():.3f}",
                step="1",
            )["result"]
            assert {r["metric"]["device"] for r in util} == {"host", "cpu:0"}
            values = [float(v) for r in util for _, v in r["values"]]
            assert values and all(0.0 <= v <= 1.0 for v in values)
            cores = prom.query('finwatt_device_logical_cores{device="host"}')
            assert float(cores[0]["value"][1]) == expected["host"]["logical_cores"]
    finally:
        stop_advancing.set()
        code, err = stop(process)
    assert any(wraps), "the fake counter never wrapped"
    assert code == 0, err
