"""`finwatt exec`'s own cost: its fixed cost per job, and following a job's tree per tick.

- Fixed cost: CPU time (user + system, `os.wait4` rusage of the whole tree) of `finwatt
  exec -- true` minus that of `true` run directly, medians of interleaved rounds.
- Sampling: the CPU time one `read_tree` of a running job (a root and two children)
  costs, x 1 tick per second, as a percentage of a core; the reference is one bare
  /proc/stat read (what a minimal sampler thread does each tick), measured in the same
  run. `--others N` first starts N sleeping processes, to show that reading the tree
  does not grow with the host's process count.

Run: .venv/bin/python -m bench.exec_cost [--rounds 7] [--others 0]
Targets (docs/benchmarks.md#exec-cost): fixed cost <= 0.25 CPU s per job; sampling at
1 s <= 0.3 % of a core, independent of the processes the host runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from profiler.sensors.job_tree import read_tree

FINWATT = str(Path(sys.executable).with_name("finwatt"))
TREE = (
    "import subprocess, time; [subprocess.Popen(['sleep', '60']) for _ in range(2)]; time.sleep(60)"
)


def _cpu_of(command: list[str], env: dict[str, str]) -> float:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def fixed_cost(rounds: int) -> tuple[float, float]:
    """Return (finwatt exec -- true, true) median CPU s, interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FINWATT_DB": str(Path(tmp) / "f.db"), "XDG_CONFIG_HOME": tmp}
        runs: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            runs[0].append(_cpu_of([FINWATT, "exec", "--", "true"], env))
            runs[1].append(_cpu_of(["true"], env))
    return statistics.median(runs[0]), statistics.median(runs[1])


def _per_call_s(call: object, n: int) -> float:
    t0 = time.thread_time()
    for _ in range(n):
        call()  # type: ignore[operator]
    return (time.thread_time() - t0) / n


def sampling(others: int, calls: int = 300) -> tuple[float, float, int]:
    """Return (read_tree CPU s, bare /proc/stat read CPU s) per call, and live processes."""
    sleepers = [subprocess.Popen(["sleep", "120"]) for _ in range(others)]
    job = subprocess.Popen([sys.executable, "-c", TREE])
    try:
        time.sleep(1.0)
        fd = os.open("/proc/stat", os.O_RDONLY)
        try:
            tree_s = _per_call_s(lambda: read_tree(job.pid), calls)
            bare_s = _per_call_s(lambda: os.pread(fd, 65536, 0), calls)
        finally:
            os.close(fd)
        alive = sum(1 for entry in os.scandir("/proc") if entry.name.isdigit())
    finally:
        for proc in [job, *sleepers]:
            proc.kill()
            proc.wait()
    return tree_s, bare_s, alive


def main() -> None:
    """Print both figures and their ratios to the references measured in the same run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--others", type=int, default=0)
    args = parser.parse_args()
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    exec_s, true_s = fixed_cost(args.rounds)
    extra = exec_s - true_s
    verdict = "met" if extra <= 0.25 else "MISSED"
    print(f"fixed cost: exec -- true {exec_s:.3f} CPU s, true {true_s:.3f} s: +{extra:.3f} s a job")
    print(f"  target <= 0.25 CPU s: {verdict} (ratio to target {extra / 0.25:.2f})")
    tree_s, bare_s, alive = sampling(args.others)
    pct = tree_s * 100  # one tick a second: CPU s per s = fraction of a core
    print(
        f"sampling at 1 s, {alive} /proc entries: read_tree {tree_s * 1e6:.0f} us/tick = "
        f"{pct:.4f} % of a core; bare /proc/stat read {bare_s * 1e6:.0f} us "
        f"(ratio {tree_s / bare_s:.1f}); target <= 0.3 %: {'met' if pct <= 0.3 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
