"""Demand at fleet scale: 100, 300 and 1,000 hosts x 30 days at 5-minute resolution.

Target (issue "Capacity sized for the peak", docs/benchmarks.md): at 1,000 hosts
`finwatt demand --prometheus URL` and `finwatt analyze --prometheus URL` (which adds the
schedule findings and COMPLEMENTARY_PEAKS) within 60 s and 1 GiB peak RSS each, every
planted pattern found; growth at most linear from 100 to 1,000 hosts. The fleet is
loaded into a real Prometheus (promtool blocks) and a real VictoriaMetrics
(`bench/fleet_stores.py`); each command runs in its own process, timed (wall) with its
peak RSS from `wait4` (`bench.fleet.measured`).

Planted kinds (Europe/London local time), by share of the fleet:

| kind | share | cores | utilisation | finding |
| --- | --- | --- | --- | --- |
| batch | 20% | 16 | 2 %, 35 % 23:00-01:00 daily | PEAK_SIZED_HOST |
| office | 20% | 16 | 2 %, 50 % 08:00-18:00 Mon-Fri | OFF_HOURS_IDLE |
| day | 10% | 16 | 2 %, 60 % 08:00-18:00 daily | COMPLEMENTARY_PEAKS (with night) |
| night | 10% | 16 | 2 %, 60 % 20:00-06:00 daily | COMPLEMENTARY_PEAKS (with day) |
| steady | 40% | 32 | 66 % +- 5 % | no schedule finding |

    .venv/bin/python -m bench.demand [--hosts 100,300,1000] [--days 30]
        [--stores prometheus,victoria-metrics] [--workdir DIR] [--json OUT]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fleet import SizedBenchmark, day_starts, finwatt, measured  # noqa: E402
from bench.fleet_stores import PrometheusStore, Store, VictoriaStore, load_days  # noqa: E402

DAY_S = 86_400
STEP_S = 300
TDP_W = 205.0
LONDON = ZoneInfo("Europe/London")
SHARES = (("batch", 0.2), ("office", 0.2), ("day", 0.1), ("night", 0.1), ("steady", 0.4))
EXPECTED = {"batch": "PEAK_SIZED_HOST", "office": "OFF_HOURS_IDLE"}


@dataclass(frozen=True)
class Host:
    """One planted host: instance label, kind, cores, seed."""

    instance: str
    kind: str
    cores: int
    seed: int


def plant(n_hosts: int) -> list[Host]:
    """Return the fleet: kinds in `SHARES` proportions (rounded), steady hosts the rest."""
    counts = {kind: round(n_hosts * share) for kind, share in SHARES[:-1]}
    counts["steady"] = n_hosts - sum(counts.values())
    hosts: list[Host] = []
    for kind, count in counts.items():
        for _ in range(count):
            n = len(hosts)
            hosts.append(Host(f"d{n:05d}:9464", kind, 32 if kind == "steady" else 16, n))
    return hosts


def _busy(kind: str, weekday: np.ndarray, hour: np.ndarray) -> np.ndarray:
    if kind == "batch":
        return (hour == 23) | (hour == 0)
    if kind == "office":
        return (weekday < 5) & (hour >= 8) & (hour < 18)
    if kind == "day":
        return (hour >= 8) & (hour < 18)
    if kind == "night":
        return (hour >= 20) | (hour < 6)
    return np.ones(hour.size, dtype=bool)


def utilisation(host: Host, t_s: np.ndarray) -> np.ndarray:
    """Return the host's utilisation at epoch seconds `t_s` (its local hour of t - 1 s)."""
    rng = np.random.default_rng([host.seed, int(t_s[0]) // DAY_S])
    local = [datetime.fromtimestamp(float(t) - 1.0, UTC).astimezone(LONDON) for t in t_s[::12]]
    hour = np.repeat([m.hour for m in local], 12)[: t_s.size]
    weekday = np.repeat([m.weekday() for m in local], 12)[: t_s.size]
    if host.kind == "steady":
        util = 0.66 + 0.05 * np.sin(2 * np.pi * (t_s % DAY_S) / DAY_S)
    else:
        level = {"batch": 0.35, "office": 0.5}.get(host.kind, 0.6)
        util = np.where(_busy(host.kind, weekday, hour), level, 0.02)
    return np.clip(util + rng.uniform(-0.003, 0.003, t_s.size), 0.0, 1.0)


def host_day(
    host: Host, day_start_s: int
) -> Iterator[tuple[str, dict[str, str], np.ndarray, np.ndarray]]:
    """Yield (metric, labels, epoch seconds, values) of one host's UTC day."""
    times = np.arange(day_start_s, day_start_s + DAY_S, STEP_S) + 7  # off the query grid
    util = utilisation(host, times)
    base = {"instance": host.instance, "job": "finwatt"}
    hdev = {**base, "device": "host", "kind": "host"}
    cpu = {**base, "device": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"}
    yield "finwatt_utilization_ratio", hdev, times, util
    yield "finwatt_power_watts", cpu, times, 0.2 * TDP_W + 0.8 * TDP_W * util
    hourly = times[::12]
    ones = np.ones(hourly.size)
    yield "finwatt_device_info", hdev, hourly, ones
    yield "finwatt_device_info", cpu, hourly, ones
    yield "finwatt_device_logical_cores", hdev, hourly, host.cores * ones


def openmetrics_day(hosts: list[Host], day_start_s: int) -> Iterator[str]:
    """Yield one day of the fleet as OpenMetrics, families grouped, `# EOF` last."""
    families: dict[str, list[tuple[dict[str, str], np.ndarray, np.ndarray]]] = {}
    for host in hosts:
        for name, labels, t, v in host_day(host, day_start_s):
            families.setdefault(name, []).append((labels, t, v))
    for name, members in families.items():
        yield f"# TYPE {name} gauge\n"
        for labels, t, v in members:
            head = name + "{" + ",".join(f'{k}="{x}"' for k, x in labels.items()) + "} "
            yield "".join(
                f"{head}{a:.6g} {b}\n" for a, b in zip(v.tolist(), t.tolist(), strict=True)
            )
    yield "# EOF\n"


def jsonl_day(hosts: list[Host], day_start_s: int) -> Iterator[bytes]:
    """Yield one day of the fleet in VictoriaMetrics' `/api/v1/import` JSON lines."""
    for host in hosts:
        lines = [
            json.dumps(
                {
                    "metric": {"__name__": name, **labels},
                    "values": [round(x, 6) for x in v.tolist()],
                    "timestamps": (t * 1000).astype(np.int64).tolist(),
                }
            )
            for name, labels, t, v in host_day(host, day_start_s)
        ]
        yield ("\n".join(lines) + "\n").encode()


def score(document: dict[str, Any], hosts: list[Host]) -> dict[str, int]:
    """Planted patterns found: schedule findings per kind, and hosts in complementary pools."""
    by_instance = {h.instance: h.kind for h in hosts}
    found = {"batch": 0, "office": 0, "steady_flagged": 0, "pooled": 0, "freed": 0}
    for finding in document["findings"]:
        rule, instance = finding["rule"], str(finding["device"]).split("/")[0]
        kind = by_instance.get(instance)
        if kind in EXPECTED and EXPECTED[kind] == rule:
            found[kind] += 1
        if kind == "steady" and rule in EXPECTED.values():
            found["steady_flagged"] += 1
        if rule == "COMPLEMENTARY_PEAKS":
            pools = finding["recommendation"]["pools"]
            found["pooled"] += sum(len(p) for p in pools if len(p) > 1)
            found["freed"] += len(finding["recommendation"]["free"])
    return found


def measure_size(
    n_hosts: int, days: int, names: Sequence[str], workdir: Path
) -> list[dict[str, Any]]:
    """Load one fleet size into every store; time `demand` and `analyze` against each."""
    hosts = plant(n_hosts)
    stores: list[Store] = [
        (PrometheusStore if n == "prometheus" else VictoriaStore)(workdir / f"{n}-{n_hosts}")
        for n in names
    ]
    end_s = time.time() // 3600 * 3600 - 3600
    since = f"{days - 1}d"
    rows: list[dict[str, Any]] = []
    try:
        loaded = load_days(stores, hosts, day_starts(days, end_s), openmetrics_day, jsonl_day)
        for store in stores:
            for command in ("demand", "analyze"):
                args = finwatt(command, "--prometheus", store.url, "--since", since, "--json")
                run = measured(args)
                row = {"hosts": n_hosts, "store": store.name, "command": command}
                row |= {k: run[k] for k in ("rc", "wall_s", "peak_rss_bytes")}
                row["load_s"] = loaded[store.name]
                if run["rc"] != 0:
                    row["stderr"] = run["stderr"]
                elif command == "analyze":
                    row |= score(json.loads(run["stdout"]), hosts)
                rows.append(row)
    finally:
        for store in stores:
            store.close()
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    """Print one row per size x store x command, and the growth from the smallest size."""
    print(f"{'hosts':>6} {'store':<17} {'command':<8} {'rc':>3} {'wall s':>7} {'RSS MiB':>8} found")
    for r in rows:
        found = {
            k: r[k] for k in ("batch", "office", "steady_flagged", "pooled", "freed") if k in r
        }
        print(
            f"{r['hosts']:>6} {r['store']:<17} {r['command']:<8} {r['rc']:>3} "
            f"{r['wall_s']:>7.1f} {r['peak_rss_bytes'] / 2**20:>8.0f} "
            f"{found or r.get('stderr', '')}"
        )
    first = {(r["store"], r["command"]): r for r in reversed(rows)}
    for r in rows:
        a = first[(r["store"], r["command"])]
        if a is not r:
            print(
                f"{r['store']} {r['command']} {a['hosts']}->{r['hosts']}: hosts "
                f"x{r['hosts'] / a['hosts']:.1f}, time x{r['wall_s'] / a['wall_s']:.2f}, "
                f"RSS x{r['peak_rss_bytes'] / a['peak_rss_bytes']:.2f}"
            )


main = SizedBenchmark(__doc__, 30, "finwatt-demand-", measure_size, print_rows).main
"""Run the benchmark; print the table; optionally write the rows as JSON."""


if __name__ == "__main__":
    raise SystemExit(main())
