"""Three pods in two namespaces named from a fake kubelet: attribution, chargeback, exporter."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from profiler.analysis.pod_requests import requests_against_use
from profiler.capture.attribution import Attributor
from profiler.model.attribution_rows import AttributionRow
from profiler.model.run import RunKind, RunStatus
from profiler.model.units import epoch_to_iso
from profiler.prometheus.attributed import AttributedEnergy
from profiler.prometheus.exporter import FinwattCollector, MetricsServer, make_registry
from profiler.sensors.kube.kubelet import KubeletConfig, KubeletPods
from profiler.sensors.kube.names import PodNamer
from profiler.sensors.processes import ProcessTable
from profiler.store.database import Store
from tests.fakes.cli import run_finwatt
from tests.profiler.capture.test_attribution_capture import DEVICES, FakeProc, tick
from tests.profiler.sensors.bmc.redfish_harness import Pki, make_pki
from tests.profiler.sensors.kube.kubelet_harness import TOKEN, FakeKubelet, fake_kubelet

ENGINE = "6f1c2e3a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
PRICER = "7a2d3f4b-2c3d-4e5f-9a01-1b2c3d4e5f60"
REPORT = "8b3e4a5c-3d4e-4f60-8b12-2c3d4e5f6071"
CGROUPS = {  # the systemd driver's and the cgroupfs driver's layouts, one per QoS class
    "engine": f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
    f"{ENGINE.replace('-', '_')}.slice/cri-containerd-{'a1' * 32}.scope",
    "pricer": f"/kubepods.slice/kubepods-pod{PRICER.replace('-', '_')}.slice/"
    f"cri-containerd-{'c3' * 32}.scope",
    "report": f"/kubepods/besteffort/pod{REPORT}/{'d4' * 32}",
    "sshd": "/system.slice/sshd.service",
}
CPU_S = {"engine": 0.6, "pricer": 0.3, "report": 0.2, "sshd": 0.1}  # per second


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def kubelet(pki: Pki) -> Iterator[FakeKubelet]:
    with fake_kubelet(pki) as served:
        yield served


def namer_for(kubelet: FakeKubelet, pki: Pki, tmp_path: Path) -> PodNamer:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    namer = PodNamer(KubeletPods(KubeletConfig(kubelet.url, token_file=token, ca_file=pki.ca)))
    namer.pods.refresh()
    return namer


def attribute(
    tmp_path: Path, namer: PodNamer, listeners: list[AttributedEnergy]
) -> list[AttributionRow]:
    """Two minutes of four processes (three pods, one service) on 2 cores at 10 W."""
    proc = FakeProc(tmp_path / "proc")
    for pid, name in enumerate(CGROUPS, start=100):
        proc.spawn(pid, name, CGROUPS[name])
    rows: list[AttributionRow] = []
    att = Attributor(
        DEVICES,
        table=ProcessTable(tmp_path / "proc"),
        row_sink=rows.extend,
        listeners=[e.add for e in listeners],
        namer=namer,
    )
    for k in range(1, 121):
        for pid, name in enumerate(CGROUPS, start=100):
            proc.burn(pid, CPU_S[name], name)
        att.observe(tick(k, float(k), 10.0 * k, 0.6))
    att.finish(None)
    return rows


def test_three_pods_in_two_namespaces_are_charged_by_namespace_and_add_up(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    rows = attribute(tmp_path, namer_for(kubelet, pki, tmp_path), [])
    cgroups = {r.group_name for r in rows if r.group_kind == "cgroup"}
    assert {
        "kubernetes:risk/var-engine-7d9f8-abcde/engine",
        "kubernetes:risk/pricer-5c6b7-fghij/pricer",
        "kubernetes:reporting/eod-report-6d7c8-klmno/report",
        "systemd:sshd.service",
    } <= cgroups
    db = tmp_path / "f.db"
    with Store(db) as store:
        run = store.runs.create(RunKind.MONITOR, started=epoch_to_iso(time.time() - 600))
        store.attribution.add(run.id, rows)
        store.runs.finish(run.id, RunStatus.COMPLETE)
    stored_j = sum(r.energy_j for r in rows if r.group_kind in ("cgroup", "host"))
    results = {}
    for by in ("namespace", "pod", "label:cost-centre", "cgroup"):
        done = run_finwatt("chargeback", "--db", str(db), "--by", by, "--json")
        assert done.returncode == 0, done.stderr
        results[by] = {r["group"]: r["energy_j"] for r in json.loads(done.stdout)["rows"]}
        assert sum(results[by].values()) == pytest.approx(stored_j)
    by_ns = results["namespace"]
    # 1.2 busy CPU s a second over 1.2 claimed: shares are CPU time, 0.6 : 0.3 : 0.2 : 0.1
    cgroup_j = {name: results["cgroup"][name] for name in results["cgroup"]}
    risk = (
        cgroup_j["kubernetes:risk/var-engine-7d9f8-abcde/engine"]
        + cgroup_j["kubernetes:risk/pricer-5c6b7-fghij/pricer"]
    )
    assert by_ns["risk"] == pytest.approx(risk)
    assert by_ns["risk"] / by_ns["reporting"] == pytest.approx(0.9 / 0.2)
    assert by_ns["(not a pod)"] == pytest.approx(cgroup_j["systemd:sshd.service"])
    assert results["pod"]["risk/pricer-5c6b7-fghij"] == pytest.approx(
        cgroup_j["kubernetes:risk/pricer-5c6b7-fghij/pricer"]
    )
    assert results["label:cost-centre"]["cc-1042"] == pytest.approx(by_ns["risk"])
    assert results["label:cost-centre"]["(no label cost-centre)"] == pytest.approx(
        by_ns["reporting"]
    )


def test_without_the_kubelet_pods_stay_by_uid_and_chargeback_says_so(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    kubelet.status = 503
    rows = attribute(tmp_path, namer_for(kubelet, pki, tmp_path), [])
    pods = [r for r in rows if r.group_kind == "cgroup" and r.owner == "kubernetes"]
    assert pods and all(r.group_name.startswith("kubernetes:pod:") for r in pods)
    assert all("names=degraded:" in (r.detail or "") for r in pods)
    db = tmp_path / "f.db"
    with Store(db) as store:
        run = store.runs.create(RunKind.MONITOR, started=epoch_to_iso(time.time() - 600))
        store.attribution.add(run.id, rows)
        store.runs.finish(run.id, RunStatus.COMPLETE)
    done = run_finwatt("chargeback", "--db", str(db), "--by", "namespace", "--json")
    groups = {r["group"] for r in json.loads(done.stdout)["rows"]}
    assert "(pod not named)" in groups and "risk" not in groups


def test_the_exporter_labels_pods_and_stays_within_its_bound(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    collector = FinwattCollector(DEVICES[:1], "1")
    server = MetricsServer(make_registry(collector), "127.0.0.1", 0)
    try:
        attribute(tmp_path, namer_for(kubelet, pki, tmp_path), [collector.attributed])
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.close()
    samples = [
        s
        for family in text_string_to_metric_families(text)
        if family.name == "finwatt_attributed_energy_joules"
        for s in family.samples
    ]
    pods = {
        (s.labels["namespace"], s.labels["pod"], s.labels["container"])
        for s in samples
        if "namespace" in s.labels
    }
    assert pods == {
        ("risk", "var-engine-7d9f8-abcde", "engine"),
        ("risk", "pricer-5c6b7-fghij", "pricer"),
        ("reporting", "eod-report-6d7c8-klmno", "report"),
    }
    assert all(s.labels["group_kind"] == "kubernetes" for s in samples if "pod" in s.labels)
    assert all("pod" not in s.labels for s in samples if s.labels["group_kind"] != "kubernetes")


def test_pod_series_beyond_the_bound_add_to_other() -> None:
    energy = AttributedEnergy(max_pod_series=5)
    prov = "attributed:cpu-time(measured:rapl)"
    energy.add([("kubernetes", f"ns{i % 2}/pod-{i}/main", 1.0, prov) for i in range(40)])
    (family,) = list(energy.metrics())
    assert len(family.samples) == 6
    other = [s for s in family.samples if s.labels["group"] == "other"]
    assert other[0].value == 35.0 and "pod" not in other[0].labels


def test_requests_against_use_and_the_energy_the_unused_request_costs(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    rows = attribute(tmp_path, namer_for(kubelet, pki, tmp_path), [])
    db = tmp_path / "f.db"
    with Store(db) as store:
        run = store.runs.create(RunKind.MONITOR, started=epoch_to_iso(time.time() - 600))
        store.attribution.add(run.id, rows)
        store.runs.finish(run.id, RunStatus.COMPLETE)
        since = datetime.fromtimestamp(time.time() - 3600, UTC)
        groups = store.attribution.energy_by_group(since, datetime.now(UTC), "cgroup")
    found = {r.group: r for r in requests_against_use(groups, node_cores=2)}
    engine = found["risk/var-engine-7d9f8-abcde/engine"]
    assert engine.used_cores == pytest.approx(0.6)  # 0.6 CPU s a second, measured
    assert (engine.cpu_request, engine.cpu_limit) == (2.0, 4.0)
    assert engine.memory_limit == 8 * 2**30
    assert engine.excess_cores == pytest.approx(1.4)
    # 10 W with a 2 W idle: 1.4 of 2 cores reserved and unused hold 1.4 W of idle
    assert engine.excess_j == pytest.approx(1.4 / 2 * 2.0 * engine.seconds)
    pricer = found["risk/pricer-5c6b7-fghij/pricer"]
    assert pricer.excess_cores == pytest.approx(0.2)
    report = found["reporting/eod-report-6d7c8-klmno/report"]
    assert report.cpu_request is None and report.excess_j is None  # BestEffort asks nothing
    assert "systemd:sshd.service" not in found and "sshd.service" not in found
    done = run_finwatt("pods", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == "finwatt.pods/1"
    first = document["rows"][0]
    assert first["group"] == "risk/var-engine-7d9f8-abcde/engine"
    assert first["memory_used_bytes"] is None
    assert document["node_cores"] is None and first["excess_j"] is None  # no host device


def test_pods_without_attribution_rows_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    Store(db).close()
    done = run_finwatt("pods", "--db", str(db))
    assert done.returncode == 2
    assert "monitor --attribute" in done.stderr and len(done.stderr.strip().splitlines()) == 1
