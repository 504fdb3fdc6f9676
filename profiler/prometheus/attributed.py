"""`finwatt_attributed_energy_joules_total{group_kind, group, provenance, ...}`: attributed energy.

Fed by `monitor --attribute --serve` (`profiler.capture.attribution.Attributor`'s
listeners) with each tick's shares: per process name (`group_kind="process"`, `group` the
command name, never the pid, so restarts do not mint series) and per cgroup owner
(`group_kind` `docker`, `containerd`, `kubernetes`, `slurm`, `systemd` or `cgroup`;
`group` its name). Cardinality is bounded: the first `max_groups` groups of each kind keep
their own series for the exporter's life (a counter must not vanish and come back from
zero), and any later group adds to that kind's `other`, so a host exports at most
`max_groups + 1` series per kind and provenance. `provenance` is the shares'
`attributed:cpu-time(<source>)` (`unknown` for a device without one); a host has one
source set, so one value in practice; at most `MAX_PROVENANCES` are kept, later ones
count under `unknown` (never under another source's name). A pod named from the pod
list (`profiler.sensors.kube`, group `<namespace>/<pod>/<container>`) also carries
`namespace`, `pod` and `container` labels (absent from every other series); the
`kubernetes` kind keeps `MAX_POD_SERIES` named series (a kubelet runs 110 pods by
default, a few containers each), so a host exports at most `MAX_POD_SERIES + 1` pod
series per provenance. Check by hand:
`curl -s http://127.0.0.1:9464/metrics | grep finwatt_attributed`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, Metric

METRIC = "finwatt_attributed_energy_joules"
LABELS = ("group_kind", "group", "provenance")
POD_LABELS = ("namespace", "pod", "container")
"""Added to a named pod's series only (a family's samples may carry more labels)."""
MAX_GROUPS = 20
"""Series per group kind before new groups go to `other`."""

MAX_PROVENANCES = 4
"""Distinct provenance values kept; later ones count under `UNKNOWN` (bounds the series)."""

MAX_POD_SERIES = 256
"""Named series of the `kubernetes` kind before new pods' containers go to `other`."""

POD_KIND = "kubernetes"

UNKNOWN = "unknown"

OTHER = "other"


class AttributedEnergy:
    """Running totals of attributed energy per (group kind, group), bounded per kind.

    Args:
        max_groups: named groups kept per kind; later ones add to `other`.
    """

    def __init__(self, max_groups: int = MAX_GROUPS, max_pod_series: int = MAX_POD_SERIES) -> None:
        self._max = max_groups
        self._max_pods = max_pod_series
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str, str], float] = {}
        self._named: dict[str, set[str]] = {}
        self._provenances: list[str] = []

    def add(self, parts: Iterable[tuple[str, str, float, str]]) -> None:
        """Add one tick's (group kind, group, joules, provenance) shares (a listener)."""
        with self._lock:
            for kind, group, joules, provenance in parts:
                if joules <= 0.0:
                    continue
                named = self._named.setdefault(kind, set())
                if group != OTHER and group not in named:
                    if len(named) >= (self._max_pods if kind == POD_KIND else self._max):
                        group = OTHER
                    else:
                        named.add(group)
                key = (kind, group, self._provenance(provenance))
                self._totals[key] = self._totals.get(key, 0.0) + joules

    def _provenance(self, provenance: str) -> str:
        if provenance not in self._provenances:
            if len(self._provenances) >= MAX_PROVENANCES:
                return UNKNOWN
            self._provenances.append(provenance)
        return provenance

    def metrics(self) -> Iterable[Metric]:
        """Yield the counter family, when any energy was attributed."""
        with self._lock:
            totals = dict(self._totals)
        if not totals:
            return
        counter = CounterMetricFamily(
            METRIC,
            "CPU package energy attributed to a process name or cgroup owner since the "
            "exporter started, in joules (shared by CPU time; provenance names the source).",
            labels=LABELS,
        )
        for (kind, group, provenance), joules in sorted(totals.items()):
            labels = dict(zip(LABELS, (kind, group, provenance), strict=True))
            pod = _pod_labels(kind, group)
            if pod is not None:
                labels.update(zip(POD_LABELS, pod, strict=True))
            counter.add_sample(f"{METRIC}_total", labels, joules)
        yield counter


def _pod_labels(kind: str, group: str) -> tuple[str, str, str] | None:
    """(namespace, pod, container) of a named pod group; None for anything else."""
    if kind != POD_KIND or group.startswith("pod:") or group == OTHER:
        return None
    parts = group.split("/")
    if len(parts) not in (2, 3):
        return None
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""
