import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.workloads import FakeBatches, FakeClock
from workloads.base import WorkloadError
from workloads.load import LoadResult, arrival_times, calibrate, run_at_load


def run_on_fake_clock(
    batches: FakeBatches, load: float, x_max: float, seconds: float, units: int, seed: int
) -> LoadResult:
    """`run_at_load` of `units` a batch on the batches' fake clock (its sleep advances it)."""
    return run_at_load(
        batches,
        load,
        x_max,
        seconds,
        units_per_batch=units,
        rng=np.random.default_rng(seed),
        clock=batches.clock,
        sleep=batches.clock.sleep,
    )


def test_calibration_is_mean_of_intervals_two_and_three():
    # Binary fractions keep the fake clock exact: intervals end on batch boundaries.
    clock = FakeClock()
    calls = 0

    def batch() -> int:
        # The first interval is slow (cold caches); X_max must ignore it.
        nonlocal calls
        calls += 1
        clock.advance(1 / 64 if calls <= 16 else 1 / 128)
        return 50

    cal = calibrate(batch, 0.25, clock=clock)
    assert cal.batches == (16, 32, 32)
    assert cal.throughputs == (3200.0, 6400.0, 6400.0)
    assert cal.x_max == 6400.0
    assert cal.units_per_batch == 50


@pytest.mark.parametrize("load", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("seconds", [10.0, 60.0])
def test_achieved_load_within_5_percent_on_fake_clock(load, seconds):
    clock = FakeClock()
    batches = FakeBatches(clock, batch_s=0.02, units=100)
    x_max = 100 / 0.02
    result = run_on_fake_clock(batches, load, x_max, seconds, 100, int(load * 10))
    assert result.throughput / x_max == pytest.approx(load, rel=0.05)
    assert result.batches == batches.calls
    assert result.seconds >= seconds - 1e-9


def test_active_idle_only_sleeps():
    clock = FakeClock()
    batches = FakeBatches(clock, 0.01)
    result = run_on_fake_clock(batches, 0.0, 1000.0, 5.0, 10, 0)
    assert (result.units, result.batches, batches.calls) == (0, 0, 0)
    assert sum(clock.slept) == pytest.approx(5.0)


def test_full_load_runs_back_to_back():
    clock = FakeClock()
    batches = FakeBatches(clock, 1 / 128)
    result = run_on_fake_clock(batches, 1.0, 1.0, 1.0, 1, 0)
    assert clock.slept == []
    assert result.batches == 128
    assert result.busy_seconds == pytest.approx(result.seconds)


def test_arrival_gaps_look_exponential():
    rng = np.random.default_rng(1)
    times = arrival_times(50.0, 2000.0, rng)
    assert times.size == 100_000
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.01)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.02)  # CV of an exponential
    # P(gap > mean) = 1/e for an exponential.
    assert np.mean(gaps > gaps.mean()) == pytest.approx(math.exp(-1), abs=0.01)


def test_arrival_count_rounds_at_random_without_bias():
    rng = np.random.default_rng(2)
    counts = [arrival_times(2.5, 1.0, rng).size for _ in range(4000)]
    assert set(counts) == {2, 3}
    assert np.mean(counts) == pytest.approx(2.5, abs=0.03)


@settings(max_examples=60, deadline=None)
@given(
    batch_s=st.floats(0.001, 0.05),
    load=st.floats(0.01, 0.99),
    seconds=st.floats(0.5, 20.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_schedule_invariants(batch_s, load, seconds, seed):
    clock = FakeClock()
    batches = FakeBatches(clock, batch_s, units=7)
    x_max = 7 / batch_s
    result = run_on_fake_clock(batches, load, x_max, seconds, 7, seed)
    expected = load * seconds / batch_s
    assert math.floor(expected) <= result.offered_batches <= math.ceil(expected)
    assert result.batches == result.offered_batches == batches.calls
    assert result.units == 7 * result.batches
    assert result.seconds >= seconds - 1e-9
    # Every offered batch arrives before the end, so at most the backlog runs over.
    assert result.seconds <= seconds + result.batches * batch_s + 1e-9  # float clock sums
    assert result.busy_seconds == pytest.approx(result.batches * batch_s)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"target_load": -0.1}, "target_load"),
        ({"target_load": math.nan}, "target_load"),
        ({"seconds": 0.0}, "seconds"),
        ({"x_max": 0.0}, "x_max"),
    ],
)
def test_bad_arguments(kwargs, needle):
    args = {"target_load": 0.5, "x_max": 10.0, "seconds": 1.0, **kwargs}
    with pytest.raises(WorkloadError, match=needle):
        run_at_load(lambda: 1, units_per_batch=1, rng=np.random.default_rng(0), **args)
    with pytest.raises(WorkloadError, match="interval_s"):
        calibrate(lambda: 1, 0.0)


class ProcessClock:
    """This process's CPU time plus the time it chose to sleep: wall time on a quiet host.

    On a loaded host the wall clock also counts the time the process waited for a core,
    which is the machine's, not the code's; this clock leaves it out, so the level the
    code holds is judged on the CPU it used against the sleeps it asked for.
    """

    def __init__(self) -> None:
        self.slept = 0.0

    def __call__(self) -> float:
        """Return the CPU seconds used plus the seconds slept so far."""
        return time.process_time() + self.slept

    def sleep(self, seconds: float) -> None:
        """Sleep for real, and count the seconds asked for."""
        time.sleep(seconds)
        self.slept += seconds


def test_real_cpu_load_levels():
    # Element-wise work, not BLAS: one thread, so the process's CPU time is the batch's.
    a = np.random.default_rng(0).random(50_000)

    def batch() -> int:
        for _ in range(8):
            np.sort(a)
        return 8

    clock = ProcessClock()
    cal = calibrate(batch, 0.25, clock=clock)
    for load in (0.25, 0.75):
        result = run_at_load(
            batch,
            load,
            cal.x_max,
            1.5,
            units_per_batch=cal.units_per_batch,
            rng=np.random.default_rng(1),
            clock=clock,
            sleep=clock.sleep,
        )
        # the real batches and sleeps, timed by CPU use: no race with other processes;
        # the fake-clock tests check the +-5 %
        assert result.throughput / cal.x_max == pytest.approx(load, rel=0.3)
        assert result.busy_seconds == pytest.approx(load * result.seconds, rel=0.3)
    start = time.monotonic()
    run_at_load(batch, 0.0, cal.x_max, 0.2, units_per_batch=1, rng=np.random.default_rng(2))
    assert time.monotonic() - start >= 0.2


def test_calibration_is_the_median_of_intervals_after_the_first():
    """docs/methodology.md#calibration: one slowed interval of several does not move X_max."""
    clock = FakeClock()
    steps = iter([1 / 64] * 8 + [1 / 128] * 16 + [1 / 32] * 4 + [1 / 128] * 48)

    def batch() -> int:
        clock.advance(next(steps))
        return 50

    cal = calibrate(batch, 0.125, intervals=6, clock=clock)
    # warm-up 1600/s, then 6400, 1600 (a neighbour took the core), 6400, 6400, 6400
    assert cal.throughputs == (3200.0, 6400.0, 1600.0, 6400.0, 6400.0, 6400.0)
    assert cal.x_max == 6400.0  # the mean of the last five would be 5440
