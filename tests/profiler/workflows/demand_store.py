"""Real SQLite stores holding four weeks of 5-minute monitoring, written by the store's writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.samples import SampleRow
from profiler.model.units import epoch_to_iso
from profiler.store.database import Store
from tests.profiler.analysis.demand_series import (
    LONDON,
    START,
    STEP_S,
    Busy,
    local_util,
    power_of,
    sample_times,
)

HOST = "demand-host"
WEEKS = 4
NOW_S = START + WEEKS * 7 * 86_400.0
SINCE_S = WEEKS * 7 * 86_400.0
IDLE_UTIL = 0.02
IDLE_W, MAX_W = 60.0, 160.0


def write_host(
    path: Path,
    busy: Busy,
    busy_util: float,
    idle_util: float = IDLE_UTIL,
    *,
    host: str = HOST,
    cores: int = 4,
    weeks: float = WEEKS,
    start: float = START,
) -> Path:
    """Write one monitor run of `host` (a `host` device and a measured `cpu:0`) to `path`.

    The CPU package draws the linear power of the host's utilisation (60 W idle, 160 W
    flat out), measured by RAPL. Samples every 5 minutes from `start` (default Monday
    2 November 2026 00:00 UTC).
    """
    t = sample_times(weeks, start)
    util = local_util(t, LONDON, busy, busy_util, idle_util)
    power = power_of(util, IDLE_W, MAX_W)
    with Store(path) as store:
        run = store.runs.create(
            "monitor",
            interval_s=STEP_S,
            started=epoch_to_iso(start),
            host=host,
            status="running",
        )
        store.devices.add(
            run.id,
            [
                DeviceInfo("host", "host", logical_cores=cores, mem_total_bytes=16 * 2**30),
                DeviceInfo("cpu:0", "cpu", logical_cores=cores, provenance="measured:rapl"),
            ],
        )
        rel = t - start
        rows = [
            SampleRow("host", float(ti), util=float(u), mem_used_bytes=2**32)
            for ti, u in zip(rel, util, strict=True)
        ]
        rows += [
            SampleRow("cpu:0", float(ti), util=float(u), power_w=float(p))
            for ti, u, p in zip(rel, util, power, strict=True)
        ]
        store.samples.add(run.id, rows)
        store.runs.finish(run.id, "complete", ended=epoch_to_iso(float(t[-1])))
    return path


def idle_power_w(idle_util: float = IDLE_UTIL) -> float:
    """Return the CPU package's power at the idle utilisation."""
    return float(power_of(np.array([idle_util]), IDLE_W, MAX_W)[0])
