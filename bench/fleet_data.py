"""A synthetic fleet for `bench/fleet.py`: known host kinds in known proportions.

Each host looks as `finwatt serve` scraped every minute would look in Prometheus:
`finwatt_utilization_ratio` of its `host` device and `finwatt_power_watts` of `cpu:0`
every minute, memory used every 15 minutes, and the static gauges (`finwatt_device_info`,
logical cores, installed memory, power limit) hourly. Kinds, by share of the fleet:

| kind | share | utilisation | what the analyzer must say |
| --- | --- | --- | --- |
| idle | 10% | 1% +- 0.3% | IDLE_HOST |
| oversized | 10% | 6% +- 1% (64 cores) | OVER_PROVISIONED_CPU |
| bursty | 10% | 1%, 2 h a day at 60% | no idle or right-sizing finding |
| busy | 70% | 66% +- 5% daily | nothing: no finding at all |

Written per UTC day, as OpenMetrics (for `promtool tsdb create-blocks-from openmetrics`,
one file a day so promtool makes one pass per day-block) and as VictoriaMetrics' JSON line
import format (`/api/v1/import`). Deterministic for a seed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

DAY_S = 86_400
STEP_S = 60
GIB = 2**30
TDP_W = 205.0
SHARES = (("idle", 0.10), ("oversized", 0.10), ("bursty", 0.10), ("busy", 0.70))
MODELS = ("Intel(R) Xeon(R) Gold 6338", "AMD EPYC 7543")
BURSTY_MODEL = "Intel(R) Xeon(R) Silver 4314"
"""The bursty hosts are their own group: together they fit on fewer hosts."""


@dataclass(frozen=True)
class PlantedHost:
    """One synthetic host: its instance label, kind, size and CPU model."""

    instance: str
    kind: str
    cores: int
    mem_gib: int
    used_gib: float
    model: str
    seed: int


def plant(n_hosts: int) -> list[PlantedHost]:
    """Return the fleet: kinds in `SHARES` proportions (rounded), busy hosts the rest."""
    counts = {kind: round(n_hosts * share) for kind, share in SHARES[:-1]}
    counts["busy"] = n_hosts - sum(counts.values())
    hosts: list[PlantedHost] = []
    for kind, count in counts.items():
        for i in range(count):
            number = len(hosts)
            cores, mem, used = {
                "idle": (32, 64, 6.0),
                "oversized": (64, 256, 150.0),
                "bursty": (32, 128, 70.0),
                "busy": (32 if i % 2 else 16, 64, 40.0),
            }[kind]
            model = {"busy": MODELS[(i // 2) % 2], "bursty": BURSTY_MODEL}.get(kind, MODELS[0])
            hosts.append(PlantedHost(f"h{number:05d}:9464", kind, cores, mem, used, model, number))
    return hosts


def utilisation(host: PlantedHost, t_s: np.ndarray) -> np.ndarray:
    """Return the host's utilisation (0..1) at epoch seconds `t_s` (deterministic)."""
    rng = np.random.default_rng([host.seed, int(t_s[0]) // DAY_S])
    day = (t_s % DAY_S) / DAY_S
    phase = (host.seed % 24) / 24
    if host.kind == "idle":
        util = 0.01 + rng.uniform(-0.003, 0.003, t_s.size)
    elif host.kind == "oversized":
        wave = 0.01 * np.sin(2 * np.pi * (day + phase))
        util = 0.06 + wave + rng.uniform(-0.005, 0.005, t_s.size)
    elif host.kind == "bursty":
        burst = ((day + phase) % 1.0) < (2 / 24)
        util = np.where(burst, 0.60, 0.01) + rng.uniform(-0.004, 0.004, t_s.size)
    else:
        wave = 0.05 * np.sin(2 * np.pi * (day + phase))
        util = 0.66 + wave + rng.uniform(-0.02, 0.02, t_s.size)
    return np.clip(util, 0.0, 1.0)


@dataclass
class Series:
    """One series of one day: metric name, labels, epoch seconds, values."""

    name: str
    labels: dict[str, str]
    t_s: np.ndarray
    values: np.ndarray


def host_day(host: PlantedHost, day_start_s: int) -> Iterator[Series]:
    """Yield every series of one host for the UTC day starting at `day_start_s`."""
    minutes = np.arange(day_start_s, day_start_s + DAY_S, STEP_S) + 7  # off the query grid
    util = utilisation(host, minutes)
    base = {"instance": host.instance, "job": "finwatt"}
    hdev = {**base, "device": "host", "kind": "host"}
    cpu = {**base, "device": "cpu:0", "kind": "cpu", "provenance": "measured:rapl"}
    yield Series("finwatt_utilization_ratio", hdev, minutes, util)
    yield Series("finwatt_power_watts", cpu, minutes, 0.2 * TDP_W + 0.8 * TDP_W * util)
    quarter = minutes[::15]
    rng = np.random.default_rng([host.seed, day_start_s // DAY_S, 1])
    used = host.used_gib * GIB * (0.9 + 0.1 * rng.uniform(size=quarter.size))
    yield Series("finwatt_memory_used_bytes", hdev, quarter, used)
    hourly = minutes[::60]
    ones = np.ones(hourly.size)
    yield Series("finwatt_device_info", {**hdev, "model": host.model}, hourly, ones)
    yield Series("finwatt_device_info", {**cpu, "model": host.model}, hourly, ones)
    yield Series("finwatt_device_logical_cores", hdev, hourly, host.cores * ones)
    yield Series("finwatt_device_logical_cores", cpu, hourly, host.cores * ones)
    yield Series("finwatt_device_memory_total_bytes", hdev, hourly, host.mem_gib * GIB * ones)
    yield Series("finwatt_device_power_limit_watts", cpu, hourly, TDP_W * ones)


def openmetrics_day(hosts: list[PlantedHost], day_start_s: int) -> Iterator[str]:
    """Yield one day of the fleet as OpenMetrics text chunks, families grouped, `# EOF` last."""
    families: dict[str, list[Series]] = {}
    for host in hosts:
        for series in host_day(host, day_start_s):
            families.setdefault(series.name, []).append(series)
    for name, members in families.items():
        yield f"# TYPE {name} gauge\n"
        for series in members:
            text = ",".join(f'{k}="{v}"' for k, v in series.labels.items())
            head = f"{name}{{{text}}} "
            yield "".join(
                f"{head}{v:.6g} {t}\n"
                for v, t in zip(series.values.tolist(), series.t_s.tolist(), strict=True)
            )
    yield "# EOF\n"


def jsonl_day(hosts: list[PlantedHost], day_start_s: int) -> Iterator[bytes]:
    """Yield one day of the fleet in VictoriaMetrics' `/api/v1/import` JSON line format."""
    for host in hosts:
        lines = []
        for series in host_day(host, day_start_s):
            lines.append(
                json.dumps(
                    {
                        "metric": {"__name__": series.name, **series.labels},
                        "values": [round(v, 6) for v in series.values.tolist()],
                        "timestamps": (series.t_s * 1000).astype(np.int64).tolist(),
                    }
                )
            )
        yield ("\n".join(lines) + "\n").encode()
