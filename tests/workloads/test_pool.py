import pytest

from tests.fakes.workloads import DyingWorkload, FailingWorkload, SpinWorkload
from workloads.base import WorkloadError
from workloads.pool import WorkerError, WorkerPool, usable_cores


def test_pool_calibrates_and_holds_levels():
    n = min(2, usable_cores())
    with WorkerPool("risk", "small", "numpy", n_workers=n, seed=1) as pool:
        procs = list(pool._procs)
        assert all(p.is_alive() for p in procs)
        x_max = pool.calibrate(0.2)
        assert x_max > 0 and pool.x_max == x_max
        assert len(pool.calibrations) == n
        half = pool.run_phase(0.5, 1.0)
        assert half.workload == "risk" and half.unit == "scenario"
        assert half.units > 0 and half.batches > 0 and half.cpu_seconds > 0
        assert half.seconds >= 1.0
        assert half.achieved_load == pytest.approx(0.5, abs=0.25)
        idle = pool.run_phase(0.0, 0.3)
        assert (idle.units, idle.batches) == (0, 0)
        assert idle.cpu_seconds < 0.1
        full = pool.run_phase(1.0, 0.3)
        assert full.units > 0
    assert not any(p.is_alive() for p in procs)


def test_unthrottled_phase_needs_no_calibration():
    with WorkerPool(SpinWorkload, "small", n_workers=1, seed=0) as pool:
        result = pool.run_phase(1.0, 0.2)
        assert result.workload == "spin" and result.units > 0
        assert result.achieved_load is None


def test_worker_exception_surfaces_with_workload_name():
    pool = WorkerPool(FailingWorkload, "small", n_workers=1)
    with (
        pool,
        pytest.raises(
            WorkerError, match="workload 'failing' failed in worker 0: ValueError: simulated fault"
        ),
    ):
        pool.calibrate(0.1)
    assert pool._procs == []


def test_dead_worker_surfaces_with_exit_code():
    with (
        WorkerPool(DyingWorkload, "small", n_workers=1) as pool,
        pytest.raises(WorkerError, match="workload 'dying': worker 0 exited with code 7"),
    ):
        pool.run_phase(1.0, 0.5)


def test_prepare_failure_surfaces():
    with (
        pytest.raises(WorkerError, match="failed in worker 0: BackendUnavailable"),
        WorkerPool(SpinWorkload, "small", backend="cupy", device="gpu:99", n_workers=1),
    ):
        pass


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"workload": "fx"}, "unknown workload"),
        ({"size": "huge"}, "unknown size"),
        ({"n_workers": 0}, "n_workers must be >= 1"),
        ({"n_workers": 10_000}, "exceeds the"),
        ({"blas_threads": 10_000}, "exceeds the"),
    ],
)
def test_bad_pool_arguments(kwargs, needle):
    args = {"workload": "risk", "size": "small", **kwargs}
    with pytest.raises(WorkloadError, match=needle):
        WorkerPool(**args)


def test_bad_phase_arguments():
    pool = WorkerPool(SpinWorkload, "small")
    with pytest.raises(WorkloadError, match="not started"):
        pool.run_phase(1.0, 0.1)
    with pool:
        with pytest.raises(WorkloadError, match="target_load"):
            pool.run_phase(1.5, 0.1)
        with pytest.raises(WorkloadError, match="calibrate"):
            pool.run_phase(0.5, 0.1)


def test_a_level_can_take_its_target_from_a_given_reference():
    """docs/methodology.md#ladder-and-validity: lower levels are shares of the 100 % level's X."""
    with WorkerPool("risk", "small", "numpy", n_workers=1, seed=1) as pool:
        x_max = pool.calibrate(0.2)
        half = pool.run_phase(0.5, 1.0, reference_units_per_s=x_max / 2)
    assert half.x_max == pytest.approx(x_max / 2)
    assert half.achieved_load == pytest.approx(0.5, abs=0.25)
    assert half.throughput == pytest.approx(x_max / 4, rel=0.5)
