"""Workload throughput against limits measured in the same run on the same machine.

Run: .venv/bin/python -m bench.workloads [--seconds S] [--workers K]

- risk: scenarios/s against the composed limit of its parts at the same sizes, float32,
  one process per core with one BLAS thread each: normal generation (numpy's
  Generator.standard_normal, the generator the workload uses) + the Cholesky GEMM +
  exp over one block. Target ratio >= 0.75.
- inference: rows/s against float32 GEMM GFLOP/s at the model's layer shapes and batch
  rows, same processes and threads. Target ratio >= 0.55.
- ledger: bench.bench_ledger's main(), written beside this file by the ledger's owner.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import itertools
import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from workloads.base import Size
from workloads.inference import _BATCH_ROWS, WIDTHS
from workloads.pool import WorkerPool, usable_cores
from workloads.risk import _ASSETS, block_rows


def _time_each(parts: list[Callable[[], object]], seconds: float) -> list[float]:
    """Mean seconds per call of each part, each run for about seconds / len(parts)."""
    means = []
    for part in parts:
        part()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(parts):
            part()
            n += 1
        means.append((time.perf_counter() - start) / n)
    return means


def _risk_limit(seconds: float) -> float:
    """Scenarios/s of one process running only generation + GEMM + exp on one block."""
    d = _ASSETS[Size.STANDARD]
    rows = block_rows(d, "numpy")
    rng = np.random.default_rng(0)
    z = np.empty((rows, d), np.float32)
    x = np.empty_like(z)
    a = rng.random((d, d)).astype(np.float32) / d
    t_gen, t_gemm, t_exp = _time_each(
        [
            lambda: rng.standard_normal(out=z, dtype=np.float32),
            lambda: np.matmul(z, a, out=x),
            lambda: np.exp(z, out=x),
        ],
        seconds,
    )
    return rows / (t_gen + t_gemm + t_exp)


def _inference_limit(seconds: float) -> float:
    """GEMM FLOP/s of one process at the standard model's layer shapes."""
    widths = WIDTHS[Size.STANDARD]
    rows = _BATCH_ROWS[Size.STANDARD]
    rng = np.random.default_rng(0)
    ins = [rng.random((rows, k)).astype(np.float32) for k in widths[:-1]]
    ws = [rng.random((k, m)).astype(np.float32) for k, m in itertools.pairwise(widths)]
    outs = [np.empty((rows, m), np.float32) for m in widths[1:]]

    def gemms() -> None:
        for i, w, o in zip(ins, ws, outs, strict=True):
            np.matmul(i, w, out=o)

    (t,) = _time_each([gemms], seconds)
    flops = sum(2 * rows * w.shape[0] * w.shape[1] for w in ws)
    return flops / t


def _limit_worker(name: str, seconds: float, barrier: Any, out: Any) -> None:
    with threadpool_limits(limits=1, user_api="blas"):
        fn = _risk_limit if name == "risk" else _inference_limit
        fn(0.2)  # warm-up: page in buffers, load BLAS kernels
        barrier.wait()
        out.put(fn(seconds))


def _parallel_limit(name: str, processes: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_limit_worker, args=(name, seconds, barrier, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return float(total)


def _workload_rate(name: str, workers: int, seconds: float) -> float:
    with WorkerPool(name, "standard", "numpy", n_workers=workers, seed=1, blas_threads=1) as pool:
        return pool.calibrate(seconds / 3)


def _best_of(name: str, workers: int, seconds: float, repeats: int) -> tuple[float, float]:
    """Best workload rate and best limit over `repeats` alternating measurements.

    Alternating, and keeping the best of each, keeps a burst of load from another process
    on a shared machine from landing on one side of the ratio only.
    """
    rates, limits = [], []
    for _ in range(repeats):
        rates.append(_workload_rate(name, workers, seconds))
        limits.append(_parallel_limit(name, workers, seconds))
    return max(rates), max(limits)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="alternating measurements")
    parser.add_argument("--workers", type=int, default=usable_cores(), help="processes")
    args = parser.parse_args(argv)
    k, s = args.workers, args.seconds
    print(f"back end numpy (CPU), {k} worker process(es) x 1 BLAS thread, standard size")
    print(f"{'workload':<10} {'units/s':>12} {'limit':>12} {'ratio':>6}  target  limit is")

    risk, risk_limit = _best_of("risk", k, s, args.repeats)
    print(
        f"{'risk':<10} {risk:>12,.0f} {risk_limit:>12,.0f} {risk / risk_limit:>6.2f}  >=0.75"
        "  scenarios/s of normal gen + GEMM + exp, same block"
    )

    rows, flops = _best_of("inference", k, s, args.repeats)
    widths = WIDTHS[Size.STANDARD]
    per_row = sum(2 * a * b for a, b in itertools.pairwise(widths))
    row_limit = flops / per_row
    print(
        f"{'inference':<10} {rows:>12,.0f} {row_limit:>12,.0f} {rows / row_limit:>6.2f}  >=0.55"
        f"  rows/s at {flops / 1e9:.1f} GFLOP/s float32 GEMM, model shapes"
    )

    try:
        ledger = importlib.import_module("bench.bench_ledger")
    except ImportError as err:
        print(f"ledger: bench.bench_ledger not importable ({err})")
        return
    ledger_main = getattr(ledger, "main", None)
    if ledger_main is None:
        print("ledger: bench.bench_ledger has no main()")
        return
    print("ledger (bench.bench_ledger):", flush=True)
    ledger_main([]) if inspect.signature(ledger_main).parameters else ledger_main()


if __name__ == "__main__":
    main()
