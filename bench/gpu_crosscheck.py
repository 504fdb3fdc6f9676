"""GPU check, stage 4: energy of scripted load windows from every source, aligned at edges.

While `bench.gpu_load` runs idle, full, idle, 50 % duty, idle on the GPU, five sources
are recorded at once, each turned into a cumulative energy series on the wall clock:

- `counter`: NVML's total-energy counter (mJ), polled every `SAMPLE_S`: the reference;
- `instant`: NVML's instant power (`NVML_FI_DEV_POWER_INSTANT`), trapezoid-integrated;
- `average`: `nvmlDeviceGetPowerUsage` (a 1-s average on Hopper), trapezoid-integrated;
- `finwatt_monitor`: `finwatt monitor --interval 0.1s`'s stored `energy_j` of gpu:0
  (run start + t), i.e. what finwatt itself records;
- `smi_*`: `nvidia-smi -lms 100` power fields integrated, and its energy field where the
  driver knows one (`total_energy_consumption`; `energy.consumption` is not a field).

A window's energy is cumulative(t1) - cumulative(t0), each interpolated linearly at the
window's edges, so every source is judged over exactly the same seconds.

Run: python -m bench.gpu_crosscheck --out DIR [--finwatt CMD] [--scale 1.0]
(writes DIR/crosscheck.json and DIR/crosscheck.png). Tests drive the sampling and the
arithmetic with tests/fakes/fake_pynvml.py on a fake clock.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.gpu_load import SCHEDULE
from profiler.sensors.nvml.fields import average_power_w, instant_power_w
from profiler.sensors.nvml.library import NvmlError, NvmlLibrary

SAMPLE_S = 0.02
SMI_FIELDS = ("power.draw", "power.draw.instant", "power.draw.average")
SMI_ENERGY_FIELD = "total_energy_consumption"


@dataclass
class Series:
    """A cumulative energy series: joules since its first sample, by wall-clock time."""

    t_wall: list[float] = field(default_factory=list)
    energy_j: list[float] = field(default_factory=list)

    def at(self, t: float) -> float | None:
        """Cumulative energy at `t`, linearly interpolated; None outside the samples."""
        if len(self.t_wall) < 2 or not self.t_wall[0] <= t <= self.t_wall[-1]:
            return None
        i = bisect.bisect_left(self.t_wall, t)
        if self.t_wall[i] == t:
            return self.energy_j[i]
        t0, t1 = self.t_wall[i - 1], self.t_wall[i]
        e0, e1 = self.energy_j[i - 1], self.energy_j[i]
        return e0 + (e1 - e0) * (t - t0) / (t1 - t0)

    def between(self, t0: float, t1: float) -> float | None:
        """Energy from `t0` to `t1`, or None when either edge is outside the samples."""
        a, b = self.at(t0), self.at(t1)
        return None if a is None or b is None else b - a


def integrate(times: Sequence[float], watts: Sequence[float | None]) -> Series:
    """Trapezoid-integrate power samples (W) into a cumulative series; gaps are bridged."""
    series = Series()
    total = 0.0
    last: tuple[float, float] | None = None
    for t, w in zip(times, watts, strict=True):
        if w is None:
            continue
        if last is not None:
            total += (last[1] + w) / 2.0 * (t - last[0])
        series.t_wall.append(t)
        series.energy_j.append(total)
        last = (t, w)
    return series


def counter_series(times: Sequence[float], counter_mj: Sequence[int | None]) -> Series:
    """The energy counter as a cumulative series in joules from its first reading."""
    pairs = [(t, c) for t, c in zip(times, counter_mj, strict=True) if c is not None]
    if not pairs:
        return Series()
    base = pairs[0][1]
    return Series([t for t, _ in pairs], [(c - base) / 1000.0 for _, c in pairs])


def sample_nvml(
    lib: NvmlLibrary,
    handle: Any,
    until: Callable[[], bool],
    *,
    interval_s: float = SAMPLE_S,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, list[Any]]:
    """Poll counter, instant and averaged power every `interval_s` until `until()`."""
    rows: dict[str, list[Any]] = {"t_wall": [], "counter_mj": [], "instant_w": [], "average_w": []}
    reads: dict[str, Callable[[], Any]] = {
        "counter_mj": lambda: int(lib.call("nvmlDeviceGetTotalEnergyConsumption", handle)),
        "instant_w": lambda: instant_power_w(lib, handle),
        "average_w": lambda: average_power_w(lib, handle),
    }
    next_t = clock()
    while not until():
        rows["t_wall"].append(wall())
        for name, read in reads.items():
            try:
                rows[name].append(read())
            except NvmlError:
                rows[name].append(None)
        next_t += interval_s
        rest = next_t - clock()
        if rest > 0:
            sleep(rest)
    return rows


def monitor_series(db_path: Path, device_id: str = "gpu:0") -> Series:
    """The latest monitor run's cumulative energy of `device_id`, on the wall clock."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        run = db.execute(
            "SELECT id, started FROM run WHERE kind = 'monitor' ORDER BY started DESC LIMIT 1"
        ).fetchone()
        if run is None:
            return Series()
        started = datetime.fromisoformat(run[1].replace("Z", "+00:00")).timestamp()
        rows = db.execute(
            "SELECT t, energy_j FROM sample WHERE run_id = ? AND device_id = ? "
            "AND energy_j IS NOT NULL ORDER BY t",
            (run[0], device_id),
        ).fetchall()
    finally:
        db.close()
    return Series([started + t for t, _ in rows], [e for _, e in rows])


def smi_series(lines: str, fields: Sequence[str]) -> dict[str, Series]:
    """nvidia-smi `--format=csv,noheader,nounits` lines (timestamp, index, fields...) of GPU 0.

    Power fields become integrated series `smi_<field>`; the energy field (mJ) becomes
    `smi_energy` counted from its first value. `[N/A]`-style values are skipped.
    """
    times: list[float] = []
    columns: dict[str, list[float | None]] = {f: [] for f in fields}
    for line in lines.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 + len(fields) or parts[1] != "0":
            continue
        try:
            stamp = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
        except ValueError:
            continue
        times.append(stamp)
        for name, value in zip(fields, parts[2:], strict=True):
            columns[name].append(_number(value))
    result = {}
    for name, values in columns.items():
        if name == SMI_ENERGY_FIELD:
            result["smi_energy"] = counter_series(
                times, [None if v is None else int(v) for v in values]
            )
        else:
            result[f"smi_{name}"] = integrate(times, values)
    return result


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def window_table(
    windows: Sequence[dict[str, Any]], sources: dict[str, Series], reference: str = "counter"
) -> list[dict[str, Any]]:
    """Energy and mean power of every window from every source, and each source's error."""
    table = []
    for w in windows:
        t0, t1 = w["t0_wall"], w["t1_wall"]
        row: dict[str, Any] = {"window": w["name"], "load": w["load"], "seconds": t1 - t0}
        ref = sources[reference].between(t0, t1) if reference in sources else None
        for name, series in sources.items():
            energy = series.between(t0, t1)
            row[name] = {
                "energy_j": energy,
                "mean_w": None if energy is None else energy / (t1 - t0),
                "vs_counter": None if energy is None or not ref else (energy - ref) / ref,
            }
        table.append(row)
    return table


def plot(samples: dict[str, list[Any]], windows: Sequence[dict[str, Any]], path: Path) -> None:
    """Instant, averaged and counter-derived power over the script, windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = samples["t_wall"]
    if not t:
        return
    start = t[0]
    fig, ax = plt.subplots(figsize=(10, 4))
    for w in windows:
        ax.axvspan(w["t0_wall"] - start, w["t1_wall"] - start, alpha=0.08 + 0.2 * w["load"])
    for name, label in (("instant_w", "instant"), ("average_w", "average (1 s)")):
        pts = [(x - start, y) for x, y in zip(t, samples[name], strict=True) if y is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=label, linewidth=0.8)
    counter = counter_series(t, samples["counter_mj"])
    derived = [
        ((a + b) / 2 - start, (eb - ea) / (b - a))
        for a, b, ea, eb in zip(
            counter.t_wall,
            counter.t_wall[5:],
            counter.energy_j,
            counter.energy_j[5:],
            strict=False,
        )
        if b > a
    ]
    if derived:
        ax.plot(*zip(*derived, strict=True), label="counter dE/dt (0.1 s)", linewidth=0.8)
    ax.set_xlabel("s")
    ax.set_ylabel("W")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _smi_command(known: set[str]) -> list[str]:
    fields = [f for f in (*SMI_FIELDS, SMI_ENERGY_FIELD) if f in known]
    return [
        "nvidia-smi",
        f"--query-gpu=timestamp,index,{','.join(fields)}",
        "--format=csv,noheader,nounits",
        "-lms",
        "100",
    ]


def _record(
    lib: NvmlLibrary, finwatt: Sequence[str], smi_cmd: list[str], tmp: Path, scale: float
) -> tuple[dict[str, list[Any]], str, int | None]:
    """Run the load with every recorder going; (NVML samples, monitor JSON, load exit)."""
    total_s = sum(seconds for _, seconds, _ in SCHEDULE) * scale
    env = dict(os.environ, FINWATT_DB=str(tmp / "monitor.db"))
    # The monitor is stopped (SIGINT) once the load is over: the load's own start-up
    # (CUDA initialisation) makes its end hard to foresee.
    monitor_cmd = [*finwatt, "monitor", "--duration", f"{total_s + 90:.0f}s", "--interval", "0.1s"]
    children: list[subprocess.Popen[Any]] = []
    with (tmp / "smi.csv").open("w") as smi_out:
        try:
            monitor = subprocess.Popen(
                [*monitor_cmd, "--json"], stdout=subprocess.PIPE, text=True, env=env
            )
            children.append(monitor)
            try:
                children.append(subprocess.Popen(smi_cmd, stdout=smi_out, stderr=subprocess.STDOUT))
            except OSError as err:
                print(f"!! nvidia-smi not run: {err}")
            time.sleep(2.0)  # the recorders are going before the first window opens
            load = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.gpu_load",
                    "--out",
                    str(tmp / "load.json"),
                    "--scale",
                    str(scale),
                ],
            )
            children.append(load)
            handle = lib.call("nvmlDeviceGetHandleByIndex", 0)
            samples = sample_nvml(lib, handle, lambda: load.poll() is not None)
            time.sleep(1.0)
            monitor.send_signal(signal.SIGINT)
            monitor_json, _ = monitor.communicate(timeout=60)
            return samples, monitor_json, load.returncode
        finally:
            for child in children:  # a failed stage leaves nothing running
                if child.poll() is None:
                    child.terminate()
                    child.wait(timeout=10)  # fmt: skip


def run_stage(out: Path, finwatt: Sequence[str], scale: float) -> dict[str, Any]:
    """Run the load, the five recorders at once, and compare them window by window."""
    import pynvml

    from bench.gpu_facts import run_command, smi_fields

    known = smi_fields(run_command(["nvidia-smi", "--help-query-gpu"]))
    smi_cmd = _smi_command(known)
    smi_used = smi_cmd[1].split("=", 1)[1].split(",")[2:]
    tmp = Path(tempfile.mkdtemp(prefix="finwatt-crosscheck-"))
    lib = NvmlLibrary(pynvml)
    lib.call("nvmlInit")
    try:
        samples, monitor_json, load_exit = _record(lib, finwatt, smi_cmd, tmp, scale)
    finally:
        lib.call("nvmlShutdown")
    load_file = tmp / "load.json"
    windows = json.loads(load_file.read_text())["windows"] if load_file.exists() else []
    t = samples["t_wall"]
    sources = {
        "counter": counter_series(t, samples["counter_mj"]),
        "instant": integrate(t, samples["instant_w"]),
        "average": integrate(t, samples["average_w"]),
        "finwatt_monitor": monitor_series(tmp / "monitor.db"),
        **smi_series((tmp / "smi.csv").read_text(), smi_used),
    }
    plot(samples, windows, out / "crosscheck.png")
    return {
        "windows": windows,
        "table": window_table(windows, sources),
        "samples": len(t),
        "smi_fields": smi_used,
        "monitor": json.loads(monitor_json) if monitor_json.strip().startswith("{") else None,
        "load_exit": load_exit,
    }


def print_table(result: dict[str, Any]) -> None:
    """One line per window: each source's joules and its difference from the counter."""
    for row in result["table"]:
        parts = []
        for name, cell in row.items():
            if isinstance(cell, dict) and cell["energy_j"] is not None:
                vs = "" if cell["vs_counter"] is None else f" ({cell['vs_counter']:+.1%})"
                parts.append(f"{name} {cell['energy_j']:.1f} J{vs}")
        print(f"{row['window']} ({row['seconds']:.1f} s, load {row['load']}): " + "; ".join(parts))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--finwatt", default="finwatt", help="command that runs finwatt")
    parser.add_argument("--scale", type=float, default=1.0, help="window length factor")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_stage(args.out, args.finwatt.split(), args.scale)
    (args.out / "crosscheck.json").write_text(json.dumps(result, indent=2, default=str))
    print_table(result)
    if result["load_exit"] != 0:
        print(f"!! the GPU load failed (exit {result['load_exit']})")


if __name__ == "__main__":
    main()
