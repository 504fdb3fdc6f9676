"""GPU check: a scripted matmul load (idle, full, idle, 50 % duty, idle) with its window edges.

The energy cross-check compares several energy sources over the same windows; this
module produces the load and says exactly when each window began and ended, on the
monotonic and the wall clock. The matmuls run on torch (CUDA) or, failing that, on
cupy. Torch tensors have no `.copy()` (that is numpy/cupy): the second operand is
`a.t().contiguous()` on torch and `a.T.copy()` on cupy.

A 50 % duty cycle is busy for half of every `PERIOD_S` (synchronised matmuls, the last
one started only if at least half of it fits) and asleep for the rest.

Run: python -m bench.gpu_load --out FILE [--scale 1.0]   (writes the windows as JSON)
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

#: (name, seconds, load): the cross-check's script.
SCHEDULE: tuple[tuple[str, float, float], ...] = (
    ("idle-1", 5.0, 0.0),
    ("full", 10.0, 1.0),
    ("idle-2", 5.0, 0.0),
    ("duty-50", 10.0, 0.5),
    ("idle-3", 5.0, 0.0),
)
PERIOD_S = 0.1
MATMUL_N = 4096  # ~3 ms per fp32 product on an H200: fine enough for a 50 ms half-period


@dataclass(frozen=True)
class Window:
    """One window of the script as it ran."""

    name: str
    load: float
    t0_mono: float
    t1_mono: float
    t0_wall: float
    t1_wall: float
    steps: int


@dataclass(frozen=True)
class Load:
    """A GPU load: `step` queues one matmul, `sync` waits for the device."""

    library: str
    step: Callable[[], object]
    sync: Callable[[], object]


def matmul_load(n: int = MATMUL_N) -> Load:
    """Build an fp32 n x n matmul load on torch (CUDA), else cupy.

    Raises:
        RuntimeError: neither torch with CUDA nor cupy is usable.

    """
    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch without CUDA")
        a = torch.randn(n, n, device="cuda")
        b = a.t().contiguous()  # torch has no .copy(): that was the old check's bug
        return Load("torch", lambda: torch.matmul(a, b), torch.cuda.synchronize)
    except (ImportError, OSError, RuntimeError) as torch_err:
        try:
            import cupy as cp

            x = cp.random.standard_normal((n, n), dtype=cp.float32)
            y = x.T.copy()
            return Load("cupy", lambda: cp.matmul(x, y), cp.cuda.Device().synchronize)
        except (ImportError, OSError, RuntimeError) as cupy_err:
            raise RuntimeError(f"no GPU load: torch: {torch_err}; cupy: {cupy_err}") from cupy_err


def run_schedule(
    schedule: Sequence[tuple[str, float, float]],
    load: Load,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    period_s: float = PERIOD_S,
) -> list[Window]:
    """Run each window at its load; return the windows with their true edges."""
    windows = []
    for name, seconds, level in schedule:
        t0, w0 = clock(), wall()
        end = t0 + seconds
        steps = 0
        if level >= 1.0:
            while clock() < end:
                for _ in range(4):
                    load.step()
                load.sync()
                steps += 4
        elif level > 0.0:
            period_start = t0
            step_s = 0.0  # the last step's time: stop when half a step would overrun
            while period_start < end:
                busy_until = min(end, period_start + level * period_s)
                while clock() + step_s / 2 < busy_until:
                    began = clock()
                    load.step()
                    load.sync()
                    step_s = clock() - began
                    steps += 1
                rest = min(end, period_start + period_s) - clock()
                if rest > 0:
                    sleep(rest)
                period_start += period_s
        else:
            rest = end - clock()
            if rest > 0:
                sleep(rest)
        load.sync()
        windows.append(Window(name, level, t0, clock(), w0, wall(), steps))
    return windows


def scaled(
    schedule: Sequence[tuple[str, float, float]], scale: float
) -> list[tuple[str, float, float]]:
    """The schedule with every window's length multiplied by `scale`."""
    return [(name, seconds * scale, level) for name, seconds, level in schedule]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    load = matmul_load()
    load.step()
    load.sync()  # warm up (cuBLAS handle, kernels) before the first window
    windows = run_schedule(scaled(SCHEDULE, args.scale), load)
    args.out.write_text(
        json.dumps({"library": load.library, "windows": [asdict(w) for w in windows]}, indent=2)
    )
    for w in windows:
        print(f"{w.name}: {w.t1_mono - w.t0_mono:.2f} s at load {w.load}, {w.steps} matmuls")


if __name__ == "__main__":
    main()
