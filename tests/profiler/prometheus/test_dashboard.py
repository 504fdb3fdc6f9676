"""The Grafana dashboard's panels and the alert rules, against a real Prometheus.

Known data (constant watts for two days, three hosts: one with a BMC wall reading, one
idle with a GPU, one with modelled watts only) is loaded into Prometheus's TSDB with
`promtool tsdb create-blocks-from openmetrics`; each panel's query, with Grafana's
variables filled in, must return the figure worked out by hand here.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.cli import REPO_ROOT
from tests.profiler.prometheus.prometheus_harness import Prometheus, require_prometheus

STEP_S = 60
SPAN_S = 2 * 86_400
DASHBOARD = REPO_ROOT / "docs" / "grafana-dashboard.json"

# instance -> device -> (kind, provenance, watts); utilisation of the host device
HOSTS: dict[str, tuple[float, dict[str, tuple[str, str, float]]]] = {
    "bmc-01:9464": (
        0.5,
        {
            "node": ("node", "measured:ipmi-dcmi", 300.0),
            "cpu:0": ("cpu", "measured:rapl", 150.0),
            "dram:0": ("dram", "measured:rapl", 30.0),
        },
    ),
    "gpu-01:9464": (
        0.02,
        {
            "cpu:0": ("cpu", "measured:rapl", 100.0),
            "gpu:0": ("gpu", "measured:nvml-energy", 200.0),
        },
    ),
    "est-01:9464": (0.3, {"cpu:0": ("cpu", "estimated:linear-tdp", 80.0)}),
}
# (group kind, group) -> watts attributed on bmc-01
GROUPS = {("slurm", "job_4242"): 100.0, ("process", "python"): 50.0}
PUE, INTENSITY_G, PRICE = 1.5, 400.0, 0.2

HOST_W = {"bmc-01:9464": 300.0, "gpu-01:9464": 300.0, "est-01:9464": 80.0}
"""Each host's energy rate: the wall where a BMC reads it, never wall + parts."""
DAY_KWH = sum(HOST_W.values()) * 24 / 1000


def openmetrics(end_s: int) -> str:
    times = range(end_s - SPAN_S, end_s + 1, STEP_S)
    families: dict[str, list[str]] = {}

    def add(name: str, labels: dict[str, str], value_at: dict[int, float]) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        families.setdefault(name, []).extend(
            f"{name}{{{text}}} {v:.9g} {t}" for t, v in value_at.items()
        )

    for instance, (util, devices) in HOSTS.items():
        base = {"instance": instance, "job": "finwatt"}
        add(
            "finwatt_utilization_ratio",
            {**base, "device": "host", "kind": "host"},
            dict.fromkeys(times, util),
        )
        for device, (kind, provenance, watts) in devices.items():
            labels = {**base, "device": device, "kind": kind, "provenance": provenance}
            add("finwatt_power_watts", labels, dict.fromkeys(times, watts))
            add("finwatt_energy_joules_total", labels, {t: watts * (t - times[0]) for t in times})
    for (kind, group), watts in GROUPS.items():
        labels = {
            "instance": "bmc-01:9464",
            "job": "finwatt",
            "group_kind": kind,
            "group": group,
            "provenance": "attributed:cpu-time(measured:rapl)",
        }
        add(
            "finwatt_attributed_energy_joules_total",
            labels,
            {t: watts * (t - times[0]) for t in times},
        )
    out = []
    for name, lines in families.items():
        counter = name.removesuffix("_total")
        out.append(f"# TYPE {counter} counter" if counter != name else f"# TYPE {name} gauge")
        out.extend(lines)
    return "\n".join([*out, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, int]]:
    _, promtool = require_prometheus()
    tmp = tmp_path_factory.mktemp("dashboard")
    end_s = int(time.time()) // STEP_S * STEP_S - 3 * 3600
    source = tmp / "known.om"
    source.write_text(openmetrics(end_s))
    argv = [
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "-q",
        str(source),
        str(tmp / "data"),
    ]
    created = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert created.returncode == 0, created.stderr
    with Prometheus(tmp / "prom", data=tmp / "data") as prom:
        yield prom, end_s


def targets() -> dict[tuple[int, str], str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {(p["id"], t["refId"]): t["expr"] for p in dashboard["panels"] for t in p["targets"]}


def run(
    known: tuple[Prometheus, int], panel: int, ref: str = "A"
) -> list[tuple[dict[str, str], float]]:
    prom, end_s = known
    expr = (
        targets()[(panel, ref)]
        .replace("$job", "finwatt")
        .replace("$instance", ".*")
        .replace("$__rate_interval", "5m")
        .replace("$__range", "1d")
        .replace("$pue", str(PUE))
        .replace("$carbon_intensity", str(INTENSITY_G))
        .replace("$price_per_kwh", str(PRICE))
    )
    result = prom.api("query", query=expr, time=str(end_s - 600))["result"]
    return [(r["metric"], float(r["value"][1])) for r in result]


def by_instance(rows: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    return {labels["instance"]: value for labels, value in rows}


def test_energy_rate_per_host_counts_the_bmc_wall_once(known: tuple[Prometheus, int]) -> None:
    assert by_instance(run(known, 2)) == pytest.approx(HOST_W, rel=1e-3)


def test_wall_vs_parts(known: tuple[Prometheus, int]) -> None:
    assert by_instance(run(known, 4, "A")) == pytest.approx({"bmc-01:9464": 300.0})
    parts = {"bmc-01:9464": 180.0, "gpu-01:9464": 300.0, "est-01:9464": 80.0}
    assert by_instance(run(known, 4, "B")) == pytest.approx(parts)


def test_measured_and_estimated_shares(known: tuple[Prometheus, int]) -> None:
    total = sum(HOST_W.values())
    [(_, measured)] = run(known, 5, "A")
    [(_, estimated)] = run(known, 5, "B")
    assert measured == pytest.approx(600.0 / total, rel=1e-3)
    assert estimated == pytest.approx(80.0 / total, rel=1e-3)


def test_top_attributed_groups_in_kwh(known: tuple[Prometheus, int]) -> None:
    rows = {(m["group_kind"], m["group"]): v for m, v in run(known, 6)}
    assert rows == pytest.approx({k: w * 24 / 1000 for k, w in GROUPS.items()}, rel=1e-3)


def test_idle_share_is_the_idle_hosts_energy(known: tuple[Prometheus, int]) -> None:
    [(_, share)] = run(known, 7)
    assert share == pytest.approx(300.0 / sum(HOST_W.values()), rel=1e-3)


def test_kwh_per_day_co2e_and_cost(known: tuple[Prometheus, int]) -> None:
    [(_, kwh)] = run(known, 8)
    assert kwh == pytest.approx(DAY_KWH, rel=1e-3)
    [(_, kg)] = run(known, 9)
    assert kg == pytest.approx(DAY_KWH * PUE * INTENSITY_G / 1000, rel=1e-3)
    [(_, cost)] = run(known, 10)
    assert cost == pytest.approx(DAY_KWH * PUE * PRICE, rel=1e-3)


def test_alert_rules_pass_promtool() -> None:
    _, promtool = require_prometheus()
    rules = REPO_ROOT / "docs" / "finwatt-alerts.yml"
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    suite = Path(__file__).with_name("alerts_test.yml")
    tested = subprocess.run(
        [promtool, "test", "rules", str(suite)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len({p["id"] for p in panels}) == len(panels) == 10
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, panel["title"]
        assert grid["x"] + grid["w"] <= 24
        cells |= mine
