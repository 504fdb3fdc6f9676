"""Run a user's command, follow its process tree and store its energy: `finwatt exec`.

The sequence: probe and start a recording (run kind `job`) with a tick sink that reads the
job's process tree (`profiler.sensors.job_tree`); start the command with no shell; forward
SIGINT/SIGTERM to it while it runs; reap it with `os.wait4` (its rusage closes the CPU
account); stop the recording; share the devices' energy (`profiler.analysis.job_energy`)
and store the `job` row. The job may write its units of work to the file named in
`FINWATT_UNITS_FILE`. Accounting is process-tree (docs/attribution.md says why not a
cgroup); the run's config and the job row say so.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from profiler.analysis.attribution import GpuBasis, IdlePolicy
from profiler.analysis.job_energy import DeviceBasis, GpuWeights, JobTick, attribute_job
from profiler.analysis.reconcile import WALL_KINDS
from profiler.capture.recording import Recording
from profiler.files.small_files import SmallFileError, read_small_text
from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattInputError, FinwattRuntimeError
from profiler.model.job import JobRecord
from profiler.model.run import RunKind, RunStatus
from profiler.model.samples import Tick, TickSink
from profiler.sensors.job_tree import host_busy_cpu_s, read_tree
from profiler.sensors.nvml.family import NvmlSensors
from profiler.sensors.nvml.processes import GpuProcesses
from profiler.sensors.probe import SensorSet
from profiler.settings.config import Settings
from profiler.store.database import Store
from profiler.workflows.exec_signals import JobStoppedError, check_stop, forward_signals
from profiler.workflows.job_progress import JobProgress, progress_folder
from profiler.workflows.monitor import MonitorOutcome, monitor_outcome, monitor_recording
from profiler.workflows.probe import probe
from profiler.workflows.signals import StopRequest

UNITS_FILE_ENV = "FINWATT_UNITS_FILE"
MAX_UNITS = 1e18
"""The most units of work one job may report: sums over many jobs stay finite."""
UNITS_FILE_MAX_BYTES = 4096
"""The units file holds one number; more than this is not read."""
ACCOUNTING = "process-tree"
"""How `exec` follows the job: psutil's tree walk each tick + reaped children's times."""


class JobInputError(FinwattInputError):
    """The command cannot be run as given (not found, not executable)."""


class JobStartError(FinwattRuntimeError):
    """The command was found but the system would not start it."""


@dataclass(frozen=True)
class JobSpec:
    """What to run and how to label it.

    Attributes:
        command: argv, run without a shell.
        label: stored with the run (default: the command's name).
        units: units of work (the units file's number wins when the job writes one).
        unit: the unit's name.
        tags: KEY=VALUE pairs stored with the job.
        interval_s: sampling interval in seconds.
        idle_share: the idle policy.
    """

    command: Sequence[str]
    label: str | None = None
    units: float | None = None
    unit: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    interval_s: float = 0.5
    idle_share: IdlePolicy = "none"


@dataclass(frozen=True)
class JobOutcome:
    """A finished job: its stored row, the run's device summaries, and how it ended.

    Attributes:
        job: the stored `job` row.
        monitor: the run and its per-device summaries.
        signalled: the signal forwarded to the job, None when none came.
        notes: remarks for the user (an unreadable units file).
    """

    job: JobRecord
    monitor: MonitorOutcome
    signalled: int | None
    notes: tuple[str, ...] = ()


GpuReader = Callable[[], Mapping[str, GpuProcesses]]


def gpu_weights(figures: GpuProcesses, pids: Iterable[int]) -> GpuWeights:
    """Sum one GPU's per-process figures for the job's processes and for everyone.

    SM utilisation where the driver gives per-process figures, else memory held.
    """
    members = set(pids)
    if figures.util_supported:
        by_pid: Mapping[int, float] = figures.sm_util_by_pid
        basis: GpuBasis = "gpu-util"
    else:
        by_pid = {pid: float(b) for pid, b in figures.mem_bytes_by_pid.items()}
        basis = "gpu-memory"
    job = sum(w for pid, w in by_pid.items() if pid in members)
    return GpuWeights(basis, job, sum(by_pid.values()))


def nvml_reader(sensors: SensorSet) -> GpuReader | None:
    """Return the probed NVML family's per-process reader, None without NVML GPUs."""
    for family in sensors.families:
        if isinstance(family, NvmlSensors) and family.devices():
            return family.gpu_processes
    return None


class TreeTracker:
    """A tick sink: at every tick, the devices' energy, host busy CPU and the job tree's CPU.

    Args:
        gpu_reader: per-process GPU figures (`NvmlSensors.gpu_processes`), read on the
            sampler thread right after the tick's own NVML reads; None without GPUs.
    """

    def __init__(self, gpu_reader: GpuReader | None = None) -> None:
        self._gpu_reader = gpu_reader
        self._lock = threading.Lock()
        self.pid: int | None = None
        self.final_cpu_s: float | None = None
        self.peak_rss_bytes = 0
        self._host0 = host_busy_cpu_s()
        self._job_high = 0.0
        self._cpu0_s = 0.0
        self.ticks: list[JobTick] = [JobTick(0.0, {}, 0.0, 0.0)]

    def follow(self, pid: int, *, from_now: bool = False) -> None:
        """Follow the tree under `pid`; `from_now`: count only CPU time from now on.

        `from_now` is for an already-running process (`measure()` follows its caller).
        """
        with self._lock:
            self._cpu0_s = read_tree(pid).cpu_s if from_now else 0.0
            self.pid = pid

    def on_tick(self, tick: Tick) -> None:
        """Record one tick (called on the sampler thread)."""
        with self._lock:
            cpu_s = self._job_high
            pids: tuple[int, ...] = ()
            if self.final_cpu_s is not None:
                cpu_s = max(cpu_s, self.final_cpu_s)
            elif self.pid is not None:
                tree = read_tree(self.pid)
                cpu_s = max(cpu_s, tree.cpu_s - self._cpu0_s)
                self.peak_rss_bytes = max(self.peak_rss_bytes, tree.rss_bytes)
                pids = tree.pids
            self._job_high = cpu_s
            gpus = {}
            if self._gpu_reader is not None:
                gpus = {d: gpu_weights(f, pids) for d, f in self._gpu_reader().items()}
            energies = {d: r.energy_j for d, r in tick.readings.items()}
            if len(self.ticks) == 1:  # counters start at 0 J at the run's start
                self.ticks[0] = JobTick(0.0, dict.fromkeys(energies, 0.0), 0.0, 0.0)
            host_s = host_busy_cpu_s() - self._host0
            self.ticks.append(JobTick(tick.t, energies, host_s, cpu_s, gpus))

    def close(self, rusage_cpu_s: float) -> None:
        """Close the account with `os.wait4`'s rusage CPU seconds of the reaped root.

        rusage's `ru_maxrss` is not used for the peak: it is the largest single process
        and counts finwatt's own image in the child between fork and exec.
        """
        with self._lock:
            self.final_cpu_s = max(self._job_high, rusage_cpu_s)

    @property
    def cpu_s(self) -> float:
        """The tree's CPU seconds so far (the rusage total once closed)."""
        with self._lock:
            return self.final_cpu_s if self.final_cpu_s is not None else self._job_high


def check_command(command: Sequence[str]) -> str:
    """Return the executable the command names, or raise a one-line error.

    Raises:
        JobInputError: no command, or it is not found / not executable.
    """
    if not command:
        raise JobInputError("no command given: finwatt exec [OPTIONS] -- COMMAND [ARGS...]")
    found = shutil.which(command[0])
    if found is None:
        raise JobInputError(
            f"command not found or not executable: {command[0]!r}; give its path, "
            "or use sh -c '...' for a shell command"
        )
    return found


def exit_code_of(wait_status: int) -> int:
    """Return a shell-style exit code: the status, or 128 + N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def read_units_file(path: Path) -> tuple[float | None, str | None]:
    """Return the number the job wrote to its units file and a note when it is unusable."""
    try:  # a FIFO, /dev/zero or a huge file must not hang finwatt (docs/decisions.md#hostile-input)
        text = read_small_text(path, max_bytes=UNITS_FILE_MAX_BYTES).strip()
    except SmallFileError as err:
        if err.missing:
            return None, None
        return None, f"{UNITS_FILE_ENV} could not be read ({err}); units not taken"
    if not text:
        return None, None
    try:
        value = float(text.split()[0])
    except ValueError:
        return None, f"{UNITS_FILE_ENV} held {text[:40]!r}, not a number; units not taken"
    if not 0 <= value <= MAX_UNITS:  # negative, NaN, infinite or absurd (hostile input)
        return None, f"{UNITS_FILE_ENV} held {value!r}; units must be 0 to {MAX_UNITS:g}, not taken"
    return value + 0.0, None  # -0 is 0


def _device_bases(devices: Sequence[DeviceInfo]) -> list[DeviceBasis]:
    bases = []
    for device in devices:
        if device.provenance is None or device.kind in WALL_KINDS:
            continue  # the wall is the sum of the parts, never one of them (review 2)
        idle_w = device.details.get("model_idle_w")
        bases.append(
            DeviceBasis(
                device.device_id,
                device.kind,
                device.provenance,
                float(idle_w) if idle_w is not None else None,
                "power model idle" if idle_w is not None else "window minimum",
            )
        )
    return bases


def run_job(
    settings: Settings,
    spec: JobSpec,
    on_start: Callable[[str], None] | None = None,
    *,
    sensors: SensorSet | None = None,
    stop: StopRequest | None = None,
) -> JobOutcome:
    """Run the command, record every device meanwhile, store and return the job.

    `sensors`: already probed sensors (tests pass fake NVML ones); probed when None.
    `stop`: the signals recorded since the command began (`stop_on_signals`): once one
    came, nothing more is started (profiler.workflows.exec_signals).

    Raises:
        JobInputError: the command is not found.
        JobStartError: the system would not start it.
        JobStoppedError: a signal came before the job started; it was not started.
    """
    executable = check_command(spec.command)
    sensors = _probed(settings, sensors, stop)
    tracker = TreeTracker(nvml_reader(sensors))
    progress = JobProgress(progress_folder(settings), spec.tags)
    recording = _job_recording(settings, spec, sensors, [tracker.on_tick, progress.on_tick])
    devices = recording.sensors.devices
    progress.begin(
        recording.run_id,
        lambda: job_record(recording.run_id, devices, tracker, spec, exit_status=None, seconds=0),
    )
    signals: list[int] = []
    with tempfile.TemporaryDirectory(prefix="finwatt-job-") as folder:
        units_file = Path(folder) / "units"
        env = {**os.environ, UNITS_FILE_ENV: str(units_file)}
        try:
            check_stop(stop)
            recording.start()
            status, seconds = _run_and_reap(
                executable,
                spec,
                env,
                tracker,
                signals,
                on_running=lambda: on_start(recording.run_id) if on_start is not None else None,
                stop=stop,
            )
        except JobStoppedError as err:  # nothing started: the run says why (hostile input)
            recording.stop(RunStatus.INTERRUPTED, reason=err.reason)
            progress.end(None)
            raise JobStoppedError(err.signum, recording.run_id) from None
        except JobStartError as err:  # one line, naming the run kept as `failed` (hostile input)
            recording.stop(RunStatus.FAILED, reason=str(err))
            progress.end(None)
            raise JobStartError(f"{err}; run {recording.run_id} stored as failed") from err
        except BaseException:
            recording.stop(RunStatus.FAILED)
            progress.end(None)
            raise
        recording.stop(RunStatus.INTERRUPTED if signals else RunStatus.COMPLETE)
        file_units, note = read_units_file(units_file)
    job = job_record(
        recording.run_id,
        recording.sensors.devices,
        tracker,
        spec,
        exit_status=status,
        seconds=seconds,
        file_units=file_units,
    )
    with Store(settings.db_path) as store:
        store.jobs.add(job)
    progress.end(job)
    outcome = monitor_outcome(settings.db_path, recording.run_id)
    return JobOutcome(job, outcome, signals[0] if signals else None, (note,) if note else ())


def _probed(settings: Settings, sensors: SensorSet | None, stop: StopRequest | None) -> SensorSet:
    """Return the sensors (probed when None), closed again if a signal came meanwhile."""
    check_stop(stop)
    sensors = sensors if sensors is not None else probe(settings)
    try:
        check_stop(stop)
    except JobStoppedError:
        sensors.close()
        raise
    return sensors


def _job_recording(
    settings: Settings, spec: JobSpec, sensors: SensorSet, sinks: Sequence[TickSink]
) -> Recording:
    """Return the `job` run's recording of every device, not yet started."""
    config = {"source": "finwatt exec", "command": list(spec.command), "accounting": ACCOUNTING}
    return monitor_recording(
        settings,
        interval_s=spec.interval_s,
        config=config,
        label=spec.label or Path(spec.command[0]).name,
        kind=RunKind.JOB,
        sensors=sensors,
        sinks=sinks,
    )


_START_HINTS = {
    errno.ENOENT: " (a script whose #! interpreter is missing, or a CRLF line end after it?)",
    errno.ENOEXEC: " (not a program for this machine, nor a script starting with #!)",
}


def _run_and_reap(
    executable: str,
    spec: JobSpec,
    env: Mapping[str, str],
    tracker: TreeTracker,
    signals: list[int],
    on_running: Callable[[], None] = lambda: None,
    stop: StopRequest | None = None,
) -> tuple[int, float]:
    """Start the command, forward signals, reap it; return (exit code, seconds).

    `on_running` is called once the command runs (not when it could not start).

    Raises:
        JobStoppedError: a signal came before the command started; it is not started.
        JobStartError: the system would not start it.
    """
    started = time.monotonic()
    process: subprocess.Popen[bytes] | None = None
    with forward_signals(lambda: tracker.pid, signals.append):
        check_stop(stop, signals)  # the last look before the job exists
        try:
            process = subprocess.Popen([executable, *spec.command[1:]], env=dict(env))
        except OSError as err:
            hint = _START_HINTS.get(err.errno or 0, "")
            raise JobStartError(f"cannot start {spec.command[0]!r}: {err.strerror}{hint}") from err
        tracker.follow(process.pid)
        on_running()
        if signals:  # a signal came while the job was starting: it still gets it
            os.kill(process.pid, signals[0])
        _, wait_status, rusage = os.wait4(process.pid, 0)
        process.returncode = exit_code_of(wait_status)
    seconds = time.monotonic() - started
    tracker.close(rusage.ru_utime + rusage.ru_stime)
    return process.returncode, seconds


def job_record(
    run_id: str,
    devices: Sequence[DeviceInfo],
    tracker: TreeTracker,
    spec: JobSpec,
    *,
    exit_status: int | None,
    seconds: float,
    file_units: float | None = None,
    accounting: str = ACCOUNTING,
) -> JobRecord:
    """Share the recorded energy with the job and return its row (not stored yet)."""
    affinity = len(os.sched_getaffinity(0))
    energy = attribute_job(
        tracker.ticks,
        _device_bases(devices),
        spec.idle_share,
        job_cores=float(affinity),
        host_cores=float(os.cpu_count() or affinity),
    )
    known = energy.provenance is not None
    return JobRecord(
        run_id=run_id,
        command=list(spec.command),
        exit_status=exit_status,
        units=file_units if file_units is not None else spec.units,
        unit=spec.unit,
        tags=dict(spec.tags),
        seconds=seconds,
        dynamic_j=energy.dynamic_j if known else None,
        idle_j=energy.idle_j if known else None,
        idle_unallocated_j=energy.idle_unallocated_j if known else None,
        host_energy_j=energy.host_energy_j,
        idle_share=spec.idle_share,
        provenance=energy.provenance,
        cpu_s=tracker.cpu_s,
        gpu_s=energy.gpu_s,
        peak_rss_bytes=tracker.peak_rss_bytes or None,
        accounting=accounting,
        details={
            "devices": energy.by_device,
            "units_source": "units file" if file_units is not None else "given",
        },
    )
