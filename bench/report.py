"""Report rendering time and size for a 24-hour, 1 Hz, 3-device run (target <= 10 s, <= 3 MB).

The run is written straight into a temporary SQLite store (not timed), then
`profiler.workflows.report.gather_report` + `reports.renderers.run.RunRenderer` are timed
together, as `finwatt report` runs them (without the analysis). Also prints 1 h and 6 h for
growth, and the 24 h report in zh-CN (CJK chart fonts).

Run: .venv/bin/python -m bench.report
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from profiler.model.device import DeviceInfo
from profiler.model.run import RunKind, RunStatus
from profiler.model.samples import SampleRow
from profiler.store.database import Store
from profiler.workflows.report import gather_report
from reports.renderers.run import RunRenderer, RunReport


def build(db: Path, hours: float) -> str:
    t = np.arange(0.0, hours * 3600.0)
    rng = np.random.default_rng(0)
    util = rng.random(t.size)
    with Store(db) as store:
        run = store.runs.create(
            RunKind.MONITOR, label=f"{hours:g}h", interval_s=1.0, status=RunStatus.RUNNING
        )
        store.devices.add(
            run.id,
            [
                DeviceInfo("host", "host", logical_cores=8),
                DeviceInfo("cpu:0", "cpu", provenance="measured:rapl"),
                DeviceInfo("dram:0", "dram", provenance="measured:rapl"),
            ],
        )
        for device, base in (("cpu:0", 60.0), ("dram:0", 8.0)):
            power = base + 40 * util
            energy = np.cumsum(power)
            store.samples.add(
                run.id,
                [
                    SampleRow(device, float(x), util=float(u), power_w=float(p), energy_j=float(e))
                    for x, u, p, e in zip(t, util, power, energy, strict=True)
                ],
            )
        store.samples.add(
            run.id,
            [SampleRow("host", float(x), util=float(u)) for x, u in zip(t, util, strict=True)],
        )
        store.runs.finish(run.id, RunStatus.COMPLETE)
    return run.id


def main() -> None:
    print(f"{'hours':>6} {'lang':>6} {'samples':>9} {'render s':>9} {'size MiB':>9}")
    for hours, lang in ((1.0, "en"), (6.0, "en"), (24.0, "en"), (24.0, "zh-CN")):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "b.db"
            run_id = build(db, hours)
            start = time.monotonic()
            with Store(db) as store:
                html = RunRenderer(lang=lang).render(RunReport(gather_report(store, run_id)))
            seconds = time.monotonic() - start
            samples = int(hours * 3600 * 3)
            size = len(html.encode()) / 2**20
            print(f"{hours:>6g} {lang:>6} {samples:>9,} {seconds:>9.2f} {size:>9.2f}")
    print("target (24 h): render <= 10 s, file <= 3 MB")


if __name__ == "__main__":
    main()
