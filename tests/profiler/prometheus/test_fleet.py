import json
import math
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from profiler.prometheus.query import FleetUsageError, PrometheusApi, selector
from tests.fakes.cli import run_finwatt
from tests.profiler.prometheus.prometheus_harness import (
    Prometheus,
    backfilled,
    free_port,
    openmetrics_document,
)

DAY_S = 86_400
STEP_S = 300
GIB = 2**30
TDP_W = 205.0

# instance -> (cores, model, memory GiB, memory used GiB, utilisation at time t (days))
Host = tuple[int, str, int, float, Callable[[np.ndarray, np.random.Generator], np.ndarray]]


def idle(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 0.01 + rng.uniform(0, 0.003, t.size)


def app(phase: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    def util(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return 0.28 + 0.08 * np.sin(2 * np.pi * (t + phase)) + rng.uniform(-0.01, 0.01, t.size)

    return util


def oversized(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 0.05 + 0.01 * np.sin(2 * np.pi * t) + rng.uniform(-0.005, 0.005, t.size)


def busy(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 0.55 + 0.08 * np.sin(2 * np.pi * t) + rng.uniform(-0.01, 0.01, t.size)


GOLD = "Intel(R) Xeon(R) Gold 6338"
FLEET: dict[str, Host] = {
    "idle-01:9464": (16, GOLD, 64, 8.0, idle),
    "idle-02:9464": (16, GOLD, 64, 8.0, idle),
    "app-01:9464": (16, GOLD, 64, 40.0, app(0.0)),
    "app-02:9464": (16, GOLD, 64, 40.0, app(0.02)),
    "app-03:9464": (16, GOLD, 64, 40.0, app(0.04)),
    "big-01:9464": (64, "AMD EPYC 7763", 256, 150.0, oversized),
    "busy-01:9464": (32, GOLD, 128, 100.0, busy),
}


def openmetrics(end_s: int, days: int = 14) -> str:
    """14 days of 5-min samples per host, as `finwatt serve` would have exposed them."""
    rng = np.random.default_rng(7)
    times = np.arange(end_s - days * DAY_S, end_s, STEP_S) + 17  # off the query grid
    families: dict[str, list[str]] = {}

    def add(name: str, labels: dict[str, str], values: np.ndarray, at: np.ndarray) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines = families.setdefault(name, [])
        lines.extend(f"{name}{{{text}}} {v:.6g} {t}" for v, t in zip(values, at, strict=True))

    hourly = times[::12]
    for instance, (cores, model, mem_gib, used_gib, util_of) in FLEET.items():
        util = np.clip(util_of((times - times[0]) / DAY_S, rng), 0, 1)
        base = {"instance": instance, "job": "finwatt"}
        host = {**base, "device": "host", "kind": "host"}
        cpu = {**base, "device": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"}
        add("finwatt_utilization_ratio", host, util, times)
        power = 0.2 * TDP_W + 0.8 * TDP_W * util
        add("finwatt_power_watts", cpu, power, times)
        # the analyzer reads power and host utilisation; the counter (hourly, to keep
        # promtool fast) is there for the dashboard's energy-rate panel
        add("finwatt_energy_joules_total", cpu, np.cumsum(power * STEP_S)[::12], hourly)
        used = used_gib * GIB * (0.9 + 0.1 * rng.uniform(size=times.size))
        add("finwatt_memory_used_bytes", host, used, times)
        ones = np.ones(hourly.size)
        add("finwatt_device_info", {**host, "model": model}, ones, hourly)
        add("finwatt_device_info", {**cpu, "model": model}, ones, hourly)
        add("finwatt_device_logical_cores", host, cores * ones, hourly)
        add("finwatt_device_logical_cores", cpu, cores * ones, hourly)
        add("finwatt_device_memory_total_bytes", host, mem_gib * GIB * ones, hourly)
        add("finwatt_device_power_limit_watts", cpu, TDP_W * ones, hourly)
    return openmetrics_document(families)


@pytest.fixture(scope="module")
def fleet_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    end_s = int(time.time()) // STEP_S * STEP_S - 3 * 3600  # in the past, inside retention
    with backfilled(tmp_path_factory.mktemp("fleet"), openmetrics(end_s)) as prom:
        yield prom


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return run_finwatt("analyze", *args, env={"COLUMNS": "250"}, timeout=120)


def test_fleet_flags_idle_and_oversized_hosts_and_consolidates(
    fleet_prometheus: Prometheus,
) -> None:
    result = analyze("--prometheus", fleet_prometheus.url, "--since", "14d", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["run"] is None and doc["metrics"]["window"]["source"] == "prometheus"
    assert set(doc["metrics"]["hosts"]) == set(FLEET)
    by_rule: dict[str, list[dict[str, object]]] = {}
    for finding in doc["findings"]:
        by_rule.setdefault(str(finding["rule"]), []).append(finding)
    assert {f["device"] for f in by_rule.pop("IDLE_HOST")} == {
        "idle-01:9464/host",
        "idle-02:9464/host",
    }
    [over] = by_rule.pop("OVER_PROVISIONED_CPU")
    assert over["device"] == "big-01:9464/host" and over["recommendation"] == {"cores": 8}
    [consolidate] = by_rule.pop("CONSOLIDATE_HOSTS")
    assert consolidate["device"] == "app-01:9464, app-02:9464, app-03:9464"
    assert consolidate["recommendation"] == {"hosts": 2, "free_hosts": 1}
    evidence = consolidate["evidence"]
    assert isinstance(evidence, dict)
    p95 = evidence["p95_group_util"]
    assert 0.33 < p95 < 0.43 and math.ceil(3 * p95 / 0.65) == 2
    # linear model curve, no clamp: N.P(u) - M.P(N.u/M) = (N - M) x P_idle = 41 W
    savings = consolidate["savings"]
    assert isinstance(savings, dict)
    assert savings["it_kwh_per_year"]["point"] == pytest.approx(0.2 * TDP_W * 8.76, rel=1e-6)
    [idle_energy] = by_rule.pop("FLEET_IDLE_ENERGY")
    assert idle_energy["device"] == "idle-01:9464, idle-02:9464" and idle_energy["savings"] is None
    # nothing else: busy and app hosts are right-sized, the idle hosts' memory finding
    # is superseded by IDLE_HOST, and every host has enough history
    assert by_rule == {}


def test_fleet_human_output(fleet_prometheus: Prometheus) -> None:
    result = analyze("--prometheus", fleet_prometheus.url)
    assert result.returncode == 0, result.stderr
    assert "CONSOLIDATE_HOSTS" in result.stdout and "IDLE_HOST" in result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("finwatt: error:")
    for needle in needles:
        assert needle in result.stderr


def test_prometheus_down_is_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_line_error(analyze("--prometheus", url, "--json"), 1, "unreachable", url)


def test_wrong_url_is_exit_1(fleet_prometheus: Prometheus) -> None:
    result = analyze("--prometheus", fleet_prometheus.url + "/nothing-here", "--json")
    one_line_error(result, 1, "404")


def test_query_error_is_exit_1_with_prometheus_reason(fleet_prometheus: Prometheus) -> None:
    result = analyze("--prometheus", fleet_prometheus.url, "--match", '{job=~"("}')
    one_line_error(result, 1, "bad_data")


def test_no_finwatt_series_is_exit_1(fleet_prometheus: Prometheus) -> None:
    result = analyze("--prometheus", fleet_prometheus.url, "--match", '{job="nobody"}')
    one_line_error(result, 1, "no finwatt series")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--prometheus", "ftp://example.org"), "--prometheus"),
        (("--prometheus", "http://127.0.0.1:1", "--match", "job=finwatt"), "--match"),
        (("--step", "5m"), "--prometheus"),
        (("--prometheus", "http://127.0.0.1:1", "--since", "1m", "--step", "5m"), "--since"),
        (("some-run", "--prometheus", "http://127.0.0.1:1"), "RUN_ID"),
    ],
)
def test_bad_usage_is_exit_2(args: tuple[str, ...], needle: str) -> None:
    one_line_error(analyze(*args), 2, needle)


def test_selector_and_chunked_query_range() -> None:
    assert selector("m", '{job="finwatt"}') == 'm{job="finwatt"}'
    assert selector("m", "") == "m"
    with pytest.raises(FleetUsageError):
        selector("m", "job")
    calls: list[str] = []

    class Answer:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def __enter__(self) -> "Answer":
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return self.body

    def urlopen(request: urllib.request.Request, timeout: float) -> Answer:
        calls.append(request.full_url)
        assert request.method == "POST" and isinstance(request.data, bytes)
        params = dict(urllib.parse.parse_qsl(request.data.decode()))
        start, end = float(params["start"]), float(params["end"])
        values = [[t, "1"] for t in np.arange(start, end + 1, 300.0)]
        body = {"status": "success", "data": {"result": [{"metric": {"a": "b"}, "values": values}]}}
        return Answer(json.dumps(body).encode())

    api = PrometheusApi("http://prom:9090", urlopen=urlopen)
    [(labels, times, _values)] = api.query_range("m", 0.0, 300.0 * 25_000, 300.0)
    assert len(calls) == 3  # Prometheus allows 11,000 points per series and query
    assert labels == {"a": "b"} and times.size == 25_001 and np.all(np.diff(times) == 300.0)


def test_fleet_report_renders_the_same_findings(
    fleet_prometheus: Prometheus, tmp_path: Path
) -> None:
    from tests.reports.test_report import Cells

    doc = json.loads(analyze("--prometheus", fleet_prometheus.url, "--json").stdout)
    out = tmp_path / "fleet.html"
    result = run_finwatt(
        "report", "--prometheus", fleet_prometheus.url, "-o", str(out), timeout=120
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    cells = Cells()
    cells.feed(html)
    ranked = sorted(
        doc["findings"],
        key=lambda f: (f["savings"] or {}).get("facility_kwh_per_year", {}).get("point") or 0.0,
        reverse=True,
    )
    assert sorted(cells.by_class["rule"]) == sorted(f["rule"] for f in ranked)
    assert cells.by_id["host-count"].split()[0] == str(len(FLEET))
    assert "<script" not in html.lower() and "https://" not in html
