"""bench/overhead.py measures each tracker in steady state: start-up and shutdown left out.

codecarbon's `tracker.start()` probes the hardware and takes a first measurement; a clock
started before it counted that start-up as sampling overhead (docs/benchmarks.md#benchmark-record).
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import pytest

from bench import overhead

START_UP_CPU_S = 0.3


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class _Tracker:
    """codecarbon's tracker as far as the bench uses it: costly start and stop, idle between."""

    def __init__(self, **_: Any) -> None:
        pass

    def start(self) -> None:
        _burn(START_UP_CPU_S)

    def stop(self) -> None:
        _burn(START_UP_CPU_S)


class _Out:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)


def test_codecarbons_start_up_and_shutdown_are_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("codecarbon")
    fake.OfflineEmissionsTracker = _Tracker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "codecarbon", fake)
    out = _Out()
    overhead._codecarbon(1.0, 0.2, out)  # type: ignore[arg-type]
    cpu_s, wall_s, _ = out.items[0]
    assert cpu_s < 0.05  # an idle window: the 0.6 s of start-up and shutdown left out
    assert wall_s == pytest.approx(0.2, abs=0.1)
