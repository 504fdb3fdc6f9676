"""Batch size per device: the saturation rule, and the workloads that apply it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workloads.base import WorkloadError, resolve_backend
from workloads.batch_size import MAX_BATCH_S, MIN_GAIN, saturating_batch, timed_batches
from workloads.inference import InferenceWorkload
from workloads.risk import RiskWorkload, _block_seed, _var_es, tail_counts


def launch_bound(overhead_s: float, units_per_s: float):
    """A GPU-like batch time: a fixed launch overhead plus work at a peak rate."""
    calls: list[int] = []

    def seconds(units: int) -> float:
        calls.append(units)
        return overhead_s + units / units_per_s

    return seconds, calls


def test_grows_until_a_doubling_gains_less_than_ten_percent() -> None:
    seconds, _ = launch_bound(100e-6, 1e8)
    sizing = saturating_batch(seconds, 2048, 1 << 22)
    assert sizing.stopped == "saturated"
    rates = dict(sizing.trials)
    chosen = sizing.units
    assert rates[chosen * 2] < MIN_GAIN * rates[chosen]  # the next doubling did not pay
    assert rates[chosen] >= MIN_GAIN * rates[chosen // 2]  # the last one did
    # Launch overhead is now under a fifth of a batch, where it was 83 % at the start.
    assert 100e-6 / seconds(chosen) < 0.2 < 100e-6 / seconds(2048)
    assert chosen == 65536


def test_stops_before_a_batch_outgrows_the_time_limit() -> None:
    seconds, _ = launch_bound(0.0, 1e6)  # never saturates: throughput is flat...
    sizing = saturating_batch(seconds, 1000, 10**9, min_gain=0.5)  # ...so only time stops it
    assert sizing.stopped == "batch time"
    assert seconds(sizing.units) <= MAX_BATCH_S < seconds(sizing.units * 2)


def test_never_passes_the_cap() -> None:
    seconds, calls = launch_bound(1.0, 1e3)  # overhead-bound: doubling always pays
    sizing = saturating_batch(seconds, 64, 1000, max_batch_s=math.inf)
    assert (sizing.units, sizing.stopped) == (512, "cap")
    assert max(calls) == 512


def test_a_start_at_the_cap_times_once_and_stays() -> None:
    seconds, calls = launch_bound(1e-3, 1e6)
    sizing = saturating_batch(seconds, 4096, 4096)
    assert (sizing.units, sizing.stopped, calls) == (4096, "cap", [4096])


@pytest.mark.parametrize(("start", "cap"), [(0, 10), (20, 10), (-1, 4)])
def test_bad_range_is_refused(start: int, cap: int) -> None:
    with pytest.raises(WorkloadError, match="start_units"):
        saturating_batch(lambda n: 1.0, start, cap)


def test_timed_batches_warms_up_syncs_and_takes_the_median() -> None:
    now = [0.0]
    durations = iter([9.0, 1.0, 5.0, 2.0])  # the warm-up is slow and not counted
    log: list[str] = []

    def run(units: int) -> None:
        log.append(f"run {units}")
        now[0] += next(durations)

    def synchronize() -> None:
        log.append("sync")

    seconds = timed_batches(run, synchronize, repeats=3, clock=lambda: now[0])
    assert seconds(8) == 2.0
    assert log == ["run 8", "sync"] * 4


# -- the workloads apply it on GPUs (forced here on numpy) ------------------------------------


def test_inference_calibrates_rows_when_asked() -> None:
    workload = InferenceWorkload(calibrate=True, max_batch_rows=8192)
    workload.prepare("standard", 1, resolve_backend("numpy"))
    sizing = workload.batch_sizing
    assert sizing is not None
    assert sizing.units in (2048, 4096, 8192)
    assert sizing.trials[0][0] == 2048
    assert workload.run_batch() == sizing.units
    scores = np.asarray(workload.last_scores)
    assert scores.shape == (sizing.units,) and np.all((scores > 0) & (scores < 1))


def test_inference_on_the_cpu_keeps_its_fixed_batch() -> None:
    workload = InferenceWorkload()
    workload.prepare("standard", 1, resolve_backend("numpy"))
    assert workload.batch_sizing is None
    assert workload.run_batch() == 2048


def test_risk_calibrates_blocks_per_batch_when_asked() -> None:
    workload = RiskWorkload(calibrate=True, max_blocks_per_batch=4)
    workload.prepare("small", 3, resolve_backend("numpy"))
    sizing = workload.batch_sizing
    assert sizing is not None
    rows = sizing.trials[0][0]
    assert workload.blocks_per_batch in (1, 2, 4)
    assert workload.run_batch() == rows * workload.blocks_per_batch
    assert workload.last_var_es is not None
    var, es = workload.last_var_es
    assert 0 < var <= es


def test_risk_blocks_per_batch_do_not_change_the_scenarios() -> None:
    two = RiskWorkload()
    two.prepare("small", 5, resolve_backend("numpy"))
    two.blocks_per_batch = 2
    assert two._revaluer is not None
    rows = two._revaluer.rows
    assert two.run_batch() == 2 * rows
    # The same two RNG blocks, revalued one at a time, give the batch's VaR/ES exactly.
    k_var, k_es = tail_counts(2 * rows, 0.99, 0.975)
    tails = [
        two._revaluer.block_tail(_block_seed(two._root, j), rows, max(k_var, k_es)) for j in (0, 1)
    ]
    assert two.last_var_es == _var_es(np.sort(np.concatenate(tails))[::-1], k_var, k_es)
    assert two._next_block == 2


def test_risk_on_the_cpu_keeps_one_block_per_batch() -> None:
    workload = RiskWorkload()
    workload.prepare("small", 3, resolve_backend("numpy"))
    assert workload.batch_sizing is None and workload.blocks_per_batch == 1
