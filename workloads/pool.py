"""Run a workload in k child processes and drive them through calibration and load phases.

This is the parent-side API the profiling runner calls (docs/design.md#process-model).
Each worker is a `spawn`ed process that builds its own back end and workload, seeded by
its own stream of `SeedSequence(seed).spawn(k)`, with BLAS limited by threadpoolctl to
`blas_threads` so that k x blas_threads never exceeds the usable cores. The parent sends
commands over a pipe per worker; workers answer with what they measured. A failure in a
worker surfaces in the parent as `WorkerError` naming the workload, and every worker is
stopped (then terminated, then killed) when the pool closes.

Example:
    with WorkerPool("risk", "standard", "numpy", n_workers=2, seed=1) as pool:
        x_max = pool.calibrate(interval_s=2.0)
        result = pool.run_phase(0.5, seconds=10.0)

"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Any, Self

import numpy as np
from threadpoolctl import threadpool_limits

from workloads import get_workload
from workloads.base import Size, Workload, WorkloadError, parse_size, resolve_backend
from workloads.load import Calibration, LoadResult, calibrate, run_at_load

__all__ = ["PhaseResult", "PoolStoppedError", "WorkerError", "WorkerPool", "usable_cores"]

# Seconds a worker may take to start (interpreter, numpy, prepare) or, beyond a phase's
# own length, to finish its last batch and answer.
_START_TIMEOUT_S = 120.0
_ANSWER_SLACK_S = 30.0
_STOP_GRACE_S = 2.0
# How often a wait for the workers looks at the pool's `stop` event.
_STOP_POLL_S = 0.1


class WorkerError(RuntimeError):
    """A worker process failed or stopped answering; the message names the workload."""


class PoolStoppedError(RuntimeError):
    """The pool's `stop` event was set while it waited for its workers; they are stopped."""


@dataclass(frozen=True)
class PhaseResult:
    """Work done by all workers in one phase.

    Attributes:
        workload: workload name.
        unit: its unit of work (singular, e.g. "scenario").
        target_load: load level asked for, 0..1 (0 = active idle).
        units: units completed, all workers together.
        seconds: phase length: the longest worker's wall time from its phase start to the
            later of the phase end and its last batch's completion.
        batches: batches completed, all workers together.
        cpu_seconds: CPU time (user + system, all threads) the workers used in the phase.
        x_max: the total throughput the target is a share of, in units/s: the calibrated
            X_max, or the reference the phase was given; None if not calibrated.
        workers: each worker's own result.

    """

    workload: str
    unit: str
    target_load: float
    units: int
    seconds: float
    batches: int
    cpu_seconds: float
    x_max: float | None
    workers: tuple[LoadResult, ...]

    @property
    def throughput(self) -> float:
        """Achieved units per second."""
        return self.units / self.seconds if self.seconds > 0 else 0.0

    @property
    def achieved_load(self) -> float | None:
        """Achieved throughput / `x_max` (the phase's reference), or None if not calibrated."""
        return self.throughput / self.x_max if self.x_max else None


@dataclass(frozen=True)
class _WorkerSpec:
    workload: type[Workload]
    size: str
    backend: str
    device: str
    blas_threads: int
    work_seed: np.random.SeedSequence
    schedule_seed: np.random.SeedSequence


def usable_cores() -> int:
    """Logical cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


class WorkerPool:
    """k worker processes running one workload, driven from the parent.

    Use as a context manager, or call `start()` and `close()`.
    """

    def __init__(
        self,
        workload: str | type[Workload],
        size: str | Size = Size.STANDARD,
        backend: str = "numpy",
        n_workers: int = 1,
        seed: int = 0,
        *,
        device: str = "cpu",
        blas_threads: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Describe the pool; no process starts until `start()` or `with`.

        Args:
            workload: workload name ("risk", "inference", "ledger"), or a Workload
                subclass defined at module level (children import it by name).
            size: problem size.
            backend: array back end ("numpy", "cupy", "torch", "auto").
            n_workers: number of worker processes k.
            seed: root seed; worker i uses SeedSequence(seed).spawn(k)[i].
            device: "cpu", "gpu" or "gpu:N".
            blas_threads: BLAS threads per worker; default cores // k.
            stop: when set (from any thread) while the pool waits for its workers, the
                wait ends within `_STOP_POLL_S`, the workers are terminated at once and
                `PoolStoppedError` is raised: the profiling runner sets it when the
                recording can no longer store samples (a full disk).

        Raises:
            WorkloadError: unknown workload or size, n_workers < 1, or k x blas_threads
                above the usable cores.

        """
        self.workload_cls = get_workload(workload) if isinstance(workload, str) else workload
        self.workload = self.workload_cls.name
        self.size = parse_size(size)
        cores = usable_cores()
        if n_workers < 1:
            raise WorkloadError(f"n_workers must be >= 1 (got {n_workers})")
        if blas_threads is None:
            blas_threads = max(1, cores // n_workers)
        if blas_threads < 1 or n_workers * blas_threads > cores:
            raise WorkloadError(
                f"n_workers x blas_threads = {n_workers} x {blas_threads} exceeds the "
                f"{cores} usable cores: lower n_workers or blas_threads"
            )
        root = np.random.SeedSequence(seed)
        work, schedule = root.spawn(n_workers), root.spawn(n_workers)
        self._specs = [
            _WorkerSpec(self.workload_cls, self.size.value, backend, device, blas_threads, w, s)
            for w, s in zip(work, schedule, strict=True)
        ]
        self._procs: list[mp.process.BaseProcess] = []
        self._conns: list[Connection] = []
        self._stop = stop
        self.calibrations: tuple[Calibration, ...] | None = None

    @property
    def n_workers(self) -> int:
        """Number of worker processes."""
        return len(self._specs)

    @property
    def x_max(self) -> float | None:
        """Calibrated total throughput in units/s (sum over workers), or None."""
        if self.calibrations is None:
            return None
        return sum(c.x_max for c in self.calibrations)

    def __enter__(self) -> Self:
        """Start the workers and wait until each has prepared its workload."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop every worker."""
        self.close()

    def start(self) -> None:
        """Start the workers and wait until each has prepared its workload.

        Raises:
            WorkerError: a worker failed to start or prepare.

        """
        if self._procs:
            raise WorkloadError("pool already started")
        ctx = mp.get_context("spawn")
        for i, spec in enumerate(self._specs):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main,
                args=(child_end, spec),
                name=f"finwatt-{self.workload}-{i}",
                daemon=True,
            )
            proc.start()
            child_end.close()
            self._procs.append(proc)
            self._conns.append(parent_end)
        self._collect(_START_TIMEOUT_S)

    def calibrate(self, interval_s: float, intervals: int = 3) -> float:
        """Run all workers unthrottled for `intervals` intervals; return X_max in units/s.

        X_max is the sum over workers of each worker's mean throughput over intervals 2
        to `intervals` (docs/methodology.md#calibration).
        """
        if not interval_s > 0:
            raise WorkloadError(f"interval_s must be > 0 (got {interval_s})")
        self._send(("calibrate", interval_s, intervals))
        answers = self._collect(interval_s * intervals + _ANSWER_SLACK_S)
        self.calibrations = tuple(a[0] for a in answers)
        total = self.x_max
        assert total is not None
        return total

    def run_phase(
        self, target_load: float, seconds: float, *, reference_units_per_s: float | None = None
    ) -> PhaseResult:
        """Hold `target_load` of X_max for `seconds` on every worker and return the work done.

        Args:
            target_load: 0 (active idle: workers alive, no work) to 1 (unthrottled).
                Levels strictly between need `calibrate()` first.
            seconds: phase length.
            reference_units_per_s: the total throughput `target_load` is a share of (the
                100 % level's measured throughput, docs/methodology.md#ladder-and-validity);
                default the calibrated X_max. Each worker's rate is scaled by
                reference / X_max, so the workers keep their calibrated proportions.

        Raises:
            WorkloadError: target_load outside [0, 1], seconds not positive, or a partial
                load before calibration.
            WorkerError: a worker failed.

        """
        if not 0.0 <= target_load <= 1.0:
            raise WorkloadError(f"target_load must be in [0, 1] (got {target_load})")
        if not seconds > 0:
            raise WorkloadError(f"seconds must be > 0 (got {seconds})")
        if 0.0 < target_load < 1.0 and self.calibrations is None:
            raise WorkloadError("call calibrate() before run_phase() at a partial load")
        x_max = self.x_max
        reference = reference_units_per_s if reference_units_per_s and x_max else x_max
        scale = reference / x_max if reference and x_max else 1.0
        self._send(("phase", target_load, seconds, scale))
        answers = self._collect(seconds * 1.5 + _ANSWER_SLACK_S)
        results: tuple[LoadResult, ...] = tuple(a[0] for a in answers)
        return PhaseResult(
            workload=self.workload,
            unit=self.workload_cls.unit,
            target_load=float(target_load),
            units=sum(r.units for r in results),
            seconds=max(r.seconds for r in results),
            batches=sum(r.batches for r in results),
            cpu_seconds=sum(float(a[1]) for a in answers),
            x_max=reference,
            workers=results,
        )

    def close(self, grace_s: float = _STOP_GRACE_S) -> None:
        """Stop the workers: ask, then terminate, then kill those still alive.

        Args:
            grace_s: how long the workers get to stop on their own before SIGTERM.
        """
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        deadline = time.monotonic() + grace_s
        for proc in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(_STOP_GRACE_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []

    def _send(self, message: tuple[Any, ...]) -> None:
        if not self._procs:
            raise WorkloadError("pool not started: use it as a context manager or call start()")
        for i, conn in enumerate(self._conns):
            try:
                conn.send(message)
            except OSError as err:
                self.close()
                raise WorkerError(
                    f"workload {self.workload!r}: worker {i} is gone ({err})"
                ) from err

    def _collect(self, timeout_s: float) -> list[tuple[Any, ...]]:
        """Wait for one answer from every worker; on any failure close the pool and raise.

        Raises:
            WorkerError: a worker failed, exited or did not answer within `timeout_s`.
            PoolStoppedError: the `stop` event was set; the workers are terminated.
        """
        answers: dict[int, tuple[Any, ...]] = {}
        deadline = time.monotonic() + timeout_s
        try:
            while len(answers) < len(self._conns):
                self._raise_if_stopped()
                pending = [i for i in range(len(self._conns)) if i not in answers]
                waitables: list[Any] = [self._conns[i] for i in pending]
                waitables += [self._procs[i].sentinel for i in pending]
                left_s = max(0.0, deadline - time.monotonic())
                step_s = left_s if self._stop is None else min(left_s, _STOP_POLL_S)
                ready = wait(waitables, timeout=step_s)
                if not ready and step_s < left_s:
                    continue
                if not ready:
                    raise WorkerError(
                        f"workload {self.workload!r}: no answer from workers {pending} "
                        f"within {timeout_s:.0f} s"
                    )
                for i in pending:
                    answer = self._poll(i)
                    if answer is not None:
                        answers[i] = answer
        except WorkerError:
            self.close()
            raise
        return [answers[i] for i in range(len(self._conns))]

    def _raise_if_stopped(self) -> None:
        """Terminate the workers at once and raise if the `stop` event is set."""
        if self._stop is not None and self._stop.is_set():
            self.close(grace_s=0.0)
            raise PoolStoppedError(f"workload {self.workload!r}: stopped early")

    def _poll(self, i: int) -> tuple[Any, ...] | None:
        conn, proc = self._conns[i], self._procs[i]
        if conn.poll():
            try:
                message = conn.recv()
            except EOFError:
                message = None
            if message is not None and message[0] == "error":
                raise WorkerError(f"workload {self.workload!r} failed in worker {i}: {message[1]}")
            if message is not None:
                return tuple(message[1:])
        if not proc.is_alive():
            raise WorkerError(
                f"workload {self.workload!r}: worker {i} exited with code {proc.exitcode}"
            )
        return None


def _worker_main(conn: Connection, spec: _WorkerSpec) -> None:
    """Worker process: prepare the workload, then serve commands until "stop"."""
    # Ctrl-C reaches the whole process group; the parent decides and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with threadpool_limits(limits=spec.blas_threads, user_api="blas"):
            _serve(conn, spec)
    # The worker's loop boundary: any failure goes to the parent, which raises it as
    # WorkerError naming the workload; nothing is swallowed.
    except Exception as err:  # noqa: BLE001
        detail = "".join(traceback.format_exception(err))
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(err).__name__}: {err}\n{detail}"))
    finally:
        conn.close()


def _serve(conn: Connection, spec: _WorkerSpec) -> None:
    backend = resolve_backend(spec.backend, spec.device)
    workload = spec.workload()
    workload.prepare(spec.size, spec.work_seed, backend)
    rng = np.random.default_rng(spec.schedule_seed)
    conn.send(("ready",))
    cal: Calibration | None = None
    while True:
        command = conn.recv()
        if command[0] == "stop":
            return
        if command[0] == "calibrate":
            cal = calibrate(workload.run_batch, command[1], intervals=command[2])
            conn.send(("calibrated", cal))
        elif command[0] == "phase":
            target_load, seconds, scale = command[1], command[2], command[3]
            cpu0 = time.process_time()
            result = run_at_load(
                workload.run_batch,
                target_load,
                cal.x_max * scale if cal else 1.0,
                seconds,
                units_per_batch=cal.units_per_batch if cal else 1.0,
                rng=rng,
            )
            conn.send(("phase", result, time.process_time() - cpu0))
        else:
            raise WorkloadError(f"unknown command {command[0]!r}")
