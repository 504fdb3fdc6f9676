"""Profiling runs: workloads x devices x a SPECpower-style load ladder, while recording.

Per workload and device (docs/methodology.md#ladder-and-validity): start the workers (child
processes, spawn), calibrate (n unthrottled intervals, X_max = the median of all but the
first), run the ladder in descending order, then active idle; once the unthrottled 100 %
level has run, its throughput is the reference every lower level is a share of
(docs/methodology.md#calibration). Each phase is stored as it ends, so an interrupted run
keeps the phases it finished; once sampling has stopped and every sample is on disk, the
workflow (`profiler.workflows.profile.finalise_phases`) adds each phase's energy figures
and validity.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from profiler.analysis.phases import MAX_FOREIGN_CPU_SHARE, misses_target
from profiler.analysis.thresholds import above
from profiler.capture.recording import Recording
from profiler.model.device import DeviceInfo
from profiler.model.plan import DEFAULT_LEVELS, QUICK_LEVELS, Progress, RunPlan
from profiler.model.run import PhaseMetrics, PhaseRecord, RunStatus
from profiler.sensors.procfs import parse_proc_stat
from profiler.store.database import Store
from workloads.base import WorkloadError
from workloads.pool import PhaseResult, PoolStoppedError, WorkerError, WorkerPool, usable_cores

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LEVELS",
    "QUICK_LEVELS",
    "Progress",
    "RunPlan",
    "run_profile",
]


@dataclass
class _NullProgress:
    events: list[str] = field(default_factory=list)

    def stage(self, workload: str, device: str, what: str, seconds: float) -> None:
        self.events.append(f"{workload} {device} {what}")

    def phase_done(self, phase: PhaseRecord) -> None:
        pass


def workload_device(device: str, devices: Sequence[DeviceInfo]) -> str:
    """Return the name a workload runs `device` by: a GPU by its UUID where NVML gave one.

    `gpu:N` is NVML's index, which is not a CUDA ordinal under `CUDA_VISIBLE_DEVICES` or
    another enumeration order; `gpu:GPU-<uuid>` makes the worker pick the very GPU whose
    energy is read (`workloads.cuda_devices`). Without a UUID the index is passed as is.
    """
    info = next((d for d in devices if d.device_id == device), None)
    uuid = info.details.get("uuid") if info is not None else None
    return f"gpu:{uuid}" if device.startswith("gpu:") and isinstance(uuid, str) else device


def _pool_for(plan: RunPlan, workload: str, device: str, stop: threading.Event) -> WorkerPool:
    if device == "cpu":
        return WorkerPool(
            workload,
            plan.size,
            "numpy",
            usable_cores(),
            plan.seed,
            device="cpu",
            blas_threads=1,
            stop=stop,
        )
    return WorkerPool(workload, plan.size, "auto", 1, plan.seed, device=device, stop=stop)


def _energy_device(device: str, cpu_devices: Sequence[str]) -> str:
    """Return the stored device id a phase's energy comes from."""
    if device != "cpu":
        return device
    return cpu_devices[0] if len(cpu_devices) == 1 else "cpu"


def host_cpu_seconds() -> tuple[float, int]:
    """Return the host's busy CPU seconds since boot over all logical CPUs, and their count.

    From /proc/stat (`profiler.sensors.procfs.parse_proc_stat`): every process on the
    host, ours included.
    """
    cpus = parse_proc_stat(Path("/proc/stat").read_bytes())
    return sum(busy for busy, _ in cpus), len(cpus)


def run_profile(
    recording: Recording,
    plan: RunPlan,
    *,
    cpu_devices: Sequence[str],
    progress: Progress | None = None,
    host_cpu: Callable[[], tuple[float, int]] | None = host_cpu_seconds,
) -> str:
    """Run `plan` while `recording` samples; returns the final status.

    Stops the recording at the end ("complete"), on Ctrl-C / SIGTERM ("interrupted",
    re-raising KeyboardInterrupt after the data is safe), or on an unexpected error
    ("failed"). When storing samples fails (a full disk), the workers are stopped within
    about a tenth of a second, wherever the ladder is, and `RecordingFailedError` is
    raised with the run stored `failed`. A worker crash fails its workload and the run
    goes on. A level that
    other processes disturbed (their CPU time, from `host_cpu`, over
    `MAX_FOREIGN_CPU_SHARE` of the host) or that missed its target load is run once more;
    the retry is kept (`attempts` 2), disturbed or not.
    """
    report = progress or _NullProgress()
    status = RunStatus.FAILED
    recording.start()
    stop = threading.Event()  # set from the writer's thread by the first failed write
    recording.when_failed(stop.set)
    t0 = recording.sampler.t0
    if t0 is None:  # Sampler.start() sets it; a sampler factory that does not is a bug
        raise RuntimeError("the recording's sampler did not start")
    try:
        for workload in plan.workloads:
            for device in plan.devices:
                _profile_one(
                    recording, plan, (workload, device, stop), t0, cpu_devices, report, host_cpu
                )
        status = RunStatus.COMPLETE
    except KeyboardInterrupt:
        status = RunStatus.INTERRUPTED
        raise
    finally:
        recording.stop(status)  # raises RecordingFailedError when samples could not be stored
    return status


def _profile_one(
    recording: Recording,
    plan: RunPlan,
    what: tuple[str, str, threading.Event],
    t0: float,
    cpu_devices: Sequence[str],
    report: Progress,
    host_cpu: Callable[[], tuple[float, int]] | None,
) -> None:
    """Run one workload on one device through calibration and the ladder.

    `what` is the workload, the device and the event that stops the pool early.
    """
    workload, device, stop = what
    energy_device = _energy_device(device, cpu_devices)
    t_begin = time.monotonic() - t0
    try:
        report.stage(workload, device, "prepare", 0.0)
        target = workload_device(device, recording.sensors.devices)
        with _pool_for(plan, workload, target, stop) as pool:
            calibration_s = plan.calibration_intervals * plan.calibration_interval_s
            report.stage(workload, device, "calibrate", calibration_s)
            x_max = pool.calibrate(plan.calibration_interval_s, plan.calibration_intervals)
            reference: float | None = None  # X_100 once the 100 % level has run
            for level in plan.levels:
                recording.raise_if_failed()  # a full disk ends the run at the next level
                report.stage(workload, device, f"{level:.0%}", plan.phase_seconds)
                rates = (x_max, reference)
                phase = _run_level(pool, plan, level, t0, energy_device, rates, host_cpu)
                if _worth_retrying(phase):
                    report.stage(workload, device, f"{level:.0%} again", plan.phase_seconds)
                    phase = _run_level(pool, plan, level, t0, energy_device, rates, host_cpu)
                    phase = replace(phase, metrics=phase.metrics.updated(attempts=2))
                if level >= 1.0:
                    reference = _throughput(phase) or reference
                with Store(recording.db_path) as store:
                    store.phases.add(recording.run_id, phase)
                report.phase_done(phase)
    except PoolStoppedError:
        recording.raise_if_failed()  # the only setter of `stop`: raises RecordingFailedError
        raise
    except (WorkerError, WorkloadError) as err:
        log.error("%s on %s failed: %s", workload, device, err)
        failed = PhaseRecord(
            workload,
            energy_device,
            plan.levels[0] if plan.levels else 1.0,
            t_begin,
            time.monotonic() - t0,
            None,
            None,
            valid=False,
            metrics=PhaseMetrics.of(error=str(err)),
        )
        with Store(recording.db_path) as store:
            store.phases.add(recording.run_id, failed)
        report.phase_done(failed)


def _throughput(phase: PhaseRecord) -> float | None:
    """The phase's units per second of the workers' own time, None without work."""
    seconds = phase.metrics.worker_seconds
    return phase.units / seconds if phase.units and seconds else None


def _run_level(
    pool: WorkerPool,
    plan: RunPlan,
    level: float,
    t0: float,
    device: str,
    rates: tuple[float, float | None],
    host_cpu: Callable[[], tuple[float, int]] | None,
) -> PhaseRecord:
    """Hold one load level; the phase carries its foreign CPU share where measured.

    `rates`: the calibrated X_max and the reference the level is a share of (the 100 %
    level's throughput once it has run, docs/methodology.md#calibration; None before:
    X_max).
    """
    x_max, reference = rates
    before = host_cpu() if host_cpu else None
    own_before_s = time.process_time()  # this process, every thread: sampler, writer, pool
    t_start = time.monotonic() - t0
    result = pool.run_phase(level, plan.phase_seconds, reference_units_per_s=reference)
    t_end = time.monotonic() - t0
    own_cpu_s = time.process_time() - own_before_s
    phase = _phase_record(result, device, t_start, t_end, x_max, pool)
    figures: dict[str, float] = {"profiler_cpu_seconds": own_cpu_s}
    if reference is not None:
        figures["reference_units_per_s"] = reference
    phase = replace(phase, metrics=phase.metrics.updated(**figures))
    if host_cpu is None or before is None or t_end <= t_start:
        return phase
    busy_s, cpus = host_cpu()
    foreign_cpu_s = busy_s - before[0] - (result.cpu_seconds or 0.0) - own_cpu_s
    share = max(0.0, foreign_cpu_s) / (max(1, cpus) * (t_end - t_start))
    return replace(phase, metrics=phase.metrics.updated(foreign_cpu_share=min(1.0, share)))


def _worth_retrying(phase: PhaseRecord) -> bool:
    """A level is run once more when other load disturbed it or it missed its target.

    The unthrottled 100 % level never misses (`misses_target`): it is the reference.
    """
    foreign = phase.metrics.foreign_cpu_share
    disturbed = foreign is not None and above(foreign, MAX_FOREIGN_CPU_SHARE)
    missed = phase.target_load > 0 and misses_target(phase.target_load, phase.achieved_load)
    return disturbed or missed


def _phase_record(
    result: PhaseResult,
    device: str,
    t_start: float,
    t_end: float,
    x_max: float,
    pool: WorkerPool,
) -> PhaseRecord:
    achieved = 0.0 if result.target_load == 0 else result.achieved_load
    return PhaseRecord(
        workload=result.workload,
        device_id=device,
        target_load=result.target_load,
        t_start=t_start,
        t_end=t_end,
        units=float(result.units),
        unit=result.unit,
        achieved_load=achieved,
        valid=None,
        metrics=PhaseMetrics.of(
            x_max_units_per_s=x_max,
            worker_seconds=result.seconds,
            worker_cpu_seconds=result.cpu_seconds,
            batches=result.batches,
            workers=pool.n_workers,
        ),
    )
