"""`finwatt_attributed_energy_joules_total`: scraped from the real /metrics server, bounded."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from profiler.model.device import DeviceInfo
from profiler.prometheus.attributed import MAX_PROVENANCES, AttributedEnergy
from profiler.prometheus.exporter import FinwattCollector, MetricsServer, make_registry

DEVICES = [DeviceInfo("host", "host", logical_cores=2)]


MEASURED = "attributed:cpu-time(measured:rapl)"


def scrape(port: int) -> dict[tuple[str, str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (s.labels["group_kind"], s.labels["group"], s.labels["provenance"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "finwatt_attributed_energy_joules"
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_the_counter_is_scraped_per_group_and_only_grows() -> None:
    collector = FinwattCollector(DEVICES, "1")
    server = MetricsServer(make_registry(collector), "127.0.0.1", 0)
    try:
        assert scrape(server.port) == {}  # nothing attributed yet: no series at all
        collector.attributed.add(
            [("process", "risk", 2.0, MEASURED), ("docker", "4f1a2b3c4d5e", 2.0, MEASURED)]
        )
        collector.attributed.add(
            [("process", "risk", 1.5, MEASURED), ("process", "other", 0.5, MEASURED)]
        )
        assert scrape(server.port) == {
            ("process", "risk", MEASURED): 3.5,
            ("process", "other", MEASURED): 0.5,
            ("docker", "4f1a2b3c4d5e", MEASURED): 2.0,
        }
    finally:
        server.close()


def test_groups_beyond_the_bound_add_to_other_of_their_kind() -> None:
    energy = AttributedEnergy(max_groups=3)
    energy.add([("process", f"p{i}", 1.0, MEASURED) for i in range(10)])
    energy.add([("systemd", "a.service", 1.0, MEASURED), ("process", "p0", 1.0, MEASURED)])
    (family,) = list(energy.metrics())
    values = {(s.labels["group_kind"], s.labels["group"]): s.value for s in family.samples}
    assert values == {
        ("process", "p0"): 2.0,
        ("process", "p1"): 1.0,
        ("process", "p2"): 1.0,
        ("process", "other"): 7.0,
        ("systemd", "a.service"): 1.0,
    }


def test_each_series_carries_the_provenance_of_its_energy_and_stays_bounded() -> None:
    energy = AttributedEnergy(max_groups=2)
    estimated = "attributed:cpu-time(estimated:vcpu-average)"
    energy.add([("process", "risk", 1.0, MEASURED), ("process", "risk", 2.0, estimated)])
    for i in range(MAX_PROVENANCES + 2):  # more sources than kept: the rest are unknown
        energy.add([("process", "risk", 1.0, f"attributed:cpu-time(measured:x{i})")])
    (family,) = list(energy.metrics())
    values = {s.labels["provenance"]: s.value for s in family.samples if s.name.endswith("_total")}
    assert values[MEASURED] == 1.0 and values[estimated] == 2.0
    assert len(values) == MAX_PROVENANCES + 1  # the kept values and `unknown`
    assert values["unknown"] == 4.0
