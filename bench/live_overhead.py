"""The live view's own CPU use: process CPU time / wall time at a 1 s interval.

`finwatt live` runs in a real terminal (a detached tmux session, 100x30), drawing to it
as it would for an operator: sampler thread, refresh thread, key reader. After a warm-up
(imports, probing, the first frames), the view process's CPU time (user + system, from
psutil) is read at the start and the end of the window; the ratio to the window's wall
time is the share of one core the view costs.

Run: .venv/bin/python -m bench.live_overhead [--seconds 20] [--interval 1s]
Target (docs/live.md): <= 2% of one core at a 1 s interval.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(seconds: float, interval: str, warmup_s: float = 4.0) -> dict[str, float]:
    """Run `finwatt live` in tmux and return its CPU share over `seconds` after warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        tmux = ["tmux", "-S", str(Path(tmp) / "tmux.sock")]
        command = (
            f"cd {shlex.quote(str(ROOT))} && exec {shlex.quote(sys.executable)} -m profiler "
            f"live --interval {shlex.quote(interval)} --db {shlex.quote(str(Path(tmp) / 'f.db'))}"
        )
        subprocess.run(
            [*tmux, "new-session", "-d", "-x", "100", "-y", "30", "-s", "bench", command],
            check=True,
        )
        try:
            pid = int(
                subprocess.run(
                    [*tmux, "display-message", "-p", "-t", "bench", "#{pane_pid}"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            process = psutil.Process(pid)
            time.sleep(warmup_s)
            c0, w0 = _cpu_s(process), time.monotonic()
            time.sleep(seconds)
            c1, w1 = _cpu_s(process), time.monotonic()
            subprocess.run([*tmux, "send-keys", "-t", "bench", "q"], check=True)
            process.wait(timeout=5)
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
    return {
        "interval": float(interval.rstrip("s")),
        "wall_s": w1 - w0,
        "cpu_s": c1 - c0,
        "cpu_percent_of_one_core": 100.0 * (c1 - c0) / (w1 - w0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", default="1s")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("bench.live_overhead needs tmux (apt-get install tmux)")
    result = measure(args.seconds, args.interval)
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["cpu_percent_of_one_core"] <= 2.0 else "MISSES"
    print(
        f"finwatt live at {args.interval}: {result['cpu_percent_of_one_core']:.2f}% of one core "
        f"over {result['wall_s']:.1f} s ({verdict} the 2% target)"
    )


if __name__ == "__main__":
    main()
