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
        loud = _run_level(pool, plan(), 0.0, 0.0, "cpu", (100.0, None), host_cpu_seconds)
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


def test_the_100_level_off_the_calibration_is_not_worth_a_retry() -> None:
    """docs/methodology.md#ladder-and-validity: the unthrottled 100 % level is the reference."""

    def full(achieved: float, foreign: float) -> PhaseRecord:
        metrics = PhaseMetrics.of(foreign_cpu_share=foreign)
        return PhaseRecord("risk", "cpu", 1.0, 0.0, 1.0, 10.0, "scenario", achieved, None, metrics)

    assert not _worth_retrying(full(1.11, 0.01))  # the calibration was short of it
    assert not _worth_retrying(full(0.93, 0.01))  # the calibration was above it
    assert _worth_retrying(full(1.0, 0.30))  # disturbed: run once more


def test_a_lower_level_is_a_share_of_the_given_reference(pool: WorkerPool) -> None:
    """Once the 100 % level has run, its throughput is what the lower levels are shares of."""
    x_max = pool.x_max
    assert x_max is not None
    half = plan()
    phase = _run_level(pool, half, 0.5, 0.0, "cpu", (x_max, x_max / 2), None)
    assert phase.metrics.x_max_units_per_s == pytest.approx(x_max)  # the calibration, kept
    assert phase.metrics.reference_units_per_s == pytest.approx(x_max / 2)
    assert phase.achieved_load == pytest.approx(0.5, abs=0.25)  # of the reference
    assert phase.units is not None and phase.metrics.worker_seconds
    assert phase.units / phase.metrics.worker_seconds == pytest.approx(x_max / 4, rel=0.5)
