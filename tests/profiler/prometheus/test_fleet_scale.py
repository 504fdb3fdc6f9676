"""CI's small fleet: 50 hosts x 14 days at 1-minute resolution in both real stores.

The same synthetic fleet as `bench/fleet.py` (idle, oversized, bursty and busy hosts in
known proportions), loaded with promtool into Prometheus and through `/api/v1/import` into
VictoriaMetrics. The full-size figures (100, 300, 1,000 hosts) are the benchmark's, in
docs/fleet.md; here: every planted host recovered, no busy host flagged, only suspects'
series read, the two stores agree, and screening changes no finding.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench.fleet import load, score
from bench.fleet_data import plant
from bench.fleet_stores import PrometheusStore, VictoriaStore
from profiler.analysis.thresholds import Thresholds
from profiler.model.savings import Site
from profiler.prometheus.query import FleetOptions
from profiler.workflows.fleet import analyze_prometheus
from tests.fakes.cli import run_finwatt

HOSTS = plant(50)


def require_stores() -> None:
    missing = [b for b in ("prometheus", "promtool", "victoria-metrics") if not shutil.which(b)]
    if not missing:
        return
    reason = f"STORES NOT INSTALLED: {', '.join(missing)} (Debian: prometheus, victoria-metrics)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require_stores()
    tmp = tmp_path_factory.mktemp("fleet-scale")
    prometheus, victoria = PrometheusStore(tmp / "prom"), VictoriaStore(tmp / "vm")
    try:
        load([prometheus, victoria], HOSTS, 14)
        yield {"prometheus": prometheus.url, "victoria-metrics": victoria.url}
    finally:
        prometheus.close()
        victoria.close()


def analyze(url: str) -> dict[str, Any]:
    result = run_finwatt("analyze", "--prometheus", url, "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def findings(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["rule"], f["device"]) for f in document["findings"]}


@pytest.mark.parametrize("store", ["prometheus", "victoria-metrics"])
def test_every_planted_host_is_found_and_no_busy_one(stores: dict[str, str], store: str) -> None:
    document = analyze(stores[store])
    figures = score(document, HOSTS)
    assert figures["idle_found"] == figures["idle_planted"] == 5
    assert figures["oversized_found"] == figures["oversized_planted"] == 5
    assert figures["busy_flagged"] == 0 and figures["bursty_flagged_by_host_rules"] == 0
    assert figures["false_idle"] == figures["false_oversized"] == 0
    fleet = document["metrics"]["fleet"]
    # busy hosts are settled in PromQL: only idle, oversized and bursty series are read
    assert fleet["hosts"] == 50 and fleet["hosts_read"] == 15 and fleet["hosts_screened"] == 35
    assert len(document["metrics"]["hosts"]) == 50


def test_both_stores_give_the_same_findings(stores: dict[str, str]) -> None:
    assert findings(analyze(stores["prometheus"])) == findings(analyze(stores["victoria-metrics"]))


def test_screening_changes_no_finding(stores: dict[str, str]) -> None:
    """Reading every host's series (no screening) gives the same findings and savings."""
    site = Site()
    now = time.time()

    def run(screen: bool) -> dict[tuple[str, str], Any]:
        options = FleetOptions(url=stores["prometheus"], screen=screen)
        result = analyze_prometheus(options, site, Thresholds(), now_s=now)
        return {(f.rule, f.device): f.savings for f in result.findings}

    screened, full = run(True), run(False)
    assert screened.keys() == full.keys()
    for key, savings in screened.items():
        other = full[key]
        if savings is None or other is None:
            assert savings is other is None
        else:
            assert savings.it_kwh_per_year.point == pytest.approx(other.it_kwh_per_year.point)
