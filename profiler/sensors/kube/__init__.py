"""Kubernetes pods by name: a pod cgroup's UID -> namespace, pod, container (and labels).

`names.PodNamer` is the naming step of cgroup attribution: it turns the `pod:<uid>` that
`profiler.sensors.cgroups.recognise` reads from a cgroup path into
`<namespace>/<pod>/<container>` from the kubelet's pod list (`kubelet.KubeletPods`,
cached; `pods` parses the `v1.PodList`). `from_environment` builds one from the
DaemonSet's environment (docs/kubernetes.md), None where `FINWATT_KUBELET_URL` is unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.kube.kubelet import CA_FILE, OK, TOKEN_FILE, KubeletConfig, KubeletPods
from profiler.sensors.kube.names import PodNamer

__all__ = ["KubeletConfig", "KubeletPods", "PodNamer", "availability", "from_environment"]

_FALSE = ("0", "false", "no", "off")


def from_environment(environ: Mapping[str, str]) -> PodNamer | None:
    """Return a namer from `FINWATT_KUBELET_*` (None where `FINWATT_KUBELET_URL` is unset).

    `FINWATT_KUBELET_URL` the pod list; `FINWATT_KUBELET_TOKEN_FILE` (default the
    service account's token; `none` sends no token); `FINWATT_KUBELET_CA_FILE` (default
    the service account's CA where present); `FINWATT_KUBELET_VERIFY_TLS=false` for a
    kubelet whose self-signed certificate no CA signs.
    """
    url = environ.get("FINWATT_KUBELET_URL", "").strip()
    if not url:
        return None
    token = environ.get("FINWATT_KUBELET_TOKEN_FILE", str(TOKEN_FILE)).strip()
    ca = environ.get("FINWATT_KUBELET_CA_FILE", "").strip()
    ca_file = Path(ca) if ca else (CA_FILE if CA_FILE.is_file() else None)
    config = KubeletConfig(
        url=url,
        token_file=None if token.lower() == "none" else Path(token),
        ca_file=ca_file,
        verify_tls=environ.get("FINWATT_KUBELET_VERIFY_TLS", "true").strip().lower() not in _FALSE,
    )
    return PodNamer(KubeletPods(config))


def availability(namer: PodNamer) -> Availability:
    """Fetch the pod list once and say what `finwatt doctor` shows for pod names."""
    state = namer.pods.refresh()
    if state == OK:
        return Availability(
            "kubernetes",
            FamilyState.FOUND,
            f"pod names from the pod list ({namer.pods.size} pods on this node)",
        )
    return Availability(
        "kubernetes",
        FamilyState.NOT_READABLE,
        f"pod names {state}",
        "check FINWATT_KUBELET_URL, the token's RBAC and the CA (docs/kubernetes.md)",
    )
