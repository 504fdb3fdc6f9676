"""The naming step: a recognised pod cgroup owner gets its namespace, pod and container.

A named pod owner's `name` is `<namespace>/<pod>/<container>` (`/<pod>` alone for the
pod-level cgroup), unambiguous because none of the three may contain `/`; its details
keep the UID and QoS and add `namespace`, `pod`, `container_name`, the container's
`cpu_request`/`cpu_limit` (cores) and `memory_request`/`memory_limit` (bytes) where set,
and each label as `label.<key>`. A pod the pod list does not know (degraded, or not
listed yet) keeps `pod:<uid>` and gets `names=<state>` in its details, so a reader sees
why.
"""

from __future__ import annotations

from dataclasses import replace

from profiler.sensors.cgroups import CgroupOwner
from profiler.sensors.kube.kubelet import OK, KubeletPods

KIND = "kubernetes"
LABEL_PREFIX = "label."


def pod_group(namespace: str, pod: str, container: str | None) -> str:
    """Return the group name of a pod's container: `namespace/pod/container`."""
    return f"{namespace}/{pod}/{container or ''}".rstrip("/")


def split_group(name: str) -> tuple[str, str, str] | None:
    """Return (namespace, pod, container) of a named pod group, None for `pod:<uid>` etc."""
    parts = name.split("/")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        return None
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


class PodNamer:
    """Names pod cgroup owners from the pod list; other owners pass unchanged.

    Args:
        pods: the cached pod list.
    """

    def __init__(self, pods: KubeletPods) -> None:
        self.pods = pods

    @property
    def state(self) -> str:
        """`ok`, `not fetched yet` or `degraded: <why>`."""
        return self.pods.state

    def __call__(self, owner: CgroupOwner) -> CgroupOwner:
        """Return the owner with its pod's names, where it is a pod the list knows."""
        if owner.kind != KIND or not owner.name.startswith("pod:"):
            return owner
        uid = owner.name.removeprefix("pod:")
        pod = self.pods.pod(uid)
        if pod is None:
            state = self.pods.state if self.pods.state != OK else "pod not in the pod list"
            return replace(owner, details={**owner.details, "names": state})
        container = pod.container(owner.details.get("container"))
        details = {**owner.details, "uid": uid, "namespace": pod.namespace, "pod": pod.name}
        if container is not None:
            details["container_name"] = container.name
            res = container.resources
            for key, value in (
                ("cpu_request", res.cpu_request),
                ("cpu_limit", res.cpu_limit),
                ("memory_request", res.memory_request),
                ("memory_limit", res.memory_limit),
            ):
                if value is not None:
                    details[key] = repr(value)
        details.update({f"{LABEL_PREFIX}{k}": v for k, v in pod.labels.items()})
        name = pod_group(pod.namespace, pod.name, container.name if container else None)
        return replace(owner, name=name, details=details)
