"""A profiling run in progress: what the store says about it while it goes on.

`workflows.profile_watch` reads these from the store; the live view's profiling panel
shows them. Rates are per second of phase time, energies in joules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseFigures:
    """A finished phase of a profiling run, as the store has it while the run goes on.

    Attributes:
        workload: workload name.
        device_id: the device its energy is charged to (`cpu:0`, `cpu`, `gpu:N`).
        target_load: target load, 0..1.
        achieved_load: achieved load, 0..1, None where unknown.
        units_per_s: throughput (units / phase seconds), None for a failed phase.
        unit: the unit of work ("scenario", "row", ...).
        j_per_1000_units: energy per 1,000 units, None where samples lack energy.
        error: why the phase failed, None when it ran.

    """

    workload: str
    device_id: str
    target_load: float
    achieved_load: float | None
    units_per_s: float | None
    unit: str | None
    j_per_1000_units: float | None
    error: str | None = None


@dataclass(frozen=True)
class ProfileStatus:
    """A profiling run in progress, read from the store.

    Attributes:
        run_id: the run's id.
        label: its label.
        workloads: planned workloads.
        devices: planned devices ("cpu", "gpu:N").
        phases_done: phases stored so far.
        phases_planned: phases in the plan, None when the config does not say.
        now: (workload, device, target load) the plan puts after the stored phases;
            None when the stored phases do not follow the plan.
        last: the latest finished phase.
        error: why the store could not be read (the panel shows it instead).

    """

    run_id: str
    label: str | None = None
    workloads: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    phases_done: int = 0
    phases_planned: int | None = None
    now: tuple[str, str, float] | None = None
    last: PhaseFigures | None = None
    error: str | None = None
