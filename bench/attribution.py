"""Attribution CPU cost at 1 Hz with 500 processes alive (`monitor --attribute`).

Spawns `--processes` sleeping processes (`sleep`), then runs the real sampler at 1 Hz on
this machine's sensors with the `Attributor` as a sink (real /proc process table, cgroup
recognition, minute rows stored in a real SQLite file) and measures the sink's CPU time
per tick (`time.thread_time()` around each call, on the sampler thread). The reference,
measured in the same run over the same processes: `psutil.process_iter` asking for what
the attributor reads (ppid, name, cpu_times, memory_info), timed the same way.

Run: .venv/bin/python -m bench.attribution [--seconds 30] [--processes 500] [--json]
Target (docs/benchmarks.md#benchmark-record): <= 1 % of one core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from profiler.capture.attribution import Attributor
from profiler.capture.sampler import Sampler
from profiler.model.run import RunKind
from profiler.model.samples import Tick
from profiler.sensors.probe import probe_sensors
from profiler.store.database import Store

TARGET_PCT = 1.0


def _timed(sink: Callable[[Tick], None], costs: list[float]) -> Callable[[Tick], None]:
    def timed(tick: Tick) -> None:
        c0 = time.thread_time()
        sink(tick)
        costs.append(time.thread_time() - c0)

    return timed


def _psutil_reference(tick: Tick) -> None:
    for proc in psutil.process_iter(["ppid", "name", "cpu_times", "memory_info"]):
        _ = proc.info


def _sample(sink: Callable[[Tick], None], seconds: float) -> list[float]:
    sensors = probe_sensors()
    costs: list[float] = []
    sampler = Sampler(sensors.families, sensors.family_devices, 1.0, [_timed(sink, costs)])
    try:
        sampler.start()
        time.sleep(seconds)
        sampler.stop()
    finally:
        sensors.close()
    return costs


def measure(seconds: float, processes: int) -> dict[str, Any]:
    """Spawn the sleepers, time the attributor and the psutil reference, return figures."""
    sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(processes)]
    try:
        alive = len(psutil.pids())
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "b.db"
            with Store(db) as store:
                run = store.runs.create(RunKind.MONITOR, interval_s=1.0)
            sensors = probe_sensors()
            devices = list(sensors.devices)
            sensors.close()

            def store_rows(rows: list[Any]) -> None:
                with Store(db) as s:
                    s.attribution.add(run.id, rows)

            attributor = Attributor(devices, row_sink=store_rows)
            ours = _sample(attributor.observe, seconds)
            attributor.flush()
        reference = _sample(_psutil_reference, seconds)
    finally:
        for p in sleepers:
            p.kill()
        for p in sleepers:
            p.wait()
    ours_ms = 1000 * sum(ours) / len(ours)
    ref_ms = 1000 * sum(reference) / len(reference)
    pct = ours_ms / 1000 * 100  # one tick a second: CPU s per tick = share of one core
    return {
        "processes_alive": alive,
        "ticks": len(ours),
        "attribution_ms_per_tick": round(ours_ms, 3),
        "attribution_pct_of_core_at_1hz": round(pct, 3),
        "ratio_to_target_1pct": round(pct / TARGET_PCT, 3),
        "psutil_process_iter_ms_per_tick": round(ref_ms, 3),
        "ratio_to_psutil": round(ours_ms / ref_ms, 3),
        "max_ms_per_tick": round(1000 * max(ours), 3),
    }


def main() -> None:
    """Print the figures (a table, or JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.seconds, args.processes)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:34} {value}")


if __name__ == "__main__":
    main()
