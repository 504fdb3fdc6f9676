"""Pods by name from a fake kubelet over TLS: fetch, token, cache, degraded state."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from profiler.sensors.cgroups import recognise
from profiler.sensors.kube import from_environment
from profiler.sensors.kube.kubelet import OK, KubeletConfig, KubeletPods, fetch_pods
from profiler.sensors.kube.names import PodNamer
from profiler.sensors.kube.pods import PodInfo, PodListError, parse_pod_list, quantity
from tests.fakes.cli import run_finwatt
from tests.profiler.sensors.bmc.redfish_harness import Pki, make_pki
from tests.profiler.sensors.kube.kubelet_harness import POD_LIST, TOKEN, FakeKubelet, fake_kubelet

ENGINE_UID = "6f1c2e3a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
ENGINE_PATH = (
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
    + ENGINE_UID.replace("-", "_")
    + ".slice/cri-containerd-"
    + "a1" * 32
    + ".scope"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def kubelet(pki: Pki) -> Iterator[FakeKubelet]:
    with fake_kubelet(pki) as served:
        yield served


def config(kubelet: FakeKubelet, pki: Pki, tmp_path: Path, token: str = TOKEN) -> KubeletConfig:
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    return KubeletConfig(kubelet.url, token_file=token_file, ca_file=pki.ca)


def test_the_pod_list_is_read_over_tls_with_the_token_from_its_file(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    pods = fetch_pods(config(kubelet, pki, tmp_path))
    assert kubelet.authorizations == [f"Bearer {TOKEN}"]
    engine = pods[ENGINE_UID]
    assert (engine.namespace, engine.name, engine.qos) == (
        "risk",
        "var-engine-7d9f8-abcde",
        "burstable",
    )
    assert engine.labels["cost-centre"] == "cc-1042"
    main = engine.container("a1a1a1a1a1a1")
    assert main is not None and main.name == "engine"
    assert main.resources.cpu_request == 2.0 and main.resources.memory_limit == 8 * 2**30
    assert {p.namespace for p in pods.values()} == {"risk", "reporting"}


def test_a_server_certificate_no_trusted_ca_signs_is_refused(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    untrusted = KubeletConfig(kubelet.url, token_file=None)
    pods = KubeletPods(untrusted)
    state = pods.refresh()
    assert state.startswith("degraded: pod list unreachable")
    assert "certificate verify failed" in state.lower()


def test_a_wrong_token_degrades_and_is_never_logged(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pods = KubeletPods(config(kubelet, pki, tmp_path, token="stolen-or-expired"))
    state = pods.refresh()
    assert state.startswith("degraded: pod list HTTP 401")
    assert "nodes/pods" in state
    assert "stolen-or-expired" not in caplog.text and TOKEN not in caplog.text


def test_an_unreachable_kubelet_keeps_the_names_it_had(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    now = [0.0]
    cfg = config(kubelet, pki, tmp_path)
    pods = KubeletPods(cfg, clock=lambda: now[0])
    assert pods.refresh() == OK
    kubelet.status = 503
    now[0] = 120.0  # past the TTL
    assert pods.refresh().startswith("degraded: pod list HTTP 503")
    engine = pods.pod(ENGINE_UID)
    assert engine is not None and engine.name == "var-engine-7d9f8-abcde"


def test_the_cache_serves_lookups_and_an_unknown_pod_refetches_once_per_retry(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    now = [0.0]
    pods = KubeletPods(config(kubelet, pki, tmp_path), clock=lambda: now[0])
    pods.refresh()
    for _ in range(50):
        assert pods.pod(ENGINE_UID) is not None
    assert pods.fetches == 1
    now[0] = 20.0
    for _ in range(50):
        assert pods.pod("00000000-0000-4000-8000-000000000000") is None
    pods.join()
    assert pods.fetches == 2  # fifty misses within retry_s cost one fetch


def test_an_oversized_or_foreign_document_is_refused(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    small = KubeletConfig(
        kubelet.url, token_file=config(kubelet, pki, tmp_path).token_file, ca_file=pki.ca,
        max_bytes=100,
    )  # fmt: skip
    with pytest.raises(PodListError, match="larger than 100 bytes"):
        fetch_pods(small)
    kubelet.document = {"kind": "Status"}
    with pytest.raises(PodListError, match="not a Kubernetes PodList"):
        fetch_pods(config(kubelet, pki, tmp_path))


def test_a_pod_cgroup_is_named_namespace_pod_container(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    namer = PodNamer(KubeletPods(config(kubelet, pki, tmp_path)))
    namer.pods.refresh()
    owner = namer(recognise(ENGINE_PATH))
    assert owner.label == "kubernetes:risk/var-engine-7d9f8-abcde/engine"
    assert owner.details["label.app"] == "var-engine"
    assert owner.details["uid"] == ENGINE_UID
    other = recognise("/system.slice/nginx.service")
    assert namer(other) is other


def test_an_unknown_pod_keeps_its_uid_and_says_why(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    kubelet.status = 500
    namer = PodNamer(KubeletPods(config(kubelet, pki, tmp_path)))
    namer.pods.refresh()
    owner = namer(recognise(ENGINE_PATH))
    assert owner.name == f"pod:{ENGINE_UID}"
    assert owner.details["names"].startswith("degraded: pod list HTTP 500")


def test_the_environment_names_the_url_token_and_ca(tmp_path: Path) -> None:
    assert from_environment({}) is None
    namer = from_environment(
        {
            "FINWATT_KUBELET_URL": "https://10.0.0.5:10250/pods",
            "FINWATT_KUBELET_TOKEN_FILE": str(tmp_path / "t"),
            "FINWATT_KUBELET_CA_FILE": str(tmp_path / "ca.crt"),
        }
    )
    assert namer is not None
    assert namer.pods.config.token_file == tmp_path / "t"
    assert namer.pods.config.ca_file == tmp_path / "ca.crt"
    assert namer.pods.config.verify_tls


def test_quantities_follow_kubernetes_suffixes() -> None:
    assert quantity("250m") == 0.25
    assert quantity("1Gi") == 2**30
    assert quantity("1.5") == 1.5
    assert quantity("2k") == 2000.0
    with pytest.raises(PodListError):
        quantity("lots")


def test_a_lookup_never_waits_for_a_fetch_in_flight() -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_fetch(_: KubeletConfig) -> dict[str, PodInfo]:
        started.set()
        release.wait(10)
        return {ENGINE_UID: PodInfo(ENGINE_UID, "risk", "var-engine-7d9f8-abcde")}

    pods = KubeletPods(KubeletConfig("https://127.0.0.1:1/pods"), fetch=slow_fetch)
    assert pods.pod(ENGINE_UID) is None  # answered from the (empty) cache at once
    assert started.wait(5)
    assert pods.pod(ENGINE_UID) is None and pods.fetches == 0  # still in flight: no second
    release.set()
    pods.join()
    found = pods.pod(ENGINE_UID)
    assert found is not None and found.namespace == "risk" and pods.state == OK


def test_doctor_says_whether_pods_can_be_named(
    kubelet: FakeKubelet, pki: Pki, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    env = {
        "FINWATT_KUBELET_URL": kubelet.url,
        "FINWATT_KUBELET_TOKEN_FILE": str(token),
        "FINWATT_KUBELET_CA_FILE": str(pki.ca),
        "FINWATT_DB": str(tmp_path / "f.db"),
    }
    done = run_finwatt("doctor", "--json", env=env)
    assert done.returncode == 0, done.stderr
    families = {f["family"]: f for f in json.loads(done.stdout)["families"]}
    assert families["kubernetes"]["state"] == "found"
    assert "3 pods" in families["kubernetes"]["reason"]
    token.write_text("expired")
    done = run_finwatt("doctor", "--json", env=env)
    families = {f["family"]: f for f in json.loads(done.stdout)["families"]}
    assert families["kubernetes"]["state"] == "not_readable"
    assert "HTTP 401" in families["kubernetes"]["reason"]
    assert "expired" not in done.stdout + done.stderr


def test_a_forged_pod_name_or_label_leaves_that_pod_out() -> None:
    document = json.loads(POD_LIST.read_text())
    document["items"][0]["metadata"]["name"] = "evil\x1b[2Jpod"
    document["items"][1]["metadata"]["labels"]["app"] = "a b=c"
    document["items"][2]["metadata"]["name"] = "ok-pod\n"
    assert parse_pod_list(document) == {}
    clean = json.loads(POD_LIST.read_text())
    clean["items"][0]["metadata"]["labels"]["app.kubernetes.io/name"] = "var-engine"
    assert len(parse_pod_list(clean)) == 3
