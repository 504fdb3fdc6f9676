"""A fleet's demand from a REAL Prometheus, aggregated to hours in PromQL: known answers.

Four weeks of 5-minute samples, loaded into Prometheus's TSDB with promtool: a nightly
batch host (2 % idle, 35 % from 23:00 to 01:00 London time) and two 8-core hosts whose
peaks do not coincide (a day application, a night batch), which share one host.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.savings import Site
from profiler.prometheus.api import PrometheusApi
from profiler.prometheus.demand import fetch_demand, hour_grid, hours_from_steps
from profiler.prometheus.query import FleetOptions, fetch_fleet
from profiler.settings.config import Settings
from profiler.workflows.demand import demand_prometheus
from profiler.workflows.fleet import analyze_prometheus
from tests.profiler.prometheus.prometheus_harness import (
    Prometheus,
    backfilled,
    openmetrics_document,
)

LONDON = ZoneInfo("Europe/London")
DAY_S = 86_400
STEP_S = 300
WEEKS = 4
SINCE_S = WEEKS * 7 * DAY_S
TDP_W = 150.0

Busy = Callable[[int, int], bool]
"""(weekday 0 = Monday, local hour) -> busy."""

FLEET: dict[str, tuple[int, Busy, float]] = {
    "batch-01:9464": (4, lambda d, h: h in (23, 0), 0.35),
    "day-01:9464": (8, lambda d, h: 8 <= h < 18, 0.6),
    "night-01:9464": (8, lambda d, h: h >= 20 or h < 6, 0.6),
}


def _util(times: np.ndarray, busy: Busy, level: float, rng: np.random.Generator) -> np.ndarray:
    hot = np.array(
        [
            busy(
                datetime.fromtimestamp(t - 1, LONDON).weekday(),
                datetime.fromtimestamp(t - 1, LONDON).hour,
            )
            for t in times
        ]
    )
    return np.where(hot, level, 0.02) + rng.uniform(-0.003, 0.003, times.size)


def openmetrics(end_s: int) -> str:
    rng = np.random.default_rng(11)
    times = np.arange(end_s - SINCE_S, end_s, STEP_S) + 17  # off the query grid
    hourly = times[::12]
    lines: dict[str, list[str]] = {}

    def add(name: str, labels: dict[str, str], values: np.ndarray, at: np.ndarray) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.setdefault(name, []).extend(
            f"{name}{{{text}}} {v:.6g} {t}" for v, t in zip(values, at, strict=True)
        )

    for instance, (cores, busy, level) in FLEET.items():
        util = _util(times, busy, level, rng)
        base = {"instance": instance, "job": "finwatt"}
        host = {**base, "device": "host", "kind": "host"}
        cpu = {**base, "device": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"}
        add("finwatt_utilization_ratio", host, util, times)
        add("finwatt_power_watts", cpu, 0.4 * TDP_W + 0.6 * TDP_W * util, times)
        ones = np.ones(hourly.size)
        add("finwatt_device_info", host, ones, hourly)
        add("finwatt_device_info", cpu, ones, hourly)
        add("finwatt_device_logical_cores", host, cores * ones, hourly)
    return openmetrics_document(lines)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, int]]:
    end_s = int(time.time()) // 3600 * 3600 - 3 * 3600  # whole hours, inside retention
    with backfilled(tmp_path_factory.mktemp("demand"), openmetrics(end_s)) as prom:
        yield prom, end_s


def _settings(tmp: Path) -> Settings:
    return Settings(
        db_path=tmp / "f.db",
        sysfs_root=Path("/sys"),
        cpu_tdp_w=None,
        cpu_idle_ratio=None,
        tz="Europe/London",
    )


def test_the_nightly_batch_host_gets_its_schedule_from_hourly_rows(
    fleet: tuple[Prometheus, int], tmp_path: Path
) -> None:
    prom, end_s = fleet
    result = demand_prometheus(prom.url, SINCE_S, _settings(tmp_path), now_s=end_s)
    hosts = {h.host: h for h in result.hosts}
    assert set(hosts) == set(FLEET)
    batch = hosts["batch-01:9464"].devices[0].as_dict()
    assert batch["kind"] == "host" and batch["rule"] == "PEAK_SIZED_HOST"
    spans = batch["schedule"]["off_spans"]
    assert {(s["off_at"][4:], s["wake_at"][4:]) for s in spans} == {("01:00", "22:45")}
    assert batch["busy_hours_per_week"] == pytest.approx(14.0)
    assert batch["regular_weeks"] >= 3
    assert result.as_dict()["source"] == "prometheus"


def test_complementary_hosts_make_one_pool_and_the_batch_is_peak_sized(
    fleet: tuple[Prometheus, int],
) -> None:
    prom, end_s = fleet
    options = FleetOptions(url=prom.url, since_s=SINCE_S)
    result = analyze_prometheus(options, Site(), Thresholds(), now_s=end_s, tz="Europe/London")
    found = {f.rule: f for f in result.findings}
    pooled = found["COMPLEMENTARY_PEAKS"]
    assert pooled.recommendation is not None
    assert [sorted(p) for p in pooled.recommendation["pools"]] == [["day-01:9464", "night-01:9464"]]
    assert len(pooled.recommendation["free"]) == 1
    assert pooled.evidence["diversity_factor"] > 1.5
    schedules = [f for f in result.findings if f.rule == "PEAK_SIZED_HOST"]
    assert [f.device for f in schedules] == ["batch-01:9464/host"]


def test_hourly_rows_from_the_fleet_read_equal_the_hourly_queries(
    fleet: tuple[Prometheus, int],
) -> None:
    prom, end_s = fleet
    options = FleetOptions(url=prom.url, since_s=SINCE_S, screen=False)
    api = PrometheusApi(prom.url)
    read = fetch_fleet(api, options, end_s)
    grid = hour_grid(SINCE_S, end_s)
    span = (read.start + options.step_s, read.end)
    known = {h.instance: hours_from_steps(h.series, grid, span) for h in read.hosts}
    shared = fetch_demand(api, '{job="finwatt"}', SINCE_S, end_s, known=known)
    queried = fetch_demand(api, '{job="finwatt"}', SINCE_S, end_s)
    assert shared.requests == 0 and queried.requests > 0  # nothing queried twice
    assert set(shared.hosts) == set(queried.hosts) == set(FLEET)
    for instance, devices in queried.hosts.items():
        mine = {d.spec.device_id: d for d in shared.hosts[instance]}
        for device in devices:
            ours = mine[device.spec.device_id]
            # every hour the 5-minute read wholly covers is there, with the same figures
            common, at_q, at_s = np.intersect1d(device.t, ours.t, return_indices=True)
            assert common.size >= device.t.size - 1
            for column in ("util", "power_w"):
                np.testing.assert_allclose(
                    getattr(ours, column)[at_s], getattr(device, column)[at_q], rtol=1e-9
                )
            peak_q = queried.peaks[device.spec.device_id][at_q]
            np.testing.assert_allclose(shared.peaks[device.spec.device_id][at_s], peak_q)
