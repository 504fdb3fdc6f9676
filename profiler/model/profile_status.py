"""A profiling run in progress: what the store says about it while it goes on.

`workflows.profile_watch` reads these from the store; the live view's profiling panel
shows them. Rates are per second of phase time, energies in joules.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler.model.run import PhaseRecord


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
        last: the latest finished phase, its figures (`metrics`) evaluated from the
            samples stored so far.
        error: why the store could not be read (the panel shows it instead).

    """

    run_id: str
    label: str | None = None
    workloads: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    phases_done: int = 0
    phases_planned: int | None = None
    now: tuple[str, str, float] | None = None
    last: PhaseRecord | None = None
    error: str | None = None
