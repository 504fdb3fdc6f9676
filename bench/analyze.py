"""Analyzer speed: 1, 7 and 14 days of 1-second samples for 4 devices, loaded and assessed.

Target (docs/benchmarks.md#benchmark-record): 14 days (~4.8 M samples) analysed in <= 5 s,
<= 2 GiB peak memory.
Each database is written directly with executemany in chunks (tick-interleaved, as the
sampler writes), its minute rollups built as `finwatt import` builds them (one
`refresh_minutes` over the run, timed as "rollup s"), then analysed in a fresh process so
peak RSS is the analysis's own. `--source raw` analyses the raw samples instead (the
analyzer before rollups).

    .venv/bin/python -m bench.analyze [--days 1,7,14] [--source auto|raw|minute]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from profiler.analysis.thresholds import Thresholds  # noqa: E402
from profiler.model.device import DeviceInfo  # noqa: E402
from profiler.model.run import RunKind, RunStatus  # noqa: E402
from profiler.model.savings import Site  # noqa: E402
from profiler.store.database import Store  # noqa: E402
from profiler.store.rollup import refresh_minutes  # noqa: E402
from profiler.workflows.analyze import analyze_run  # noqa: E402
from profiler.workflows.run_data import Source, load_run_data  # noqa: E402

DEVICES = (
    DeviceInfo("host", "host", logical_cores=64, mem_total_bytes=512 * 2**30),
    DeviceInfo("cpu:0", "cpu", logical_cores=64, power_limit_w=280.0, provenance="measured:rapl"),
    DeviceInfo("dram:0", "dram", provenance="measured:rapl"),
    DeviceInfo(
        "gpu:0",
        "gpu",
        mem_total_bytes=80 * 2**30,
        power_limit_w=700.0,
        provenance="measured:nvml-energy",
    ),
)
CHUNK_S = 20_000


def build(path: Path, days: int) -> int:
    n = days * 86_400
    rng = np.random.default_rng(1)
    with Store(path) as store:
        run = store.runs.create(
            RunKind.MONITOR, run_id="bench", status=RunStatus.COMPLETE, host="bench"
        )
        store.devices.add(run.id, DEVICES)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    for start in range(0, n, CHUNK_S):
        t = np.arange(start, min(n, start + CHUNK_S), dtype=np.float64) + 1.0
        k = t.size
        util = np.clip(0.08 + 0.04 * rng.standard_normal(k), 0, 1)
        cpu_w = 60.0 + 200.0 * util
        gpu_util = np.clip(0.1 + 0.05 * rng.standard_normal(k), 0, 1)
        gpu_w = 70.0 + 500.0 * gpu_util
        none = [None] * k
        rows = []
        for device, cols in (
            ("host", (util, none, none, (100e9 + 1e9 * util).astype(np.int64).tolist(), none)),
            ("cpu:0", (util, cpu_w, cpu_w.cumsum() + 0.0, none, none)),
            ("dram:0", (none, np.full(k, 12.0), 12.0 * t, none, none)),
            ("gpu:0", (gpu_util, gpu_w, gpu_w.cumsum(), np.full(k, 4e9), gpu_util * 0.8)),
        ):
            cols = [c.tolist() if isinstance(c, np.ndarray) else c for c in cols]
            rows.append(
                [("bench", device, tt, *vals) for tt, *vals in zip(t.tolist(), *cols, strict=True)]
            )
        interleaved = [r for tick in zip(*rows, strict=True) for r in tick]
        conn.executemany(
            "INSERT INTO sample (run_id, device_id, t, util, power_w, energy_j, mem_used_bytes, "
            "sm_active) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            interleaved,
        )
        conn.commit()
    conn.close()
    return n * len(DEVICES)


def rollup(path: Path) -> None:
    with Store(path) as store, store.transaction() as tx:
        refresh_minutes(tx, "bench")


def analyse(path: Path, source: Source) -> dict[str, Any]:
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Store(path) as store:
        run = store.runs.get("bench")
        assert run is not None
        t0 = time.perf_counter()
        result = analyze_run(store, run, Site(), Thresholds(), source=source)
        total_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_run_data(store, run, source=source)
        load_s = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "load_s": load_s,
        "analyze_s": total_s,
        "assess_s": total_s - load_s,
        "peak_rss_mib": peak_kib / 1024,
        "rss_before_mib": base_kib / 1024,
        "findings": [f.rule for f in result.assessment.findings],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", default="1,7,14")
    parser.add_argument("--source", default="auto", choices=("auto", "raw", "minute"))
    parser.add_argument("--analyse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.analyse:
        print(json.dumps(analyse(args.analyse, args.source)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{'days':>4} {'samples':>10} {'build s':>8} {'rollup s':>8} {'load s':>7} "
            f"{'assess s':>8} {'analyse s':>9} {'/ 5 s':>6} {'peak RSS MiB':>12}  findings"
        )
        for days in (int(d) for d in args.days.split(",")):
            path = Path(tmp) / f"bench-{days}.db"
            t0 = time.perf_counter()
            samples = build(path, days)
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            rollup(path)
            rollup_s = time.perf_counter() - t0
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.analyze",
                    "--analyse",
                    str(path),
                    "--source",
                    args.source,
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            r = json.loads(out.stdout)
            print(
                f"{days:>4} {samples:>10,} {build_s:>8.1f} {rollup_s:>8.1f} {r['load_s']:>7.3f} "
                f"{r['assess_s']:>8.3f} {r['analyze_s']:>9.3f} {r['analyze_s'] / 5:>6.3f} "
                f"{r['peak_rss_mib']:>12.0f}  {','.join(r['findings'])}",
                flush=True,
            )
        print(
            f"source {args.source}; target for 14 days: analyse <= 5 s, peak RSS <= 2048 MiB "
            "(analyse s includes loading from SQLite; load s is that part alone, timed once "
            "more; assess s = analyse - load)"
        )


if __name__ == "__main__":
    main()
