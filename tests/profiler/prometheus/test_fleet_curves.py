"""Measured power curves in the fleet: published by the exporter, used by the fleet rules.

T5 of the anchors: three similar hosts whose load fits on two free one host. On the model
curve (0.2 x TDP idle, TDP 600 W) that saves 120 W = 1,051.2 kWh/yr; on the measured curve
a host publishes (idle 200 W, linear to 500 W) it saves 200 W = 1,752 kWh/yr, and the
finding says which curve it used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from profiler.prometheus.curves import PublishedCurve
from profiler.prometheus.exporter import FinwattCollector, exposition, make_registry
from profiler.store.database import Store
from profiler.store.interchange import import_run
from profiler.workflows.fleet import curve_for_exporter, latest_curve
from tests.fakes.cli import run_finwatt
from tests.profiler.analysis.ladders import ladder_doc
from tests.profiler.prometheus.prometheus_harness import (
    Prometheus,
    backfilled,
    openmetrics_document,
)
from tests.profiler.prometheus.test_fleet import app

DAY_S = 86_400
STEP_S = 300
TDP_W = 600.0
CURVE = ((0.0, 200.0), (0.5, 350.0), (1.0, 500.0))
GROUPS = {"gold": "Intel(R) Xeon(R) Gold 6338", "plat": "Intel(R) Xeon(R) Platinum 8380"}


def line(name: str, labels: dict[str, str], value: float, t: float) -> str:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{text}}} {value:.6g} {t:.0f}"


def openmetrics(end_s: int) -> str:
    """14 days, 5-min samples: two groups of three app hosts; plat-01 publishes a curve."""
    rng = np.random.default_rng(3)
    times = np.arange(end_s - 14 * DAY_S, end_s, STEP_S) + 11
    hourly = times[::12]
    families: dict[str, list[str]] = {}
    for group, model in GROUPS.items():
        for k in range(3):
            instance = f"{group}-0{k + 1}:9464"
            util = np.clip(app(0.02 * k)((times - times[0]) / DAY_S, rng), 0, 1)
            base = {"instance": instance, "job": "finwatt"}
            host = {**base, "device": "host", "kind": "host"}
            cpu = {**base, "device": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"}
            power = 0.2 * TDP_W + 0.8 * TDP_W * util
            add = families.setdefault
            add("finwatt_utilization_ratio", []).extend(
                line("finwatt_utilization_ratio", host, u, t)
                for u, t in zip(util, times, strict=True)
            )
            add("finwatt_power_watts", []).extend(
                line("finwatt_power_watts", cpu, p, t) for p, t in zip(power, times, strict=True)
            )
            for t in hourly:
                add("finwatt_device_info", []).append(
                    line("finwatt_device_info", {**host, "model": model}, 1, t)
                )
                add("finwatt_device_info", []).append(
                    line("finwatt_device_info", {**cpu, "model": model}, 1, t)
                )
                add("finwatt_device_logical_cores", []).append(
                    line("finwatt_device_logical_cores", host, 16, t)
                )
                add("finwatt_device_power_limit_watts", []).append(
                    line("finwatt_device_power_limit_watts", cpu, TDP_W, t)
                )
            if instance != "plat-01:9464":
                continue
            curve = {**base, "device": "cpu:0", "workload": "ssj", "run": "run-t5"}
            curve["provenance"] = "measured:wall-meter"
            for t in hourly:
                for load, watts in CURVE:
                    add("finwatt_power_curve_watts", []).append(
                        line("finwatt_power_curve_watts", {**curve, "load": f"{load:g}"}, watts, t)
                    )
                add("finwatt_power_curve_run_timestamp_seconds", []).append(
                    line("finwatt_power_curve_run_timestamp_seconds", curve, end_s - 20 * DAY_S, t)
                )
    return openmetrics_document(families)


@pytest.fixture(scope="module")
def curve_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    end_s = int(time.time()) // STEP_S * STEP_S - 3 * 3600
    with backfilled(tmp_path_factory.mktemp("curves"), openmetrics(end_s), 120) as prom:
        yield prom


def test_consolidation_uses_the_measured_curve_where_one_is_published(
    curve_prometheus: Prometheus,
) -> None:
    result = run_finwatt("analyze", "--prometheus", curve_prometheus.url, "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    consolidate = {
        f["device"].split("-")[0]: f for f in doc["findings"] if f["rule"] == "CONSOLIDATE_HOSTS"
    }
    assert set(consolidate) == {"gold", "plat"}
    gold, plat = consolidate["gold"], consolidate["plat"]
    assert gold["recommendation"] == plat["recommendation"] == {"hosts": 2, "free_hosts": 1}
    # model: (N - M) x 0.2 x TDP = 120 W; measured: (N - M) x 200 W (linear, no clamp)
    assert gold["savings"]["it_kwh_per_year"]["point"] == pytest.approx(1051.2)
    assert plat["savings"]["it_kwh_per_year"]["point"] == pytest.approx(1752.0)
    assert gold["evidence"]["curve"]["source"] == "model"
    assert plat["evidence"]["curve"]["source"] == "ladder"
    assert "run-t5" in plat["evidence"]["curve"]["label"]
    assert any("measured" in a and "run-t5" in a for a in plat["assumptions"])
    assert doc["metrics"]["fleet"]["measured_curves"] == ["plat-01:9464"]


def test_low_efficiency_host_from_the_published_curve(curve_prometheus: Prometheus) -> None:
    result = run_finwatt("analyze", "--prometheus", curve_prometheus.url, "--json", timeout=120)
    doc = json.loads(result.stdout)
    [low] = [f for f in doc["findings"] if f["rule"] == "LOW_EFFICIENCY_HOST"]
    # rel_eff(u) = u / (P(u) / P(1)) at u ~ 0.28: 0.28 / ((200 + 300 x 0.28) / 500) < 0.5
    assert low["device"] == "plat-01:9464/cpu:0"
    assert low["evidence"]["rel_eff"] < 0.5
    assert any("run-t5" in a for a in low["assumptions"])


def test_exporter_publishes_the_curve_and_withdraws_it() -> None:
    collector = FinwattCollector([], "test")
    published = PublishedCurve("run-1", 1.7e9, "ssj", "cpu:0", "measured:rapl", CURVE)
    collector.publish_curve(published)
    registry = make_registry(collector)
    families = {f.name: f for f in text_string_to_metric_families(exposition(registry))}
    watts = {s.labels["load"]: s.value for s in families["finwatt_power_curve_watts"].samples}
    assert watts == {"0": 200.0, "0.5": 350.0, "1": 500.0}
    [sample] = families["finwatt_power_curve_watts"].samples[:1]
    assert sample.labels["run"] == "run-1" and sample.labels["provenance"] == "measured:rapl"
    [ended] = families["finwatt_power_curve_run_timestamp_seconds"].samples
    assert ended.value == 1.7e9
    collector.publish_curve(None)
    assert "finwatt_power_curve_watts" not in exposition(registry)


LADDER = [(0.0, 0.0, 80.0), (0.25, 250.0, 110.0), (0.5, 500.0, 140.0), (1.0, 1000.0, 200.0)]


def test_latest_curve_is_the_newest_valid_profiling_run(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        run_id = import_run(store, ladder_doc(LADDER, host="rack-1"))
        curve = latest_curve(store, "rack-1")
        assert latest_curve(store, "another-host") is None
    assert curve is not None and curve.run_id == run_id
    assert curve.device == "cpu:0" and curve.provenance == "measured:wall-meter"
    assert curve.points[0] == (0.0, pytest.approx(80.0))
    assert curve.points[-1] == (1.0, pytest.approx(200.0))
    assert curve_for_exporter(db, "rack-1") == curve
    assert curve_for_exporter(tmp_path / "missing.db", "rack-1") is None
