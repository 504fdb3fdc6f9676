"""The exporter under a burst of simultaneous scrapes: all answered, and how fast.

Starts the real `/metrics` server (`MetricsServer`, the one `finwatt serve` runs) on
127.0.0.1 with a collector holding a few devices and a fresh tick, then opens `--clients`
connections at once (a barrier releases them together) and records each scrape's status
and latency. The reference measured in the same run is one scrape alone (the median of
`--solo` sequential scrapes): the burst's percentiles are printed as ratios to it.

With the old listen queue of 5 (docs/decisions.md#hostile-input), 46 of 200 simultaneous
scrapes timed out and 20 at once made 13 take over 1 s.

Run: .venv/bin/python -m bench.exporter_burst [--clients 200] [--rounds 3]
Target (docs/benchmarks.md#benchmark-record): 200 simultaneous scrapes all answered
(status 200) within 2 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from profiler.model.device import DeviceInfo
from profiler.model.samples import Reading, Tick
from profiler.prometheus.exporter import FinwattCollector, MetricsServer, make_registry

DEVICES = [
    DeviceInfo("host", "host", model="bench", logical_cores=64, mem_total_bytes=2**38),
    *(
        DeviceInfo(f"cpu:{i}", "cpu", model="bench", logical_cores=32, power_limit_w=250.0)
        for i in range(2)
    ),
]


@dataclass(frozen=True)
class Scrape:
    """One scrape: HTTP status (0: no answer) and seconds from release to the full body."""

    status: int
    latency_s: float
    error: str | None = None


@contextmanager
def serving() -> Iterator[MetricsServer]:
    """Serve a collector with one tick of readings on 127.0.0.1 (a free port)."""
    collector = FinwattCollector(DEVICES, "bench")
    readings = {
        d.device_id: Reading(d.device_id, power_w=100.0, energy_j=10.0, util=0.5) for d in DEVICES
    }
    collector.observe(Tick(0, 0.0, readings, 0))
    server = MetricsServer(make_registry(collector), "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.close()


def _scrape(port: int, timeout_s: float) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        response.read()
        return response.status, None
    except OSError as err:
        return 0, f"{type(err).__name__}: {err}"
    finally:
        connection.close()


def burst(port: int, clients: int, timeout_s: float = 10.0) -> list[Scrape]:
    """Scrape `port` from `clients` threads released at once; return every scrape."""
    barrier = threading.Barrier(clients)
    results: list[Scrape] = []
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()
        start = time.perf_counter()
        status, error = _scrape(port, timeout_s)
        scrape = Scrape(status, time.perf_counter() - start, error)
        with lock:
            results.append(scrape)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s + 30)
    return results


def percentile(values: list[float], share: float) -> float:
    """Return the `share` (0..1) percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    """Measure `--rounds` bursts and print one JSON line per round."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--solo", type=int, default=50)
    args = parser.parse_args()
    with serving() as server:
        solo = []
        for _ in range(args.solo):
            start = time.perf_counter()
            _scrape(server.port, 10.0)
            solo.append(time.perf_counter() - start)
        reference_s = statistics.median(solo)
        for round_ in range(1, args.rounds + 1):
            scrapes = burst(server.port, args.clients)
            latencies = [s.latency_s for s in scrapes if s.status == 200]
            figures = {
                "round": round_,
                "clients": args.clients,
                "answered_200": len(latencies),
                "failed": len(scrapes) - len(latencies),
                "solo_median_ms": round(reference_s * 1000, 2),
            }
            for name, share in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
                value = percentile(latencies, share) if latencies else float("nan")
                figures[f"{name}_ms"] = round(value * 1000, 1)
                figures[f"{name}_x_solo"] = round(value / reference_s, 1)
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
