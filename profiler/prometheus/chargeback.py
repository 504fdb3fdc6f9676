"""Fleet-wide chargeback through PromQL: `finwatt chargeback --prometheus URL --by ...`.

Every host's energy and every group's share of it are summed in Prometheus (or
VictoriaMetrics), a handful of instant queries at the window's end whatever the fleet's
size:

- the fleet's energy: `increase(finwatt_energy_joules_total{kind=~"cpu|dram|gpu"}[W])`
  per instance and provenance, the parts only, as one host's chargeback counts them (a
  BMC's wall figure holds the parts and is not added; attribution shares CPU energy);
- `--by host`: those per-instance figures, one row per host (they add up to the fleet);
- `--by account`, `user` or `tag:KEY`: the running-job gauge `finwatt_job_energy_joules`
  (`profiler.prometheus.running`) per job, its figure at the window's end less its figure
  at the window's start (a job that began earlier is charged only its part inside the
  window), summed by `account`, `user` or `tag_<KEY>`;
- `--by namespace`: `increase(finwatt_attributed_energy_joules_total{namespace!=""}[W])`,
  the attributed counter's Kubernetes namespace label.

A closing `unattributed` row (the fleet's energy less the groups') makes the rows add up
to the fleet's energy. Figures are at the scrape interval's resolution: a job's energy
after its last scrape is missing (the exporter keeps an ended job's final figure a few
minutes, so a scrape normally sees it).
"""

from __future__ import annotations

import re

from profiler.analysis.chargeback import UNATTRIBUTED_ROW, UNTAGGED, Chargeback, ChargeRow
from profiler.model.running_job import LABEL_TAG
from profiler.prometheus.api import FleetError, FleetUsageError, PrometheusApi
from profiler.prometheus.query import selector
from profiler.prometheus.running import METRIC as JOB_METRIC
from profiler.prometheus.screen import with_matchers

PARTS = 'kind=~"cpu|dram|gpu"'
FLEET_BY = "host, account, user, namespace or tag:KEY"
_DURATION = re.compile(r"^[0-9]+s$")


def parse_fleet_by(text: str) -> tuple[str, str]:
    """Return (what, label) for `--by` with `--prometheus`: the group's label name.

    Raises:
        FleetUsageError: a grouping Prometheus cannot answer (`unit`, `command`, ...),
            or a tag key that is not a label name.
    """
    kind, _, key = text.partition(":")
    if kind in ("host", "account", "user", "namespace") and not key:
        return kind, "instance" if kind == "host" else kind
    if kind == "tag" and key:
        if not LABEL_TAG.match(key):
            raise FleetUsageError(
                f"--by {text!r}: with --prometheus a tag key is a label name "
                "(letters, digits, _; not starting with a digit)"
            )
        return "tag", f"tag_{key}"
    raise FleetUsageError(f"--by {text!r}: with --prometheus use {FLEET_BY}")


def fleet_chargeback(
    api: PrometheusApi, since_s: float, at_s: float, by: str, match: str = '{job="finwatt"}'
) -> Chargeback:
    """Return the fleet's chargeback rows for the `since_s` seconds before `at_s`.

    Raises:
        FleetUsageError: see `parse_fleet_by`; `match` is not a `{...}` selector.
        FleetError: Prometheus could not be read (`PrometheusApi.query`), or it holds
            no finwatt energy series in the window.
    """
    kind, label = parse_fleet_by(by)
    window = f"{max(1, round(since_s))}s"
    energy = with_matchers(selector("finwatt_energy_joules_total", match), PARTS)
    hosts = api.query(f"sum by (instance, provenance) (increase({energy}[{window}]))", at_s)
    if not hosts:
        raise FleetError(
            f"no {energy} series in the last {window} at {api.url}: "
            "point --prometheus at the Prometheus that scrapes finwatt serve"
        )
    fleet_j = sum(v for _, v in hosts)
    instances = {labels.get("instance", "") for labels, _ in hosts}
    if kind == "host":
        rows = _rows(hosts, "instance", jobs={})
        return Chargeback(
            sorted(rows.values(), key=_order), fleet_j, {"prometheus": len(instances)}
        )
    if kind == "namespace":
        counter = selector("finwatt_attributed_energy_joules_total", match)
        counter = with_matchers(counter, 'namespace!=""')
        query = f"sum by (namespace, provenance) (increase({counter}[{window}]))"
        groups = api.query(query, at_s)
        jobs: dict[str, int] = {}
    else:
        gauge = selector(JOB_METRIC, match)
        now = f"max_over_time({gauge}[{window}])"
        inside = f"({now} - max_over_time({gauge}[{window}] offset {window})) or {now}"
        groups = api.query(f"sum by ({label}, provenance) ({inside})", at_s)
        counted = api.query(f"count by ({label}) ({now})", at_s)
        jobs = {labels.get(label, "") or UNTAGGED: int(v) for labels, v in counted}
    rows = _rows(groups, label, jobs)
    charged = sum(r.energy_j for r in rows.values())
    ordered = sorted(rows.values(), key=_order)
    ordered.append(ChargeRow(UNATTRIBUTED_ROW, energy_j=fleet_j - charged))
    return Chargeback(ordered, fleet_j, {"prometheus": len(instances)})


def _rows(
    vector: list[tuple[dict[str, str], float]], label: str, jobs: dict[str, int]
) -> dict[str, ChargeRow]:
    rows: dict[str, ChargeRow] = {}
    for labels, value in vector:
        group = labels.get(label, "") or UNTAGGED
        row = rows.setdefault(group, ChargeRow(group, jobs=jobs.get(group, 0)))
        row.energy_j += value
        if labels.get("provenance"):
            row.provenance.add(labels["provenance"])
    return rows


def _order(row: ChargeRow) -> tuple[float, str]:
    return (-row.energy_j, row.group)
