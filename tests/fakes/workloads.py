"""Fake workloads and a fake clock for the workloads package's tests.

Worker processes import these classes by name, so they live at module level here.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

import numpy as np

from workloads.base import Backend, Size, Workload


class FakeClock:
    """A monotonic clock that only moves when told to; `sleep` advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeBatches:
    """A run_batch that takes `batch_s` of fake time and completes `units` units."""

    def __init__(self, clock: FakeClock, batch_s: float, units: int = 100) -> None:
        self.clock = clock
        self.batch_s = batch_s
        self.units = units
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        self.clock.advance(self.batch_s)
        return self.units


class SpinWorkload(Workload):
    """A tiny real workload: about 2 ms of float arithmetic per batch."""

    name: ClassVar[str] = "spin"
    unit: ClassVar[str] = "op"

    def prepare(
        self, size: str | Size, seed: int | np.random.SeedSequence, backend: Backend
    ) -> None:
        self._x = np.random.default_rng(seed).random(20_000)

    def run_batch(self) -> int:
        end = time.perf_counter() + 0.002
        n = 0
        while time.perf_counter() < end:
            self._x = np.sqrt(self._x + 1.0)
            n += 1
        return n


class FailingWorkload(SpinWorkload):
    """Fails on its third batch with a message the parent must show."""

    name: ClassVar[str] = "failing"

    def prepare(
        self, size: str | Size, seed: int | np.random.SeedSequence, backend: Backend
    ) -> None:
        super().prepare(size, seed, backend)
        self._batches = 0

    def run_batch(self) -> int:
        self._batches += 1
        if self._batches == 3:
            raise ValueError("simulated fault in batch 3")
        return super().run_batch()


class DyingWorkload(SpinWorkload):
    """Kills its own process on the first batch, as a segfault or OOM kill would."""

    name: ClassVar[str] = "dying"

    def run_batch(self) -> int:
        os._exit(7)
