"""The fleet at scale: 100, 300 and 1,000 hosts x 14 days at 1-minute resolution.

Target (docs/fleet.md): at 1,000 hosts `finwatt analyze --prometheus` in <= 60 s and <= 1 GiB
peak RSS here, every planted idle and oversized host found and no busy one; the cost grows
at most linearly from 100 to 1,000 hosts. For each size the synthetic fleet
(`bench/fleet_data.py`) is loaded into a real Prometheus (promtool blocks) and a real
VictoriaMetrics (`bench/fleet_stores.py`); then `finwatt analyze --prometheus URL --json`
and `finwatt report --prometheus URL` run against each, each in its own process, timed
(wall) with peak RSS from `wait4`. Printed: one row per size x store x command, findings
recovered vs planted, and the ratios of time and memory to the host ratio.

    .venv/bin/python -m bench.fleet [--hosts 100,300,1000] [--days 14]
        [--stores prometheus,victoria-metrics] [--workdir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fleet_data import DAY_S, PlantedHost, jsonl_day, openmetrics_day, plant  # noqa: E402
from bench.fleet_stores import PrometheusStore, Store, VictoriaStore, load_days  # noqa: E402

HOST_RULES = {"IDLE_HOST", "OVER_PROVISIONED_CPU", "UNDER_PROVISIONED_CPU"}
HOST_RULES |= {"OVER_PROVISIONED_MEM", "INSUFFICIENT_DATA", "LOW_EFFICIENCY_HOST"}


def day_starts(days: int, now_s: float) -> list[int]:
    """Return the UTC midnights of `days` days, the last one today (data up to tonight)."""
    today = int(now_s) // DAY_S * DAY_S
    return [today - (days - 1 - i) * DAY_S for i in range(days)]


def load(stores: Sequence[Store], hosts: list[PlantedHost], days: int) -> dict[str, float]:
    """Generate each day once and load it into every store; return seconds per store."""
    return load_days(stores, hosts, day_starts(days, time.time()), openmetrics_day, jsonl_day)


def measured(argv: list[str], timeout_s: float = 1800) -> dict[str, Any]:
    """Run `argv`; return exit status, wall seconds, peak RSS bytes and its output."""
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
            time.sleep(0.02)
        wall_s = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        return {
            "rc": os.waitstatus_to_exitcode(status),
            "wall_s": wall_s,
            "peak_rss_bytes": usage.ru_maxrss * 1024,
            "stdout": out.read().decode(),
            "stderr": err.read().decode()[-2000:],
        }


def score(document: dict[str, Any], hosts: list[PlantedHost]) -> dict[str, Any]:
    """Findings recovered vs planted: idle and oversized found, busy hosts flagged."""
    flagged: dict[str, set[str]] = {}
    for finding in document["findings"]:
        if finding["rule"] in HOST_RULES:
            instance = str(finding["device"]).split("/")[0]
            flagged.setdefault(finding["rule"], set()).add(instance)
        elif finding["rule"] == "CONSOLIDATE_HOSTS":
            for instance in finding["evidence"]["hosts"]:
                flagged.setdefault("CONSOLIDATE_HOSTS", set()).add(instance)
    kinds: dict[str, set[str]] = {}
    for host in hosts:
        kinds.setdefault(host.kind, set()).add(host.instance)
    any_host_rule = set().union(*(v for k, v in flagged.items() if k in HOST_RULES))
    busy_flagged = kinds.get("busy", set()) & (
        any_host_rule | flagged.get("CONSOLIDATE_HOSTS", set())
    )
    return {
        "idle_planted": len(kinds.get("idle", ())),
        "idle_found": len(kinds.get("idle", set()) & flagged.get("IDLE_HOST", set())),
        "oversized_planted": len(kinds.get("oversized", ())),
        "oversized_found": len(
            kinds.get("oversized", set()) & flagged.get("OVER_PROVISIONED_CPU", set())
        ),
        "busy_planted": len(kinds.get("busy", ())),
        "busy_flagged": len(busy_flagged),
        "bursty_flagged_by_host_rules": len(kinds.get("bursty", set()) & any_host_rule),
        "false_idle": len(flagged.get("IDLE_HOST", set()) - kinds.get("idle", set())),
        "false_oversized": len(
            flagged.get("OVER_PROVISIONED_CPU", set()) - kinds.get("oversized", set())
        ),
    }


def finwatt(*args: str) -> list[str]:
    """The finwatt command line with this interpreter."""
    return [sys.executable, "-m", "profiler", *args]


def measure_size(
    n_hosts: int, days: int, store_names: Sequence[str], workdir: Path
) -> list[dict[str, Any]]:
    """Load one fleet size into every store and time analyze and report against each."""
    hosts = plant(n_hosts)
    stores: list[Store] = []
    for name in store_names:
        kind = PrometheusStore if name == "prometheus" else VictoriaStore
        stores.append(kind(workdir / f"{name}-{n_hosts}"))
    rows: list[dict[str, Any]] = []
    try:
        began = time.perf_counter()
        loaded = load(stores, hosts, days)
        load_s = time.perf_counter() - began
        for store in stores:
            analyzed = measured(finwatt("analyze", "--prometheus", store.url, "--json"))
            row = {"hosts": n_hosts, "store": store.name, "command": "analyze"}
            row |= {k: analyzed[k] for k in ("rc", "wall_s", "peak_rss_bytes")}
            row["load_s"] = loaded[store.name]
            row["load_total_s"] = load_s
            if analyzed["rc"] == 0:
                document = json.loads(analyzed["stdout"])
                row |= score(document, hosts)
                row["hosts_read"] = document["metrics"]["fleet"].get("hosts_read")
            else:
                row["stderr"] = analyzed["stderr"]
            rows.append(row)
            html = workdir / f"fleet-{store.name}-{n_hosts}.html"
            reported = measured(finwatt("report", "--prometheus", store.url, "-o", str(html)))
            rows.append(
                {"hosts": n_hosts, "store": store.name, "command": "report"}
                | {k: reported[k] for k in ("rc", "wall_s", "peak_rss_bytes")}
            )
    finally:
        for store in stores:
            store.close()
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    """Print the table and the growth ratios (cost ratio / host ratio; <= 1 is linear)."""
    print(
        f"{'hosts':>6} {'store':<17} {'command':<8} {'rc':>3} {'wall s':>7} {'RSS MiB':>8} "
        f"{'read':>5} {'idle':>9} {'oversized':>9} {'busy flagged':>12}"
    )
    for r in rows:
        idle = f"{r.get('idle_found', '-')}/{r.get('idle_planted', '-')}"
        over = f"{r.get('oversized_found', '-')}/{r.get('oversized_planted', '-')}"
        busy = r.get("busy_flagged", "-")
        print(
            f"{r['hosts']:>6} {r['store']:<17} {r['command']:<8} {r['rc']:>3} "
            f"{r['wall_s']:>7.1f} {r['peak_rss_bytes'] / 2**20:>8.0f} "
            f"{r.get('hosts_read', '-')!s:>5} {idle:>9} {over:>9} {busy!s:>12}"
        )
    keyed = {(r["hosts"], r["store"], r["command"]): r for r in rows}
    sizes = sorted({r["hosts"] for r in rows})
    for store, command in sorted({(r["store"], r["command"]) for r in rows}):
        for small, large in itertools.pairwise(sizes):
            a, b = keyed.get((small, store, command)), keyed.get((large, store, command))
            if a is None or b is None:
                continue
            hosts_ratio = large / small
            time_ratio = b["wall_s"] / a["wall_s"]
            print(
                f"{store} {command} {small}->{large}: hosts x{hosts_ratio:.2f}, "
                f"time x{time_ratio:.2f} ({time_ratio / hosts_ratio:.2f} of linear), "
                f"RSS x{b['peak_rss_bytes'] / a['peak_rss_bytes']:.2f}"
            )


MeasureSize = Callable[[int, int, list[str], Path], list[dict[str, Any]]]
"""Measure one fleet size: (hosts, days, stores, workdir) -> table rows."""


@dataclass(frozen=True)
class SizedBenchmark:
    """A fleet benchmark: the shared `main` of `bench.fleet` and `bench.demand`.

    Attributes:
        doc: the benchmark module's docstring (its first line is the `--help` text).
        default_days: days of history planted unless `--days` says otherwise.
        prefix: the name prefix of the temporary work folder.
        measure: measures one fleet size.
        show: prints the table of the rows so far.
    """

    doc: str | None
    default_days: int
    prefix: str
    measure: MeasureSize
    show: Callable[[list[dict[str, Any]]], None]

    def main(self, argv: list[str] | None = None) -> int:
        """Parse the options, measure each size, print the table as it grows.

        `--json` writes the rows.
        """
        parser = argparse.ArgumentParser(description=(self.doc or "").splitlines()[0])
        parser.add_argument("--hosts", default="100,300,1000")
        parser.add_argument("--days", type=int, default=self.default_days)
        parser.add_argument("--stores", default="prometheus,victoria-metrics")
        parser.add_argument("--workdir", type=Path, default=None)
        parser.add_argument("--json", type=Path, default=None)
        args = parser.parse_args(argv)
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix=self.prefix))
        rows: list[dict[str, Any]] = []
        for n in (int(x) for x in args.hosts.split(",")):
            rows.extend(self.measure(n, args.days, args.stores.split(","), workdir))
            self.show(rows)
            sys.stdout.flush()
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return 0


main = SizedBenchmark(__doc__, 14, "finwatt-fleet-", measure_size, print_rows).main
"""Run the benchmark; print the table; optionally write the rows as JSON."""


if __name__ == "__main__":
    raise SystemExit(main())
