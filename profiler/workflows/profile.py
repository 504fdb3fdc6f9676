"""A profiling run from request to outcome: the sequence `finwatt run` and the scheduler share.

probe the sensors -> resolve the device choice -> check the database opens -> take the
run lock (`<db>.lock`) -> `Recording` -> `run_profile` (the load ladder) ->
`finalise_phases` (each phase's figures from the samples on disk) -> read back the run,
its phases and the per workload x device ladder summaries.

The devices are resolved before the lock is taken, so a bad `--device` is refused at
once rather than after waiting for another benchmark to finish. What the caller shows
while the run goes on (a progress bar, the live view, nothing for JSON) and what it does
around the lock (the scheduler pauses its monitors) come in through a
`ProfileObserver`; the workflow itself prints nothing.

Ownership of the `SensorSet`: the workflow closes it if anything fails before the
`Recording` exists; from then on the recording closes it when the run ends.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from profiler.capture.recording import Recording
from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattInputError
from profiler.model.plan import Progress, RunPlan
from profiler.model.run import PhaseRecord, RunKind, RunRecord, RunStatus
from profiler.model.samples import TickSink
from profiler.sensors.probe import SensorSet
from profiler.settings.config import Settings
from profiler.store.database import Store
from profiler.workflows.database import open_database, recorded_run
from profiler.workflows.probe import probe
from profiler.workflows.run_data import load_run_data
from profiler.workflows.runlock import run_lock as database_run_lock

if TYPE_CHECKING:
    from profiler.analysis.profile import LadderSummary


class DeviceChoiceError(FinwattInputError):
    """The device choice names no device of this machine; the message says what is there."""


def resolve_devices(choice: str, sensors: SensorSet) -> tuple[str, ...]:
    """Return the runner's devices for `cpu`, `gpu`, `all` or `gpu:N`.

    Raises:
        DeviceChoiceError: not a device choice, or a GPU was asked for and is not there
            (the message says why, from the NVML probe, and the fix).
    """
    gpus = tuple(d.device_id for d in sensors.devices if d.kind == "gpu")
    if choice == "cpu":
        return ("cpu",)
    if choice == "all":
        return ("cpu", *gpus)
    if choice == "gpu":
        if gpus:
            return gpus
        raise DeviceChoiceError(f"no GPU available: {_no_gpu_reason(sensors)}")
    if choice.startswith("gpu:"):
        if choice in gpus:
            return (choice,)
        found = ", ".join(gpus) or f"none ({_no_gpu_reason(sensors)})"
        raise DeviceChoiceError(f"no {choice}; GPUs found: {found}")
    raise DeviceChoiceError(f"{choice!r} is not a device: use cpu, gpu, all or gpu:N")


def _no_gpu_reason(sensors: SensorSet) -> str:
    nvml = next((a for a in sensors.availability if a.family == "nvml"), None)
    if nvml is None:
        return ""
    return nvml.reason + (f"; {nvml.fix}" if nvml.fix else "")


@dataclass(frozen=True)
class ProfileRequest:
    """A profiling run as asked for, before this machine's devices are known.

    Attributes:
        plan: the ladder; its `devices` are replaced by those `device` resolves to.
        device: `cpu`, `gpu`, `all` or `gpu:N`.
        kind: the stored run's kind (`profile`, or `scheduled` for the scheduler).
        label: stored with the run.
        config: extra configuration stored with the plan's (the scheduler's entry).
    """

    plan: RunPlan
    device: str = "all"
    kind: RunKind = RunKind.PROFILE
    label: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LockWait:
    """How to take the run lock.

    Attributes:
        what: what the holder does, written into the lock file (`finwatt run`).
        wait_s: how long to wait for another holder to finish.
        poll_s: how often to retry meanwhile.
        stop: an event that gives up waiting when set (the scheduler's stop request).
    """

    what: str
    wait_s: float
    poll_s: float = 0.2
    stop: threading.Event | None = None


class ProfileObserver:
    """What a caller does at each step of a profiling run; every default does nothing."""

    def waiting(self, holder: str) -> None:
        """Called once when the run lock is held by `holder` and the run waits for it."""

    def locked(self) -> None:
        """Called with the run lock held, before the run is created."""

    def sinks(
        self, devices: Sequence[DeviceInfo], families: Mapping[str, Sequence[str]], plan: RunPlan
    ) -> Sequence[TickSink]:
        """Return extra consumers of every tick (the live view).

        Args:
            devices: the devices the run records.
            families: sensor family name -> the device ids it reports on.
            plan: the run's plan.
        """
        del devices, families, plan
        return ()

    def running(self, run_id: str, plan: RunPlan) -> AbstractContextManager[Progress | None]:
        """Return the context the ladder runs in; it yields the progress display, if any."""
        return nullcontext()


@dataclass(frozen=True)
class ProfileOutcome:
    """A profiling run as stored when it ended.

    Attributes:
        run: the run record (status `complete`, `interrupted` or `failed`).
        phases: its phases, with their energy figures and validity.
        summaries: one ladder summary per workload x device.
    """

    run: RunRecord
    phases: list[PhaseRecord]
    summaries: list[LadderSummary]

    @property
    def interrupted(self) -> bool:
        """True when SIGINT/SIGTERM ended the run early (its finished phases are kept)."""
        return self.run.status == RunStatus.INTERRUPTED


def profile(
    settings: Settings,
    request: ProfileRequest,
    lock: LockWait,
    observer: ProfileObserver | None = None,
) -> ProfileOutcome:
    """Run `request` on this machine while recording it; return the stored outcome.

    A `KeyboardInterrupt` during the ladder (SIGINT, or SIGTERM through
    `profiler.workflows.signals`) ends the run `interrupted` with its finished phases
    kept, and the outcome says so.

    Raises:
        DeviceChoiceError: `request.device` names no device here.
        profiler.workflows.database.UnusableDatabaseError: the database cannot be opened.
        profiler.workflows.runlock.LockHeldError: the run lock stayed held for `lock.wait_s`.
    """
    observer = observer or ProfileObserver()
    sensors = probe(settings)
    run_lock = database_run_lock(settings.db_path, lock.what)
    try:
        plan = replace(request.plan, devices=resolve_devices(request.device, sensors))
        open_database(settings.db_path).close()  # before waiting for the lock
        run_lock.acquire(
            wait_s=lock.wait_s, poll_s=lock.poll_s, stop=lock.stop, on_wait=observer.waiting
        )
        observer.locked()
        recording = Recording(
            settings.db_path,
            sensors,
            kind=request.kind,
            interval_s=plan.interval_s,
            label=request.label,
            config={**plan.as_config(), **request.config},
            sinks=observer.sinks(sensors.devices, sensors.family_devices, plan),
        )
    except BaseException:
        sensors.close()
        run_lock.release()
        raise
    try:
        _run_ladder(recording, plan, sensors, observer)
    finally:
        run_lock.release()
    return read_outcome(settings.db_path, recording.run_id)


def _run_ladder(
    recording: Recording, plan: RunPlan, sensors: SensorSet, observer: ProfileObserver
) -> None:
    from profiler.capture.runner import run_profile  # starts workers: loaded when used

    cpu_devices = [d.device_id for d in sensors.devices if d.kind == "cpu"]
    try:
        with observer.running(recording.run_id, plan) as progress:
            try:
                run_profile(recording, plan, cpu_devices=cpu_devices, progress=progress)
            finally:
                if recording.writer.error is None:  # every sample is on disk
                    finalise_phases(
                        recording.db_path, recording.run_id, plan.interval_s, plan.idle_share
                    )
    except KeyboardInterrupt:
        # run_profile has closed the run `interrupted` unless the signal came before it
        # started; stop() is idempotent and covers that case
        recording.stop(RunStatus.INTERRUPTED)
    except BaseException:
        recording.stop(RunStatus.FAILED)
        raise


def finalise_phases(
    db_path: Path, run_id: str, interval_s: float, idle_share: str = "none"
) -> None:
    """Add energy, power, efficiency, CPU share and validity to every stored phase.

    Once sampling has stopped: each phase with units is evaluated from the run's samples
    (`profiler.analysis.phases.evaluated`) and the phases are stored again; a disturbed
    phase gets the workload's own share by CPU time, idle allocated by `idle_share`
    (docs/methodology.md#ladder-and-validity).

    Raises:
        ValueError: `idle_share` is not an idle policy.
    """
    from profiler.analysis.attribution import IDLE_POLICIES, IdlePolicy
    from profiler.analysis.phases import evaluated

    if idle_share not in IDLE_POLICIES:
        raise ValueError(f"unknown idle share {idle_share!r}: use {', '.join(IDLE_POLICIES)}")
    policy = cast("IdlePolicy", idle_share)
    with Store(db_path) as store:
        run = store.runs.get(run_id)
        if run is None:
            return
        data = load_run_data(store, run, source="raw")
        updated = [
            evaluated(phase, data.devices, data.series, interval_s, policy)
            if phase.units is not None
            else phase
            for phase in data.phases
        ]
        store.phases.replace(run_id, updated)


def read_outcome(db_path: Path, run_id: str) -> ProfileOutcome:
    """Read a stored profiling run back: record, phases and ladder summaries.

    Raises:
        StoreError: the run is not in the database (removed while it ran).
    """
    from profiler.analysis.profile import summarise_ladders

    with recorded_run(db_path, run_id) as (store, run):
        phases = store.phases.for_run(run_id)
    return ProfileOutcome(run, phases, summarise_ladders(phases))
