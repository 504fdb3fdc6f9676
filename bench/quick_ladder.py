"""How often the README's main job, `finwatt run --quick`, gives EP and IPR (not a timed test).

Runs `finwatt run --quick --json` N times (each into its own temporary database, through
the same CLI a user runs) and prints, per run, the load average before it and, per
workload, whether EP and IPR came out, what units/J it gave and what was shared; then how
often EP and IPR came out over all runs. On a quiet machine every run should give them
(docs/methodology.md#ladder-and-validity); on a busy shared one the disturbed phases
still give the workload's own figures (`attributed:cpu-time(...)`) and the summary
says what was shared.

Run: .venv/bin/python -m bench.quick_ladder [--runs 3] [--workload risk ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def one_run(workloads: list[str]) -> tuple[dict[str, Any], float]:
    """Run the quick ladder once; return its JSON document and its wall time in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FINWATT_DB": str(Path(tmp) / "q.db")}
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "profiler", "run", *workloads, "--quick", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall_s = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"finwatt run --quick failed ({done.returncode}): {done.stderr[-2000:]}")
    document: dict[str, Any] = json.loads(done.stdout)
    return document, wall_s


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workload", action="append", default=[])
    args = parser.parse_args()
    with_ep = with_ipr = ladders = 0
    for k in range(1, args.runs + 1):
        load = os.getloadavg()
        document, wall_s = one_run(args.workload)
        disturbed = sum(1 for p in document["phases"] if p["disturbed"])
        print(
            f"run {k}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {wall_s:.1f} s; "
            f"{disturbed} of {len(document['phases'])} phases disturbed"
        )
        for s in document["summary"]:
            ladders += 1
            with_ep += s["ep"] is not None
            with_ipr += s["ipr"] is not None
            units_per_j = s["overall_units_per_j"] or s.get("attributed_units_per_j")
            ep, ipr = _fmt(s["ep"], ".3f"), _fmt(s["ipr"], ".3f")
            shared = s.get("shared_host") or ""
            print(
                f"  {s['workload']:<10} EP {ep:>6}  IPR {ipr:>6}"
                f"  units/J {_fmt(units_per_j, ',.0f'):>10}  {shared.split(';')[0]}"
            )
    print(
        f"EP came out for {with_ep} of {ladders} ladders, IPR for {with_ipr} of {ladders} "
        f"({args.runs} runs, {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
