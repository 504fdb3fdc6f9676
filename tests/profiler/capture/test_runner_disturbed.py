"""Other processes' CPU during a level is measured; such a level is retried.

Real parts: a real worker pool running the `risk` workload (small size) and a real
busy process competing for the CPU; the host's busy time comes from /proc/stat.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from profiler.capture.runner import _run_level, _worth_retrying, host_cpu_seconds
from profiler.model.plan import RunPlan
from profiler.model.run import PhaseMetrics, PhaseRecord
from workloads.pool import WorkerPool

BUSY = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def busy_process() -> Iterator[None]:
    """A real process spinning one core (ended when the block exits)."""
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        yield
    finally:
        child.kill()
        child.wait()


def plan() -> RunPlan:
    return RunPlan(workloads=("risk",), devices=("cpu",), levels=(0.0,), phase_seconds=1.5)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool("risk", "small", "numpy", 1, 0, device="cpu", blas_threads=1) as started:
        started.calibrate(0.3, intervals=3)
        yield started


def test_foreign_load_in_an_idle_level_is_measured_and_worth_a_retry(pool: WorkerPool) -> None:
    with busy_process():
        loud = _run_level(pool, plan(), 0.0, 0.0, "cpu", 100.0, host_cpu_seconds)
    share = loud.metrics.foreign_cpu_share
    _, cpus = host_cpu_seconds()
    # the spinning process alone holds about one of the host's cores (more if the
    # machine is busy otherwise too); the idle workers hold almost nothing
    assert share is not None and share >= 0.7 / cpus
    assert loud.metrics.worker_cpu_seconds is not None
    assert loud.metrics.worker_cpu_seconds < 0.2
    assert _worth_retrying(loud)


def test_a_level_off_target_is_worth_a_retry_and_a_clean_one_is_not() -> None:
    def level(achieved: float | None, foreign: float | None) -> PhaseRecord:
        metrics = PhaseMetrics.of(foreign_cpu_share=foreign)
        return PhaseRecord("risk", "cpu", 0.5, 0.0, 1.0, 10.0, "scenario", achieved, None, metrics)

    assert not _worth_retrying(level(0.52, 0.01))
    assert _worth_retrying(level(0.40, 0.01))  # missed the target by 10 points
    assert _worth_retrying(level(0.50, 0.30))  # disturbed
    assert _worth_retrying(level(None, None))
    assert not _worth_retrying(level(0.55, 0.05))  # at the tolerances, within them
