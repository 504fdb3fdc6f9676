"""The pods of a node, read from a Kubernetes `PodList` document (kubelet `/pods` or the API).

`parse_pod_list` takes the JSON the kubelet's read-only `/pods` endpoint returns (the
same `v1.PodList` shape as the API server's `/api/v1/pods?fieldSelector=spec.nodeName=N`)
and keeps what attribution and the requests-against-use check need: each pod's UID,
namespace, name and labels, and per container its name, runtime container id (the
`containerd://<64 hex>` of `status.containerStatuses[].containerID`, without the
scheme) and CPU and memory requests and limits, as numbers (cores, bytes).

Names and labels are outside data: a pod whose namespace, name or a container's name is
not a Kubernetes name (DNS-1123), or a label that is not a Kubernetes label, is left out
(the API server never admits one; a forged list cannot put `/`, spaces or control
characters into group names, rows or terminals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
"""Namespace, pod and container names (DNS-1123): no `/`, space or control character."""
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


class PodListError(ValueError):
    """The document is not a `v1.PodList` (the message says what is wrong)."""


def quantity(text: str) -> float:
    """Return a Kubernetes resource quantity as a number: `250m` -> 0.25, `1Gi` -> 2**30.

    Raises:
        PodListError: not a quantity.
    """
    match = _QUANTITY.match(str(text).strip())
    if not match or match[2] not in _SUFFIX:
        raise PodListError(f"resource quantity {str(text)[:40]!r} is not a Kubernetes quantity")
    return float(match[1]) * _SUFFIX[match[2]]


@dataclass(frozen=True)
class Resources:
    """A container's requests and limits (None: not set).

    Attributes:
        cpu_request: cores.
        cpu_limit: cores.
        memory_request: bytes.
        memory_limit: bytes.
    """

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None


@dataclass(frozen=True)
class ContainerInfo:
    """One container of a pod.

    Attributes:
        name: the container's name in the pod spec.
        container_id: the runtime's id (hex, no `containerd://`), None before it started.
        resources: its requests and limits.
    """

    name: str
    container_id: str | None
    resources: Resources


@dataclass(frozen=True)
class PodInfo:
    """One pod: who it is and its containers.

    Attributes:
        uid: `metadata.uid`, as in the pod's cgroup path (dashes).
        namespace: `metadata.namespace`.
        name: `metadata.name`.
        labels: `metadata.labels`.
        qos: `status.qosClass`, lower case (`burstable`), None when absent.
        containers: its containers (init containers left out).
    """

    uid: str
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    qos: str | None = None
    containers: tuple[ContainerInfo, ...] = ()

    def container(self, short_id: str | None) -> ContainerInfo | None:
        """Return the container whose runtime id starts with `short_id` (None: no match)."""
        if not short_id:
            return None
        return next(
            (c for c in self.containers if c.container_id and c.container_id.startswith(short_id)),
            None,
        )


def _resources(spec: Mapping[str, Any]) -> Resources:
    res = spec.get("resources") or {}
    requests = res.get("requests") or {}
    limits = res.get("limits") or {}

    def get(table: Mapping[str, Any], key: str) -> float | None:
        return quantity(table[key]) if key in table else None

    return Resources(
        get(requests, "cpu"), get(limits, "cpu"), get(requests, "memory"), get(limits, "memory")
    )


def _pod(item: Mapping[str, Any]) -> PodInfo:
    meta = item.get("metadata") or {}
    if not meta.get("uid") or not meta.get("name"):
        raise PodListError("a pod in the list has no metadata.uid or metadata.name")
    status = item.get("status") or {}
    ids = {}
    for cs in status.get("containerStatuses") or []:
        raw = str(cs.get("containerID") or "")
        ids[str(cs.get("name"))] = raw.partition("://")[2] or raw or None
    containers = tuple(
        ContainerInfo(str(c.get("name")), ids.get(str(c.get("name"))), _resources(c))
        for c in (item.get("spec") or {}).get("containers") or []
    )
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    qos = status.get("qosClass")
    return PodInfo(
        uid=str(meta["uid"]),
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta["name"]),
        labels=labels,
        qos=str(qos).lower() if qos else None,
        containers=containers,
    )


def _well_formed(pod: PodInfo) -> bool:
    names = [pod.namespace, pod.name, *(c.name for c in pod.containers)]
    return all(_NAME.fullmatch(n) for n in names) and all(
        _LABEL_KEY.fullmatch(k) and _LABEL_VALUE.fullmatch(v) for k, v in pod.labels.items()
    )


def parse_pod_list(document: Any) -> dict[str, PodInfo]:
    """Return the well-formed pods of a `v1.PodList` document by UID.

    Raises:
        PodListError: the document is not a PodList, or a pod lacks its uid or name.
    """
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise PodListError("the pod list is not a Kubernetes PodList (no items array)")
    try:
        pods = [_pod(item) for item in document["items"]]
    except (AttributeError, TypeError) as err:
        raise PodListError(f"the pod list has an unexpected shape ({err})") from err
    return {pod.uid: pod for pod in pods if _well_formed(pod)}
