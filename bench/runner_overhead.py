"""Parent-process CPU use of `finwatt run` during phases (target < 2 % of one core at 1 s).

Runs the ledger workload at 100 % and active idle for `--seconds` each, in-process through
the same `run_profile` the CLI uses, and measures the parent's CPU time (sampler, writer,
pool control; the workers are children and not counted) over each phase's wall time.

Run: .venv/bin/python -m bench.runner_overhead [--seconds 20] [--interval 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from profiler.capture.recording import Recording
from profiler.capture.runner import RunPlan, run_profile
from profiler.model.run import PhaseRecord, RunKind
from profiler.sensors.probe import probe_sensors


class Meter:
    """Progress listener that times the parent's CPU over each load level."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self._start: tuple[float, float] | None = None
        self._what = ""

    def stage(self, workload: str, device: str, what: str, seconds: float) -> None:
        self._what = what
        self._start = (time.process_time(), time.monotonic())

    def phase_done(self, phase: PhaseRecord) -> None:
        assert self._start is not None
        cpu0, wall0 = self._start
        self.rows.append((self._what, time.process_time() - cpu0, time.monotonic() - wall0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sensors = probe_sensors()
        plan = RunPlan(
            workloads=("ledger",),
            devices=("cpu",),
            levels=(1.0, 0.0),
            phase_seconds=args.seconds,
            calibration_interval_s=2.0,
            size="standard",
            interval_s=args.interval,
        )
        cpus = [d.device_id for d in sensors.devices if d.kind == "cpu"]
        recording = Recording(
            Path(tmp) / "b.db", sensors, kind=RunKind.PROFILE, interval_s=args.interval
        )
        meter = Meter()
        run_profile(recording, plan, cpu_devices=cpus, progress=meter)
    print(f"{'level':>6} {'parent CPU s':>13} {'wall s':>8} {'% of one core':>14}")
    for what, cpu_s, wall_s in meter.rows:
        print(f"{what:>6} {cpu_s:>13.4f} {wall_s:>8.2f} {100 * cpu_s / wall_s:>14.3f}")
    print(f"target: < 2 % of one core at a {args.interval:g} s sampling interval")


if __name__ == "__main__":
    main()
