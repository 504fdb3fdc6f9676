"""A pool's `stop` event ends a phase early and stops its workers."""

from __future__ import annotations

import threading
import time

import pytest

from tests.fakes.workloads import SpinWorkload
from workloads.pool import PoolStoppedError, WorkerPool

PHASE_S = 30.0
"""The phase asked for; the stop event must end it long before."""


def test_setting_the_stop_event_ends_a_phase_within_a_second_and_stops_the_workers() -> None:
    stop = threading.Event()
    with WorkerPool(SpinWorkload, "small", n_workers=1, seed=0, stop=stop) as pool:
        procs = list(pool._procs)
        timer = threading.Timer(0.5, stop.set)
        timer.start()
        began = time.monotonic()
        with pytest.raises(PoolStoppedError, match="spin"):
            pool.run_phase(1.0, PHASE_S)
        took_s = time.monotonic() - began
        timer.join()
    assert took_s < 0.5 + 1.0, f"the phase ran on for {took_s:.1f} s after the stop"
    assert not any(p.is_alive() for p in procs)


def test_a_pool_whose_stop_event_stays_clear_runs_its_phase_to_the_end() -> None:
    stop = threading.Event()
    with WorkerPool(SpinWorkload, "small", n_workers=1, seed=0, stop=stop) as pool:
        result = pool.run_phase(1.0, 0.5)
    assert result.units > 0 and result.seconds >= 0.5
