"""Start-up cost of the CLI: `finwatt --version`, `-h` and `runs` vs `python -c pass`.

Each figure is the median over interleaved rounds (one run of every command per round,
so a load change on the host touches them alike) of the child's CPU time (user +
system, from `os.wait4`'s rusage, microsecond resolution) and its wall time. The
reference, `python -c pass`, runs with the same interpreter in the same rounds; each
figure is printed with its ratio to it. `runs` reads a small database made here (two
imported runs).

Run: .venv/bin/python -m bench.startup [--rounds 15] [--json] [--tree OTHER_CHECKOUT]
Targets (docs/benchmarks.md#start-up): `--version` and `-h` at most 3 x the reference's
CPU time, `runs` at most 6 x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = "import sys; sys.argv[0] = 'finwatt'; from profiler.cli import main; sys.exit(main())"
"""What the `finwatt` console script runs (so `--tree` can point it at another checkout)."""
TARGETS = {"--version": 3.0, "-h": 3.0, "runs": 6.0}


def _document(run_id: str, hour: int) -> dict[str, object]:
    return {
        "format": "finwatt-run",
        "version": 1,
        "run": {
            "id": run_id,
            "kind": "monitor",
            "host": "h",
            "started": f"2026-11-01T{hour:02d}:00:00Z",
            "ended": f"2026-11-01T{hour:02d}:00:10Z",
            "status": "complete",
            "interval_s": 1.0,
            "config": {},
        },
        "devices": [{"id": "cpu:0", "kind": "cpu", "logical_cores": 4}],
        "samples": [{"t": float(t), "device": "cpu:0", "util": 0.5} for t in range(11)],
        "phases": [],
        "findings": [],
    }


def _small_db(folder: Path, env: dict[str, str]) -> None:
    for hour, run_id in enumerate(("a", "b")):
        path = folder / f"{run_id}.json"
        path.write_text(json.dumps(_document(run_id, hour)))
        command = [sys.executable, "-c", ENTRY, "import", str(path)]
        subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True)


def _one(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `command` once; return (CPU s, wall s) of the child alone."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=env["XDG_CONFIG_HOME"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench.startup: {command} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def measure(rounds: int, tree: Path | None = None) -> dict[str, dict[str, float]]:
    """Return {name: {cpu_s, wall_s, cpu_ratio, wall_ratio}}, medians of interleaved runs.

    Args:
        rounds: runs of each command.
        tree: another checkout's root to import finwatt from (a "before" figure), or None.
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FINWATT_DB": str(Path(tmp) / "f.db"),
            "XDG_CONFIG_HOME": tmp,
            "COLUMNS": "100",
        }
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
        _small_db(Path(tmp), env)
        finwatt = [sys.executable, "-c", ENTRY]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "--version": [*finwatt, "--version"],
            "-h": [*finwatt, "-h"],
            "runs": [*finwatt, "runs"],
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                samples[name].append(_one(command, env))
    medians = {
        name: (statistics.median(c for c, _ in s), statistics.median(w for _, w in s))
        for name, s in samples.items()
    }
    ref_cpu, ref_wall = medians["python -c pass"]
    return {
        name: {
            "cpu_s": cpu,
            "wall_s": wall,
            "cpu_ratio": cpu / ref_cpu,
            "wall_ratio": wall / ref_wall,
        }
        for name, (cpu, wall) in medians.items()
    }


def main() -> None:
    """Print each figure and its ratio to `python -c pass`, measured in the same run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tree", type=Path, help="import finwatt from this checkout instead")
    args = parser.parse_args()
    figures = measure(args.rounds, args.tree)
    if args.json:
        print(json.dumps({"load_1m": os.getloadavg()[0], "figures": figures}, indent=2))
        return
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}; medians of {args.rounds} rounds")
    print(f"{'command':16} {'CPU s':>8} {'x ref':>6} {'wall s':>8} {'x ref':>6}  target")
    for name, f in figures.items():
        target = TARGETS.get(name)
        verdict = (
            ""
            if target is None
            else f"<= {target:g} x: " + ("met" if f["cpu_ratio"] <= target else "MISSED")
        )
        print(
            f"{name:16} {f['cpu_s']:8.3f} {f['cpu_ratio']:6.2f} {f['wall_s']:8.3f} "
            f"{f['wall_ratio']:6.2f}  {verdict}"
        )


if __name__ == "__main__":
    main()
