"""NVIDIA GPUs through NVML: power (W), energy (J), utilisation, SM activity, memory, clocks.

Source: the NVML library, through the `pynvml` module of the nvidia-ml-py package. Every
call goes through `library.NvmlLibrary`, which accepts only declared names and
translates NVML's errors into `NvmlError`. Nothing is imported or initialised at import
time; the module is probed on first use.

Check the numbers by hand with::

    nvidia-smi --query-gpu=index,uuid,power.draw.instant,power.draw.average --format=csv
    nvidia-smi --query-gpu=utilization.gpu,memory.used,clocks.sm,mig.mode.current --format=csv

Devices: `gpu:N` is NVML's index N (PCI bus order). Its UUID is kept in
`details["uuid"]`; a workload finds the CUDA ordinal of that GPU from the UUID
(`workloads.cuda_devices`), because CUDA numbers GPUs in its own order and after
`CUDA_VISIBLE_DEVICES`. With MIG enabled, each GPU instance is one more device
`gpu:N/mig:G` with no power of its own (`mig`).

Energy (docs/methodology.md#nvml): where the total-energy counter works (Volta and newer,
mJ since driver load) `energy_j` is the counter minus its value at `start()`, provenance
`measured:nvml-energy`, and power readings are integrated as well into
`Reading.energy_from_power_j` so that `energy_disagreement` can say how far the two
disagree. A counter that goes backwards (driver reload, GPU reset) is rebased: that
interval's energy is dropped, and the count goes on from the new value. Without a
counter `energy_j` is the trapezoid integral of the power readings, provenance
`measured:nvml-power`. Power is instant power where NVML offers it (`fields`), else
`nvmlDeviceGetPowerUsage` (a 1-s average on Ampere and later); `details["power_source"]`
says which.

Cadence: power, energy, utilisation, SM activity and clock are read every tick;
temperature and memory in use change slowly and are read once a second, ticks in between
repeating the last value read. Each GPU's calls run behind a deadline
(`deadline`): a hung call leaves that GPU's metrics null (status degraded) and the
other GPUs and families are read on time.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from types import ModuleType

from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.provenance import MEASURED_NVML_ENERGY, MEASURED_NVML_POWER
from profiler.model.samples import Reading
from profiler.sensors.base import Availability, FamilyState, SensorError
from profiler.sensors.nvml.deadline import CALL_TIMEOUT_S, DeadlineCaller, DeadlineExceeded
from profiler.sensors.nvml.fields import PowerSource
from profiler.sensors.nvml.library import (
    DRIVER_FIX,
    NvmlError,
    NvmlFailure,
    NvmlLibrary,
    import_pynvml,
    init_failure,
    text,
    unofficial_fix,
    unofficial_pynvml,
)
from profiler.sensors.nvml.probe import Query, describe, probe_gpu, tick_queries
from profiler.sensors.nvml.processes import GpuProcesses, read_gpu_processes
from profiler.sensors.nvml.tick import (
    ENERGY,
    MIG_SM,
    POWER,
    SM,
    TICK_FIELDS,
    GpuState,
    RawTick,
)

__all__ = ["LOST_AFTER_FAILED_TICKS", "LOST_AFTER_HUNG_S", "NvmlSensors"]

log = logging.getLogger(__name__)

# A single failed tick can be a driver hiccup (NVML answers Unknown or Timeout under load);
# a GPU on which every call fails this many ticks in a row no longer answers: mark it lost.
LOST_AFTER_FAILED_TICKS = 3
# A GPU whose NVML call has not returned for this long is lost for the rest of the run.
LOST_AFTER_HUNG_S = 30.0


def driver_versions(lib: NvmlLibrary) -> tuple[str | None, str | None]:
    """Return the NVIDIA driver version and its CUDA version ("12.4"), None where unknown.

    Check by hand: `nvidia-smi` prints both in its header.
    """
    try:
        driver: str | None = text(lib.call("nvmlSystemGetDriverVersion"))
    except NvmlError:
        return None, None
    try:
        cuda = int(lib.call("nvmlSystemGetCudaDriverVersion"))  # 12040 means 12.4
    except (NvmlError, TypeError, ValueError):
        return driver, None
    return driver, f"{cuda // 1000}.{cuda % 1000 // 10}"


class NvmlSensors:
    """The `nvml` sensor family: `gpu:N` per GPU NVML enumerates, `gpu:N/mig:G` per MIG instance.

    Check by hand: `nvidia-smi --query-gpu=uuid,power.draw.instant --format=csv`.

    Args:
        nvml: the NVML module (`pynvml` or a fake with the same functions and error
            classes). None imports `pynvml` when first probed.
        call_timeout_s: how long a tick waits for one GPU's NVML calls; None waits for
            ever (calls run inline).

    """

    name = "nvml"

    def __init__(
        self, nvml: ModuleType | None = None, *, call_timeout_s: float | None = CALL_TIMEOUT_S
    ) -> None:
        self._module = nvml
        self._lib: NvmlLibrary | None = None
        self._timeout_s = call_timeout_s
        self._probed = False
        self._initialised = False
        self._started = False
        self._closed = False
        self._availability: Availability | None = None
        self._gpus: list[GpuState] = []
        self._queries: dict[str, Query] = {}
        self._process_seen_us: dict[str, int] = {}

    # -- probing ----------------------------------------------------------------------

    def availability(self) -> Availability:
        """Say whether NVML loads and which GPUs it found, or why not and how to fix it."""
        self._probe()
        assert self._availability is not None
        return self._availability

    def devices(self) -> list[DeviceInfo]:
        """Return one record per usable GPU and per MIG instance (empty without NVML)."""
        self._probe()
        return [info for gpu in self._gpus for info in (gpu.info, *(m.info for m in gpu.migs))]

    @property
    def poll_interval_s(self) -> float | None:
        """None: the energy counter is 64-bit mJ and never wraps in practice."""
        return None

    def _probe(self) -> None:
        if self._probed:
            return
        self._probed = True
        warning: str | None = None
        if self._module is None:
            imported = import_pynvml()
            if isinstance(imported, Availability):
                self._availability = imported
                return
            self._module = imported
            warning = unofficial_pynvml(imported)
            if warning:
                log.warning("nvml: %s; fix: %s", warning, unofficial_fix())
        self._lib = NvmlLibrary(self._module)
        try:
            self._lib.call("nvmlInit")
        except NvmlError as err:
            self._availability = init_failure(err)
            return
        self._initialised = True
        self._availability = self._enumerate(self._lib, warning)

    def _enumerate(self, lib: NvmlLibrary, warning: str | None) -> Availability:
        self._queries = tick_queries(lib)
        try:
            count = int(lib.call("nvmlDeviceGetCount"))
        except NvmlError as err:
            return Availability("nvml", FamilyState.NOT_READABLE, str(err), DRIVER_FIX)
        problems: list[str] = []
        for index in range(count):
            try:
                probed = probe_gpu(lib, index, self._queries, self._timeout_s)
            except NvmlError as err:
                problems.append(f"gpu:{index} skipped ({err})")
                continue
            self._gpus.append(probed.gpu)
            problems.extend(probed.notes)
        if warning:
            problems.append(f"warning: {warning}")
        fix = unofficial_fix() if warning else None
        driver = self._driver_version(lib)
        if not self._gpus:
            reason = f"NVML{driver} found no usable GPU" + (
                f": {'; '.join(problems)}" if problems else ""
            )
            state = FamilyState.NOT_READABLE if problems else FamilyState.NOT_FOUND
            return Availability("nvml", state, reason, fix or (DRIVER_FIX if problems else None))
        described = ", ".join(describe(gpu) for gpu in self._gpus)
        reason = f"NVML{driver}: {described}" + (f"; {'; '.join(problems)}" if problems else "")
        return Availability("nvml", FamilyState.FOUND, reason, fix)

    @staticmethod
    def _driver_version(lib: NvmlLibrary) -> str:
        driver, cuda = driver_versions(lib)
        if driver is None:
            return ""
        return f" (driver {driver}" + (f", CUDA {cuda})" if cuda else ")")

    def versions(self) -> tuple[str | None, str | None]:
        """Return the (driver, CUDA driver API) versions, None where NVML cannot say."""
        self._probe()
        if self._lib is None or not self._initialised or self._closed:
            return None, None
        return driver_versions(self._lib)

    # -- sampling ---------------------------------------------------------------------

    def start(self, t_mono: float) -> None:
        """Take each GPU's energy-counter baseline, first power and first GPM sample."""
        if self._closed:
            raise SensorError("nvml: start() after close()")
        self._probe()
        self._started = True
        for gpu in self._gpus:
            if gpu.status is DeviceStatus.LOST:
                continue
            gpu.restart()
            try:
                first = (gpu.fields & {ENERGY, POWER, SM}) | ({MIG_SM} if gpu.migs else set())
                raw = gpu.deadline.call(functools.partial(self._query, gpu, first, t_mono))
            except DeadlineExceeded as err:
                self._log_once(gpu, "hung", str(err))
                raw = RawTick()
            if raw.lost is not None:
                self._mark_lost(gpu, str(raw.lost))
                continue
            if ENERGY in raw.values:
                gpu.counter_baseline_mj = raw.values[ENERGY]
                gpu.counter_prev = (t_mono, 0.0)
            elif gpu.info.provenance == MEASURED_NVML_ENERGY:
                # Without a baseline the counter cannot say what this run used; integrating
                # power is the honest fallback, and the device record says so.
                gpu.fields.discard(ENERGY)
                self._set_provenance(gpu)
            if POWER in raw.values:
                gpu.power_prev = (t_mono, raw.values[POWER])

    def read(self, t_mono: float) -> list[Reading]:
        """Return one reading per GPU and MIG instance at `t_mono`.

        Never raises for an NVML error on one GPU: the field is null for this tick, the
        device DEGRADED, and after `LOST_AFTER_FAILED_TICKS` ticks on which every call
        failed (or at once on `GpuIsLost`, or after `LOST_AFTER_HUNG_S` of a hung call)
        the device is LOST for the rest of the run, its MIG instances with it.
        """
        if not self._started:
            raise SensorError("nvml: read() before start()")
        if self._closed:
            raise SensorError("nvml: read() after close()")
        return [reading for gpu in self._gpus for reading in self._read_gpu(gpu, t_mono)]

    def _read_gpu(self, gpu: GpuState, t_mono: float) -> list[Reading]:
        if gpu.status is DeviceStatus.LOST:
            return gpu.readings(DeviceStatus.LOST)
        names = gpu.due(t_mono)
        try:
            raw = gpu.deadline.call(lambda: self._query(gpu, names, t_mono))
        except DeadlineExceeded as err:
            return self._hung(gpu, str(err))
        gpu.logged.discard("hung")
        if raw.lost is not None:
            self._mark_lost(gpu, str(raw.lost))
            return gpu.readings(DeviceStatus.LOST)
        self._drop_failed_fields(gpu, raw)
        failed = bool(raw.errors)
        if failed and not raw.values:
            gpu.failed_ticks += 1
            if gpu.failed_ticks >= LOST_AFTER_FAILED_TICKS:
                self._mark_lost(gpu, f"every NVML call failed {gpu.failed_ticks} ticks in a row")
                return gpu.readings(DeviceStatus.LOST)
        else:
            gpu.failed_ticks = 0
        values = gpu.hold_slow(raw, t_mono)
        reading = gpu.reading(values, DeviceStatus.DEGRADED if failed else DeviceStatus.OK)
        power_energy_j = gpu.integrate_power(t_mono, values.get(POWER))
        if gpu.counter_in_use:
            reading.energy_j = self._counter_energy(gpu, t_mono, values.get(ENERGY), reading)
            reading.energy_from_power_j = power_energy_j
        elif gpu.info.provenance == MEASURED_NVML_POWER:
            reading.energy_j = power_energy_j
        # A counter that stops working mid-run leaves energy_j null rather than splice two
        # sources into one cumulative series; energy_from_power_j is not kept either then.
        return [reading, *(m.reading(raw, reading.status) for m in gpu.migs)]

    def gpu_processes(self) -> dict[str, GpuProcesses]:
        """Per-process SM utilisation and memory of each usable GPU (docs/attribution.md).

        Call it on the sampler thread after `read` (a tick sink does). A GPU whose read
        fails or hangs is left out of this read; the job's GPU share then has no basis for
        the interval and its energy stays with `other`.
        """
        if self._lib is None or not self._started or self._closed:
            return {}
        figures: dict[str, GpuProcesses] = {}
        for gpu in self._gpus:
            if gpu.status is DeviceStatus.LOST:
                continue
            device_id = gpu.info.device_id
            read = functools.partial(
                read_gpu_processes, self._lib, gpu.handle, self._process_seen_us.get(device_id, 0)
            )
            try:
                figures[device_id] = gpu.deadline.call(read)
            except (DeadlineExceeded, NvmlError) as err:
                self._log_once(gpu, "processes", f"per-process figures unreadable: {err}")
                continue
            self._process_seen_us[device_id] = figures[device_id].last_seen_us
        return figures

    def _query(self, gpu: GpuState, names: set[str], t_mono: float) -> RawTick:
        """Read the named fields (on the GPU's worker thread): values, errors, or lost."""
        raw = RawTick()
        for name in TICK_FIELDS:
            if name not in names:
                continue
            try:
                raw.values[name] = self._queries[name](gpu, t_mono)
            except NvmlError as err:
                if err.failure is NvmlFailure.LOST:
                    raw.lost = err
                    return raw
                raw.errors[name] = err
        for mig in gpu.migs:
            try:
                values, errors = mig.query(self._lib_or_fail(), names, t_mono)
            except NvmlError as err:
                raw.lost = err
                return raw
            raw.mig[mig.device_id] = values
            if errors:
                raw.mig_errors[mig.device_id] = errors
        return raw

    def _drop_failed_fields(self, gpu: GpuState, raw: RawTick) -> None:
        for device_id, errors in raw.mig_errors.items():
            for name, err in errors.items():
                self._log_once(gpu, f"{device_id} {name}", f"{device_id}: {err}")
        for name, err in raw.errors.items():
            if err.failure in (NvmlFailure.UNSUPPORTED, NvmlFailure.NO_PERMISSION):
                if name == POWER and gpu.power_source is PowerSource.INSTANT:
                    # Instant power stopped working: the 1-s average is still power.
                    gpu.power_source = PowerSource.AVERAGE
                    gpu.set_detail("power_source", PowerSource.AVERAGE.value)
                else:
                    # Decided at probe where possible; a field that stops working mid-run
                    # is dropped for the rest of it rather than retried every tick.
                    gpu.fields.discard(name)
            gpu.forget_slow(name)
            self._log_once(gpu, name, str(err))

    def _hung(self, gpu: GpuState, why: str) -> list[Reading]:
        self._log_once(gpu, "hung", why)
        if gpu.deadline.hung_for_s() >= LOST_AFTER_HUNG_S:
            self._mark_lost(gpu, why)
            return gpu.readings(DeviceStatus.LOST)
        return gpu.readings(DeviceStatus.DEGRADED)

    def _counter_energy(
        self, gpu: GpuState, t_mono: float, counter_mj: int | None, reading: Reading
    ) -> float | None:
        """Energy since start from the counter; a counter that went backwards is rebased."""
        resets = gpu.counter_resets
        energy_j = gpu.counter_energy(t_mono, counter_mj, reading)
        if gpu.counter_resets > resets:
            log.warning(
                "nvml: %s: energy counter went backwards (reset %d): interval dropped, rebased",
                gpu.device_id,
                gpu.counter_resets,
            )
        return energy_j

    def _mark_lost(self, gpu: GpuState, why: str) -> None:
        gpu.status = DeviceStatus.LOST
        gpu.fields.clear()
        log.warning("nvml: %s lost (%s); its metrics are null from now on", gpu.device_id, why)

    def _set_provenance(self, gpu: GpuState) -> None:
        provenance = MEASURED_NVML_POWER if POWER in gpu.fields else None
        gpu.info = replace(gpu.info, provenance=provenance)

    def _log_once(self, gpu: GpuState, key: str, message: str) -> None:
        if key not in gpu.logged:
            gpu.logged.add(key)
            log.warning("nvml: %s: %s", gpu.device_id, message)

    def _lib_or_fail(self) -> NvmlLibrary:
        if self._lib is None:
            raise SensorError("nvml: not initialised")
        return self._lib

    def close(self) -> None:
        """Free GPM buffers and shut NVML down (once); failures are logged, not raised."""
        self._closed = True
        if not self._initialised:
            return
        self._initialised = False
        lib = self._lib_or_fail()
        for gpu in self._gpus:
            try:
                gpu.deadline.call(gpu.free_gpm)
            except DeadlineExceeded as err:
                log.warning("nvml: %s", err)
            gpu.deadline.close()
        # A hung driver can hang the shutdown as well: it gets the same deadline.
        shutdown = DeadlineCaller(self._timeout_s, "nvml-shutdown")
        try:
            shutdown.call(lambda: lib.call("nvmlShutdown"))
        except (NvmlError, DeadlineExceeded) as err:
            log.warning("nvml: %s", err)
        shutdown.close()
