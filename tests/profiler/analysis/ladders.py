"""Profiling runs in the design's plain phase shape, built from a ladder of (load, rate, W).

The document carries only what a measurement yields: phases (workload, device,
target_load, t_start, t_end, units, unit) and samples with power (and, optionally, a
cumulative energy counter). No achieved load, no validity, no per-phase figures: finwatt
must compute every ladder figure from the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tests.fakes.history import history_doc

#: Seconds each level is held, and the sampling interval, in the synthetic documents.
PHASE_S = 20.0
INTERVAL_S = 1.0


def ladder_doc(
    levels: Sequence[tuple[float, float, float]],
    *,
    run_id: str = "ladder",
    host: str = "ladder-host",
    packages: int = 1,
    phase_device: str | None = None,
    workload: str = "ssj",
    unit: str = "ssj_op",
    with_energy: bool = False,
    details: Mapping[float, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return a profiling-run document for `levels` = [(target_load, units_per_s, power_w)].

    Levels run in the given order, `PHASE_S` each, one sample per `INTERVAL_S` on every
    package; the level's power is split evenly over `packages` CPU packages. `details`
    maps a target load to a phase's `details` object (figures the document states).
    """
    devices: list[dict[str, Any]] = [
        {"id": f"cpu:{i}", "kind": "cpu", "provenance": "measured:wall-meter"}
        for i in range(packages)
    ]
    per_phase = int(PHASE_S / INTERVAL_S)
    n = per_phase * len(levels)
    t = INTERVAL_S * np.arange(1, n + 1, dtype=float)
    power = np.repeat([w for _, _, w in levels], per_phase) / packages
    metrics: dict[str, Any] = {"power_w": power}
    if with_energy:
        metrics["energy_j"] = np.cumsum(power * INTERVAL_S)
    phases = []
    for k, (target, rate, _) in enumerate(levels):
        phase: dict[str, Any] = {
            "workload": workload,
            "device": phase_device or ("cpu" if packages > 1 else "cpu:0"),
            "target_load": target,
            "t_start": k * PHASE_S,
            "t_end": (k + 1) * PHASE_S,
            "units": rate * PHASE_S,
            "unit": unit,
        }
        if details and target in details:
            phase["details"] = dict(details[target])
        phases.append(phase)
    return history_doc(
        devices,
        t,
        {d["id"]: metrics for d in devices},
        run_id=run_id,
        kind="profile",
        host=host,
        phases=phases,
        interval_s=INTERVAL_S,
    )
