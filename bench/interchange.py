"""Import/export speed of the run interchange format: N days of 1-s samples, 4 devices.

    .venv/bin/python -m bench.interchange --days 14

Prints seconds and samples/s for each step (parse, validate, write) and the peak
resident memory of the process. Not run by CI.
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from profiler.store import Store
from profiler.store.interchange import import_run, parse_document, validate_document, write_json
from tests.fakes.history import write_history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=14.0)
    args = parser.parse_args()
    seconds = int(args.days * 86400)
    t = np.arange(seconds, dtype=np.float64)
    rng = np.random.default_rng(1)
    util = rng.random(seconds)
    power = 50.0 + 200.0 * util
    series = {
        "host": {"util": util, "mem_used_bytes": np.full(seconds, 2**34)},
        "cpu:0": {"util": util, "power_w": power, "energy_j": np.cumsum(power)},
        "dram:0": {"power_w": power / 10, "energy_j": np.cumsum(power / 10)},
        "gpu:0": {
            "util": util,
            "power_w": power * 2,
            "energy_j": np.cumsum(power * 2),
            "mem_used_bytes": np.full(seconds, 2**33),
            "temperature_c": np.full(seconds, 55.0),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.json"
        t0 = time.perf_counter()
        n = write_history(path, list(series), t, series, run_id="bench")
        size_mb = path.stat().st_size / 1e6
        print(
            f"{args.days:g} days, {n} samples, {size_mb:.0f} MB: "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        doc = parse_document(path.read_bytes())
        parse_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        validate_document(doc)
        validate_s = time.perf_counter() - t0
        with Store(Path(tmp) / "f.db") as store:
            t0 = time.perf_counter()
            run_id = import_run(store, doc)  # validates again, then writes
            import_s = time.perf_counter() - t0
            del doc
            t0 = time.perf_counter()
            sink = io.StringIO()
            write_json(store, run_id, sink)
            export_s = time.perf_counter() - t0
        write_s = import_s - validate_s
        total = parse_s + import_s
        for step, s in (
            ("parse JSON", parse_s),
            ("validate", validate_s),
            ("write to SQLite", write_s),
            ("file -> stored (parse + import_run)", total),
            ("export JSON", export_s),
        ):
            print(f"  {step:38s} {s:7.1f} s  {n / s:12,.0f} samples/s")
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
