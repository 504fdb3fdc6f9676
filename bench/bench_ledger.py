"""Ledger throughput against hashlib's per-call limit and OpenSSL's raw SHA-256 speed.

Run: .venv/bin/python -m bench.bench_ledger [--seconds S] [--size standard]

Figures, each with 1 process and with one process per logical core (multiprocessing,
spawn: hashlib holds the GIL for messages under 2 KiB, so threads would not scale):
- ledger transactions/s and MiB/s of transaction records sealed into blocks;
- the hashlib limit: a tight loop of sha256(msg).digest() over the same messages a block
  hashes (N leaf inputs of 1 + record bytes, N - 1 node inputs of 65 bytes, one 72-byte
  header), pre-built in memory; ledger / limit should be >= 0.85;
- OpenSSL: SHA-256 input bytes/s of the ledger against `openssl speed -evp sha256` at its
  largest block (16 KiB). Per-call overhead caps this near 0.3 for messages this small: on
  a SHA-NI core a 257-byte hashlib call takes ~0.44 us, of which ~0.2 us is compressing
  its five 64-byte blocks. The `cap` column prints the hashlib limit's own ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import time
from multiprocessing.synchronize import Barrier
from typing import Any

import numpy as np

from workloads.base import Backend
from workloads.ledger import LedgerWorkload

MIB = 2**20
NODE_MSG_BYTES = 65
HEADER_BYTES = 72


def _message_bytes_per_block(tx: int, record_bytes: int) -> int:
    return tx * (1 + record_bytes) + (tx - 1) * NODE_MSG_BYTES + HEADER_BYTES


def _limit_messages(tx: int, record_bytes: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    leaves = [rng.bytes(1 + record_bytes) for _ in range(tx)]
    nodes = [rng.bytes(NODE_MSG_BYTES) for _ in range(tx - 1)]
    return [*leaves, *nodes, rng.bytes(HEADER_BYTES)]


def _worker(
    size: str, seed: int, seconds: float, slice_s: float, barrier: Barrier, out: Any
) -> None:
    """Alternate slices of ledger blocks and of the hashlib limit loop; report both rates.

    Interleaving short slices in one process means a neighbour's burst on a shared host
    slows both sides of the ratio alike instead of one of them.
    """
    work = LedgerWorkload()
    work.prepare(size, seed, Backend("numpy", "cpu", np))
    tx = work.tx_per_block
    msgs = _limit_messages(tx, work.record_bytes, seed + 1)
    sha = hashlib.sha256
    digest = type(sha()).digest

    def loop() -> list[bytes]:
        return [sha(m).digest() for m in msgs]

    def mapped() -> list[bytes]:
        return list(map(digest, map(sha, msgs)))

    # The limit is the faster of the two tightest Python forms, so the ratio is not
    # flattered by a slow reference loop.
    limit, best_s = loop, float("inf")
    for style in (loop, mapped, loop, mapped):
        t0 = time.perf_counter()
        style()
        if (took := time.perf_counter() - t0) < best_s:
            limit, best_s = style, took
    work.run_batch()
    barrier.wait()
    ledger_units = limit_units = 0
    ledger_s = limit_s = 0.0
    while ledger_s < seconds or limit_s < seconds:
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < slice_s:
            ledger_units += work.run_batch()
        ledger_s += elapsed
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < slice_s:
            limit()
            limit_units += tx
        limit_s += elapsed
    out.put((ledger_units / ledger_s, limit_units / limit_s))


def _run_parallel(size: str, seconds: float, processes: int) -> tuple[float, float]:
    """Run `processes` spawned workers; return summed ledger and limit transactions/s."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes)
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(size, 10 * i, seconds, 0.2, barrier, out))
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    return float(sum(r[0] for r in results)), float(sum(r[1] for r in results))


def openssl_sha256_bytes_per_s(processes: int) -> float | None:
    """Return OpenSSL's SHA-256 bytes/s at its largest block size, or None if unavailable."""
    exe = shutil.which("openssl")
    if exe is None:
        return None
    cmd = [exe, "speed", "-evp", "sha256", "-seconds", "1"]
    if processes > 1:
        cmd[2:2] = ["-multi", str(processes)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    # Table row: "sha256  124921.84k ... 1708933.12k", in 1000s of bytes per second.
    rows = [ln for ln in result.stdout.splitlines() if re.match(r"^sha256\s+\d", ln)]
    if not rows:
        return None
    figures = re.findall(r"([\d.]+)k", rows[-1])
    return float(figures[-1]) * 1000.0 if figures else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="seconds of ledger and of limit per figure"
    )
    parser.add_argument("--size", default="standard", choices=["small", "standard", "large"])
    opts = parser.parse_args(argv)

    probe = LedgerWorkload()
    probe.prepare(opts.size, 0, Backend("numpy", "cpu", np))
    tx, record_bytes = probe.tx_per_block, probe.record_bytes
    sha_bytes_per_tx = _message_bytes_per_block(tx, record_bytes) / tx
    cores = os.cpu_count() or 1
    print(f"ledger, size {opts.size}: {tx} transactions of {record_bytes} B per block")
    print(f"SHA-256 input per transaction: {sha_bytes_per_tx:.1f} B (leaf, node, header)")
    print(
        f"{opts.seconds:g} s of ledger and {opts.seconds:g} s of limit, interleaved in 0.2 s "
        "slices; "
        f"hashlib = {hashlib.sha256.__name__}"
    )
    print()
    header = (
        f"{'procs':>5} {'ledger tx/s':>12} {'rec MiB/s':>10} {'SHA MiB/s':>10} "
        f"{'limit tx/s':>12} {'vs hashlib':>10} {'openssl MiB/s':>13} {'vs openssl':>10} "
        f"{'cap':>10}"
    )
    print(header)
    for processes in sorted({1, cores}):
        ledger, limit = _run_parallel(opts.size, opts.seconds, processes)
        sha_bytes_s = ledger * sha_bytes_per_tx
        openssl = openssl_sha256_bytes_per_s(processes)
        openssl_col = "n/a" if openssl is None else f"{openssl / MIB:.1f}"
        ratio_col = "n/a" if openssl is None else f"{sha_bytes_s / openssl:.3f}"
        cap_col = "n/a" if openssl is None else f"{limit * sha_bytes_per_tx / openssl:.3f}"
        print(
            f"{processes:>5} {ledger:>12,.0f} {ledger * record_bytes / MIB:>10.1f} "
            f"{sha_bytes_s / MIB:>10.1f} {limit:>12,.0f} {ledger / limit:>10.3f} "
            f"{openssl_col:>13} {ratio_col:>10} {cap_col:>10}"
        )
    print()
    print("vs hashlib: target >= 0.85 (same messages through a tight sha256(m).digest() loop).")
    print(
        "vs openssl: SHA-256 input bytes/s against raw compression at 16 KiB blocks. hashlib's "
        "per-call overhead on 257- and 65-byte messages caps this near 0.3 for any Python "
        "caller; 'cap' is that ceiling as measured here (the hashlib limit vs openssl)."
    )


if __name__ == "__main__":
    main()
