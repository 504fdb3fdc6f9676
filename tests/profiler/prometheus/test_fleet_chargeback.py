"""Fleet chargeback through PromQL over 100 hosts in a real Prometheus.

Known data: 100 hosts with constant CPU and DRAM watts (every tenth also a BMC wall
series, which must not be added to its parts), exec jobs' `finwatt_job_energy_joules`
series with accounts (one began before the window and is charged only its part inside
it), and attributed counters with Kubernetes namespaces. Loaded with `promtool tsdb
create-blocks-from openmetrics`; every `--by` must add up to the fleet's energy within 1 %
and each row must be the figure worked out here.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from profiler.prometheus.api import FleetError, FleetUsageError, PrometheusApi
from profiler.prometheus.chargeback import fleet_chargeback
from tests.fakes.cli import run_finwatt
from tests.profiler.prometheus.prometheus_harness import Prometheus, require_prometheus

STEP_S = 300
DAY_S = 86_400
HOSTS = 100


def cpu_w(i: int) -> float:
    return 100.0 + i


def dram_w(i: int) -> float:
    return 10.0 + i % 7


def host_w(i: int) -> float:
    return cpu_w(i) + dram_w(i)


# (run, host, account, start offset from the window's start in steps, length in steps, W)
JOBS = [
    (f"job-{n}", n % HOSTS, ("risk", "xva", "pricing")[n % 3], 12 * (n % 20), 12 + n, 20.0 + n)
    for n in range(30)
]
STRADDLER = ("job-early", 3, "risk", -24, 48, 40.0)  # 2 h before the window, 2 h inside
NAMESPACES = {"trading": 30.0, "batch": 15.0}  # W attributed on each of hosts 0-9


def openmetrics(end_s: int) -> tuple[str, dict[str, float]]:
    """Two days of samples ending at `end_s`: the text, and each account's J in the window."""
    start_s = end_s - 2 * DAY_S
    window_s = end_s - DAY_S
    times = list(range(start_s, end_s + 1, STEP_S))
    lines: dict[str, list[str]] = {}

    def add(name: str, labels: dict[str, str], points: list[tuple[int, float]]) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.setdefault(name, []).extend(f"{name}{{{text}}} {v:.9g} {t}" for t, v in points)

    def counter(watts: float) -> list[tuple[int, float]]:
        return [(t, watts * (t - start_s)) for t in times]

    for i in range(HOSTS):
        base = {"instance": f"risk-{i:03d}:9464", "job": "finwatt"}
        provenance = "estimated:linear-tdp" if i % 5 == 4 else "measured:rapl"
        for device, kind, watts in (("cpu:0", "cpu", cpu_w(i)), ("dram:0", "dram", dram_w(i))):
            labels = {**base, "device": device, "kind": kind, "provenance": provenance}
            add("finwatt_energy_joules_total", labels, counter(watts))
        if i % 10 == 0:
            wall = {**base, "device": "node", "kind": "node", "provenance": "measured:ipmi-dcmi"}
            add("finwatt_energy_joules_total", wall, counter(host_w(i) + 90.0))
        if i < 10:
            for namespace, watts in NAMESPACES.items():
                labels = {
                    **base,
                    "group_kind": "kubernetes",
                    "group": f"{namespace}/pod",
                    "namespace": namespace,
                    "provenance": f"attributed:cpu-time({provenance})",
                }
                add("finwatt_attributed_energy_joules_total", labels, counter(watts))
    accounts: dict[str, float] = {}
    for run, host, account, offset, length, watts in [*JOBS, STRADDLER]:
        begin = window_s + offset * STEP_S
        points = [(begin + k * STEP_S, watts * k * STEP_S) for k in range(1, length + 1)]
        points.append((points[-1][0] + STEP_S, points[-1][1]))  # the ended job's final figure, kept
        labels = {
            "instance": f"risk-{host:03d}:9464",
            "job": "finwatt",
            "run": run,
            "account": account,
            "user": "u",
            "provenance": "attributed:cpu-time(measured:rapl)",
        }
        add("finwatt_job_energy_joules", labels, points)
        inside_s = min(length, length + offset) * STEP_S if offset < 0 else length * STEP_S
        accounts[account] = accounts.get(account, 0.0) + watts * inside_s
    out = []
    for name, body in lines.items():
        family = name.removesuffix("_total")
        out.append(f"# TYPE {family} counter" if family != name else f"# TYPE {name} gauge")
        out.extend(body)
    return "\n".join([*out, "# EOF"]) + "\n", accounts


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Prometheus, int, dict[str, float]]]:
    _, promtool = require_prometheus()
    tmp = tmp_path_factory.mktemp("fleet-chargeback")
    end_s = int(time.time()) // STEP_S * STEP_S - 3 * 3600
    text, accounts = openmetrics(end_s)
    (tmp / "fleet.om").write_text(text)
    argv = [
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "-q",
        str(tmp / "fleet.om"),
        str(tmp / "data"),
    ]
    created = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert created.returncode == 0, created.stderr
    with Prometheus(tmp / "prom", data=tmp / "data") as prom:
        yield prom, end_s, accounts


FLEET_J = sum(host_w(i) for i in range(HOSTS)) * DAY_S


def test_by_host_is_every_host_once_its_parts_not_its_wall(
    fleet: tuple[Prometheus, int, dict[str, float]],
) -> None:
    prom, end_s, _ = fleet
    result = fleet_chargeback(PrometheusApi(prom.url), DAY_S, end_s, "host")
    rows = {r.group: r for r in result.rows}
    assert len(rows) == HOSTS
    assert result.host_energy_j == pytest.approx(FLEET_J, rel=0.01)
    assert result.total_j == pytest.approx(result.host_energy_j, rel=1e-9)
    for i in (0, 4, 57):
        row = rows[f"risk-{i:03d}:9464"]
        assert row.energy_j == pytest.approx(host_w(i) * DAY_S, rel=0.01)
    assert rows["risk-004:9464"].provenance == {"estimated:linear-tdp"}
    assert rows["risk-000:9464"].provenance == {"measured:rapl"}


def test_by_account_charges_jobs_inside_the_window_and_closes_with_unattributed(
    fleet: tuple[Prometheus, int, dict[str, float]],
) -> None:
    prom, end_s, accounts = fleet
    result = fleet_chargeback(PrometheusApi(prom.url), DAY_S, end_s, "account")
    rows = {r.group: r for r in result.rows}
    assert set(rows) == {"risk", "xva", "pricing", "unattributed"}
    for account, joules in accounts.items():
        assert rows[account].energy_j == pytest.approx(joules, rel=0.01), account
    assert rows["risk"].jobs == 11 and rows["xva"].jobs == 10  # the straddler is risk's
    assert rows["unattributed"].energy_j == pytest.approx(
        FLEET_J - sum(accounts.values()), rel=0.01
    )
    assert result.total_j == pytest.approx(FLEET_J, rel=0.01)


def test_by_namespace_and_the_cli(fleet: tuple[Prometheus, int, dict[str, float]]) -> None:
    prom, end_s, _ = fleet
    result = fleet_chargeback(PrometheusApi(prom.url), DAY_S, end_s, "namespace")
    rows = {r.group: r.energy_j for r in result.rows}
    for namespace, watts in NAMESPACES.items():
        assert rows[namespace] == pytest.approx(10 * watts * DAY_S, rel=0.01)
    assert sum(rows.values()) == pytest.approx(FLEET_J, rel=0.01)

    done = run_finwatt(
        "chargeback", "--prometheus", prom.url, "--since", "30d", "--by", "account", "--json"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["host_sources"] == {"prometheus": HOSTS}
    assert sum(r["energy_j"] for r in doc["rows"]) == pytest.approx(doc["host_energy_j"], rel=0.01)
    bad = run_finwatt("chargeback", "--prometheus", prom.url, "--by", "command")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "host, account" in bad.stderr


def test_a_tag_key_must_be_a_label_name() -> None:
    with pytest.raises(FleetUsageError, match="label name"):
        fleet_chargeback(PrometheusApi("http://127.0.0.1:9"), DAY_S, 0.0, "tag:desk-name")


def test_a_prometheus_without_finwatt_series_is_a_one_line_error(
    fleet: tuple[Prometheus, int, dict[str, float]],
) -> None:
    prom, end_s, _ = fleet
    with pytest.raises(FleetError, match="scrapes finwatt serve"):
        fleet_chargeback(PrometheusApi(prom.url), DAY_S, end_s, "host", match='{job="nobody"}')
