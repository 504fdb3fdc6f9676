"""NVIDIA GPUs through NVML: power (W), energy (J), utilisation, memory, SM clock, temperature.

Source: the NVML library, through the `pynvml` module of the nvidia-ml-py package. This
module is the only place in finwatt that touches NVML: every call goes through
`NvmlSensors._call`, which accepts only the names declared in `NVML_FUNCTIONS` (a test
checks each exists in the real `pynvml`) and translates NVML's errors into `NvmlError`.
Nothing is imported or initialised at import time; the module is probed on first use.

Check the numbers by hand with::

    nvidia-smi --query-gpu=index,name,power.draw,energy.consumption,power.limit --format=csv
    nvidia-smi --query-gpu=utilization.gpu,memory.used,clocks.sm,temperature.gpu --format=csv

Energy (methodology section 1): where the total-energy counter works (Volta and newer,
mJ since driver load) `energy_j` is the counter minus its value at `start()`, provenance
`measured:nvml-energy`, and the power readings are integrated as well into
`Reading.energy_from_power_j` so that `energy_disagreement` can report how far the two
disagree. Otherwise `energy_j` is the trapezoid integral of the power readings over the
monotonic times given to `start()` and `read()`, provenance `measured:nvml-power`.
"""

from __future__ import annotations

import enum
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.provenance import MEASURED_NVML_ENERGY, MEASURED_NVML_POWER
from profiler.model.samples import Reading
from profiler.sensors.base import Availability, FamilyState, SensorError

log = logging.getLogger(__name__)

#: Every NVML function this adapter may call; `_call` refuses any other name.
NVML_FUNCTIONS: tuple[str, ...] = (
    "nvmlInit",
    "nvmlShutdown",
    "nvmlSystemGetDriverVersion",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetName",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetPowerManagementLimit",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetTemperature",
)

#: Every NVML constant this adapter reads.
NVML_CONSTANTS: tuple[str, ...] = ("NVML_CLOCK_SM", "NVML_TEMPERATURE_GPU")

#: Every NVML error class this adapter distinguishes (`NVMLError` is their base).
NVML_ERRORS: tuple[str, ...] = (
    "NVMLError",
    "NVMLError_NotSupported",
    "NVMLError_NoPermission",
    "NVMLError_FunctionNotFound",
    "NVMLError_GpuIsLost",
    "NVMLError_ResetRequired",
    "NVMLError_LibraryNotFound",
    "NVMLError_DriverNotLoaded",
)

# A single failed tick can be a driver hiccup (NVML answers Unknown or Timeout under load);
# a GPU on which every call fails this many ticks in a row no longer answers: mark it lost.
LOST_AFTER_FAILED_TICKS = 3

_MW_PER_W = 1000.0
_MJ_PER_J = 1000.0

# Per-tick fields, each backed by one NVML call and degrading on its own.
_POWER = "power"
_ENERGY = "energy"
_UTIL = "util"
_MEMORY = "memory"
_CLOCK = "clock"
_TEMPERATURE = "temperature"
_TICK_FIELDS = (_POWER, _ENERGY, _UTIL, _MEMORY, _CLOCK, _TEMPERATURE)


class NvmlFailure(enum.StrEnum):
    """What an NVML error means to finwatt."""

    UNSUPPORTED = "unsupported"  # NotSupported, FunctionNotFound: the field does not exist
    NO_PERMISSION = "no_permission"  # the field exists but this user may not read it
    LOST = "lost"  # GpuIsLost, ResetRequired: the device fell off the bus
    NO_LIBRARY = "no_library"  # libnvidia-ml.so not found: no NVIDIA driver installed
    NO_DRIVER = "no_driver"  # the library is there but the kernel driver is not loaded
    OTHER = "other"  # anything else (Unknown, Timeout, ...): this call failed, retry later


class NvmlError(SensorError):
    """An NVML call failed; the message names the call and NVML's own error text.

    Attributes:
        call: the NVML function that failed.
        failure: what the error means for the field or device.

    """

    def __init__(self, call: str, failure: NvmlFailure, detail: str) -> None:
        super().__init__(f"{call} failed: {detail}")
        self.call = call
        self.failure = failure


def energy_disagreement(counter_j: float | None, power_j: float | None) -> float | None:
    """Return the relative difference of integrated-power energy from counter energy.

    The data-quality figure of methodology section 1: `(power_j - counter_j) / counter_j`,
    so -0.43 means integrating NVML's power readings gave 43% less energy than the
    energy counter over the same window (zeus issue 181 saw 187 J vs 327 J over 5 s).

    Args:
        counter_j: energy of a window from the NVML energy counter, in joules.
        power_j: energy of the same window from integrated power readings, in joules.

    Returns:
        The signed relative difference, or None when either figure is missing or the
        counter energy is not positive (nothing to compare against).

    """
    if counter_j is None or power_j is None or counter_j <= 0.0:
        return None
    return (power_j - counter_j) / counter_j


@dataclass
class _Gpu:
    """One probed GPU and its running state during a run."""

    index: int
    handle: Any
    info: DeviceInfo
    fields: set[str]
    status: DeviceStatus = DeviceStatus.OK
    counter_baseline_mj: int | None = None
    counter_prev: tuple[float, float] | None = None  # (t_mono, energy_j) for dE/dt
    power_prev: tuple[float, float] | None = None  # (t_mono, power_w) for the trapezoid
    energy_from_power_j: float = 0.0
    failed_ticks: int = 0
    logged: set[str] = field(default_factory=set)

    @property
    def device_id(self) -> str:
        return f"gpu:{self.index}"

    @property
    def counter_in_use(self) -> bool:
        return _ENERGY in self.fields and self.counter_baseline_mj is not None


class NvmlSensors:
    """The `nvml` sensor family: one device `gpu:N` per GPU that NVML enumerates.

    Check by hand: `nvidia-smi --query-gpu=power.draw,energy.consumption --format=csv`
    (nvidia-smi prints energy in J since driver load; finwatt counts from `start()`).

    Args:
        nvml: the NVML module (`pynvml` or a fake with the same functions and error
            classes). None imports `pynvml` when first probed.

    """

    name = "nvml"

    def __init__(self, nvml: ModuleType | None = None) -> None:
        self._nvml: Any = nvml
        self._probed = False
        self._initialised = False
        self._started = False
        self._closed = False
        self._availability: Availability | None = None
        self._gpus: list[_Gpu] = []
        self._queries: dict[str, Callable[[Any], Any]] = {}

    # -- the one boundary with NVML -------------------------------------------------

    def _call(self, function: str, *args: Any) -> Any:
        """Call one declared NVML function, translating NVML errors into `NvmlError`."""
        if function not in NVML_FUNCTIONS:
            raise ValueError(f"{function} is not declared in NVML_FUNCTIONS")
        try:
            return getattr(self._nvml, function)(*args)
        except self._error_class("NVMLError") as err:
            raise NvmlError(function, self._classify(err), str(err)) from err

    def _constant(self, name: str) -> Any:
        if name not in NVML_CONSTANTS:
            raise ValueError(f"{name} is not declared in NVML_CONSTANTS")
        return getattr(self._nvml, name)

    def _error_class(self, name: str) -> type[BaseException]:
        if name not in NVML_ERRORS:
            raise ValueError(f"{name} is not declared in NVML_ERRORS")
        cls: type[BaseException] = getattr(self._nvml, name)
        return cls

    def _classify(self, err: BaseException) -> NvmlFailure:
        table = (
            ("NVMLError_NotSupported", NvmlFailure.UNSUPPORTED),
            ("NVMLError_FunctionNotFound", NvmlFailure.UNSUPPORTED),
            ("NVMLError_NoPermission", NvmlFailure.NO_PERMISSION),
            ("NVMLError_GpuIsLost", NvmlFailure.LOST),
            ("NVMLError_ResetRequired", NvmlFailure.LOST),
            ("NVMLError_LibraryNotFound", NvmlFailure.NO_LIBRARY),
            ("NVMLError_DriverNotLoaded", NvmlFailure.NO_DRIVER),
        )
        for error_name, failure in table:
            if isinstance(err, self._error_class(error_name)):
                return failure
        return NvmlFailure.OTHER

    # -- probing ----------------------------------------------------------------------

    def availability(self) -> Availability:
        """Say whether NVML loads and which GPUs it found, or why not and how to fix it."""
        self._probe()
        assert self._availability is not None
        return self._availability

    def devices(self) -> list[DeviceInfo]:
        """Return one `gpu:N` record per usable GPU (empty when NVML is unavailable)."""
        self._probe()
        return [gpu.info for gpu in self._gpus]

    @property
    def poll_interval_s(self) -> float | None:
        """None: the energy counter is 64-bit mJ and never wraps in practice."""
        return None

    def _probe(self) -> None:
        if self._probed:
            return
        self._probed = True
        self._availability = self._load_and_init()
        if self._availability is not None:
            return
        self._availability = self._enumerate()

    def _load_and_init(self) -> Availability | None:
        """Import and initialise NVML; return the reason when that fails, else None."""
        if self._nvml is None:
            try:
                self._nvml = importlib.import_module("pynvml")
            except ImportError:
                return Availability(
                    "nvml",
                    FamilyState.NOT_FOUND,
                    "nvidia-ml-py not installed (no module pynvml): GPUs not measured",
                    "pip install nvidia-ml-py",
                )
        try:
            self._call("nvmlInit")
        except NvmlError as err:
            return _init_failure(err)
        self._initialised = True
        return None

    def _enumerate(self) -> Availability:
        self._queries = {
            _POWER: lambda h: self._call("nvmlDeviceGetPowerUsage", h) / _MW_PER_W,
            _ENERGY: lambda h: int(self._call("nvmlDeviceGetTotalEnergyConsumption", h)),
            _UTIL: lambda h: self._call("nvmlDeviceGetUtilizationRates", h).gpu / 100.0,
            _MEMORY: lambda h: int(self._call("nvmlDeviceGetMemoryInfo", h).used),
            _CLOCK: lambda h: float(
                self._call("nvmlDeviceGetClockInfo", h, self._constant("NVML_CLOCK_SM"))
            ),
            _TEMPERATURE: lambda h: float(
                self._call("nvmlDeviceGetTemperature", h, self._constant("NVML_TEMPERATURE_GPU"))
            ),
        }
        try:
            count = int(self._call("nvmlDeviceGetCount"))
        except NvmlError as err:
            return Availability("nvml", FamilyState.NOT_READABLE, str(err), _DRIVER_FIX)
        problems: list[str] = []
        for index in range(count):
            try:
                self._gpus.append(self._probe_gpu(index))
            except NvmlError as err:
                problems.append(f"gpu:{index} skipped ({err})")
        driver = self._driver_version()
        if not self._gpus:
            reason = f"NVML{driver} found no usable GPU" + (
                f": {'; '.join(problems)}" if problems else ""
            )
            state = FamilyState.NOT_READABLE if problems else FamilyState.NOT_FOUND
            return Availability("nvml", state, reason, _DRIVER_FIX if problems else None)
        described = ", ".join(
            f"{gpu.device_id} {gpu.info.model or 'unknown model'} ({gpu.info.provenance})"
            for gpu in self._gpus
        )
        reason = f"NVML{driver}: {described}" + (f"; {'; '.join(problems)}" if problems else "")
        return Availability("nvml", FamilyState.FOUND, reason)

    def _driver_version(self) -> str:
        try:
            version = self._call("nvmlSystemGetDriverVersion")
        except NvmlError:
            return ""
        return f" (driver {_text(version)})"

    def _probe_gpu(self, index: int) -> _Gpu:
        """Read a GPU's static facts and decide once which tick fields it supports.

        Raises:
            NvmlError: the GPU cannot be opened or is lost.

        """
        handle = self._call("nvmlDeviceGetHandleByIndex", index)
        model = self._static(lambda: _text(self._call("nvmlDeviceGetName", handle)))
        mem_total = self._static(lambda: int(self._call("nvmlDeviceGetMemoryInfo", handle).total))
        limit_mw = self._static(lambda: self._call("nvmlDeviceGetEnforcedPowerLimit", handle))
        if limit_mw is None:
            limit_mw = self._static(lambda: self._call("nvmlDeviceGetPowerManagementLimit", handle))
        fields: set[str] = set()
        absent: dict[str, str] = {}
        for name in _TICK_FIELDS:
            try:
                self._queries[name](handle)
            except NvmlError as err:
                if err.failure is NvmlFailure.LOST:
                    raise
                if err.failure in (NvmlFailure.UNSUPPORTED, NvmlFailure.NO_PERMISSION):
                    absent[name] = str(err)
                    continue
            fields.add(name)
        provenance = None
        if _ENERGY in fields:
            provenance = MEASURED_NVML_ENERGY
        elif _POWER in fields:
            provenance = MEASURED_NVML_POWER
        details: dict[str, Any] = {"nvml_index": index}
        if absent:
            details["nvml_absent"] = absent
        info = DeviceInfo(
            device_id=f"gpu:{index}",
            kind="gpu",
            model=model,
            mem_total_bytes=mem_total,
            power_limit_w=None if limit_mw is None else limit_mw / _MW_PER_W,
            provenance=provenance,
            details=details,
        )
        return _Gpu(index=index, handle=handle, info=info, fields=fields)

    def _static(self, query: Callable[[], Any]) -> Any:
        """Run a one-off probe query; None when the GPU does not support it."""
        try:
            return query()
        except NvmlError as err:
            if err.failure is NvmlFailure.LOST:
                raise
            log.info("nvml: %s", err)
            return None

    # -- sampling ---------------------------------------------------------------------

    def start(self, t_mono: float) -> None:
        """Take each GPU's energy-counter baseline and first power reading at `t_mono`."""
        if self._closed:
            raise SensorError("nvml: start() after close()")
        self._probe()
        self._started = True
        for gpu in self._gpus:
            if gpu.status is DeviceStatus.LOST:
                continue
            gpu.counter_baseline_mj = None
            gpu.counter_prev = None
            gpu.power_prev = None
            gpu.energy_from_power_j = 0.0
            gpu.failed_ticks = 0
            queried = self._query_fields(gpu, gpu.fields & {_ENERGY, _POWER})
            if queried is None:
                continue
            values = queried[0]
            if _ENERGY in values:
                gpu.counter_baseline_mj = values[_ENERGY]
                gpu.counter_prev = (t_mono, 0.0)
            elif gpu.info.provenance == MEASURED_NVML_ENERGY:
                # Without a baseline the counter cannot say what this run used; integrating
                # power is the honest fallback, and the device record says so.
                gpu.fields.discard(_ENERGY)
                self._set_provenance(gpu)
            if _POWER in values:
                gpu.power_prev = (t_mono, values[_POWER])

    def read(self, t_mono: float) -> list[Reading]:
        """Return one reading per GPU at `t_mono`; a lost GPU gives status LOST, all null.

        Never raises for an NVML error on one GPU: the field is null for this tick, the
        device DEGRADED, and after `LOST_AFTER_FAILED_TICKS` ticks on which every call
        failed (or at once on `GpuIsLost`) the device is LOST for the rest of the run.
        """
        if not self._started:
            raise SensorError("nvml: read() before start()")
        if self._closed:
            raise SensorError("nvml: read() after close()")
        return [self._read_gpu(gpu, t_mono) for gpu in self._gpus]

    def _read_gpu(self, gpu: _Gpu, t_mono: float) -> Reading:
        if gpu.status is DeviceStatus.LOST:
            return Reading(gpu.device_id, status=DeviceStatus.LOST)
        queried = self._query_fields(gpu, set(gpu.fields))
        if queried is None:
            return Reading(gpu.device_id, status=DeviceStatus.LOST)
        values, failed = queried
        if failed and not values:
            gpu.failed_ticks += 1
            if gpu.failed_ticks >= LOST_AFTER_FAILED_TICKS:
                self._mark_lost(gpu, f"every NVML call failed {gpu.failed_ticks} ticks in a row")
                return Reading(gpu.device_id, status=DeviceStatus.LOST)
        else:
            gpu.failed_ticks = 0
        reading = Reading(
            gpu.device_id,
            util=values.get(_UTIL),
            power_w=values.get(_POWER),
            mem_used_bytes=values.get(_MEMORY),
            clock_mhz=values.get(_CLOCK),
            temperature_c=values.get(_TEMPERATURE),
            status=DeviceStatus.DEGRADED if failed else DeviceStatus.OK,
        )
        power_energy_j = self._integrate_power(gpu, t_mono, values.get(_POWER))
        if gpu.counter_in_use:
            reading.energy_j = self._counter_energy(gpu, t_mono, values.get(_ENERGY), reading)
            reading.energy_from_power_j = power_energy_j
        elif gpu.info.provenance == MEASURED_NVML_POWER:
            reading.energy_j = power_energy_j
        # A counter that stops working mid-run leaves energy_j null rather than splice two
        # sources into one cumulative series; energy_from_power_j is not kept either then.
        return reading

    def _query_fields(self, gpu: _Gpu, names: set[str]) -> tuple[dict[str, Any], bool] | None:
        """Read the named fields: the values read and whether any call failed; None if lost."""
        values: dict[str, Any] = {}
        failed = False
        for name in _TICK_FIELDS:
            if name not in names:
                continue
            try:
                values[name] = self._queries[name](gpu.handle)
            except NvmlError as err:
                if err.failure is NvmlFailure.LOST:
                    self._mark_lost(gpu, str(err))
                    return None
                if err.failure in (NvmlFailure.UNSUPPORTED, NvmlFailure.NO_PERMISSION):
                    # Decided at probe where possible; a field that stops working mid-run
                    # is dropped for the rest of it rather than retried every tick.
                    gpu.fields.discard(name)
                self._log_once(gpu, name, str(err))
                failed = True
        return values, failed

    def _integrate_power(self, gpu: _Gpu, t_mono: float, power_w: float | None) -> float | None:
        """Add the trapezoid from the last power reading; None when there is no reading now."""
        if power_w is None:
            return None
        if gpu.power_prev is not None:
            t_prev, p_prev = gpu.power_prev
            gpu.energy_from_power_j += (p_prev + power_w) / 2.0 * max(0.0, t_mono - t_prev)
        gpu.power_prev = (t_mono, power_w)
        return gpu.energy_from_power_j

    def _counter_energy(
        self, gpu: _Gpu, t_mono: float, counter_mj: int | None, reading: Reading
    ) -> float | None:
        """Energy since start from the counter; fills power_w by dE/dt when power is absent."""
        if counter_mj is None or gpu.counter_baseline_mj is None:
            return None
        energy_j = (counter_mj - gpu.counter_baseline_mj) / _MJ_PER_J
        if gpu.counter_prev is not None and energy_j < gpu.counter_prev[1]:
            # The counter runs from driver load: going back means the driver reloaded.
            self._log_once(gpu, "counter", "energy counter went backwards; value dropped")
            reading.status = DeviceStatus.DEGRADED
            return None
        if reading.power_w is None and gpu.counter_prev is not None:
            t_prev, e_prev = gpu.counter_prev
            if t_mono > t_prev:
                reading.power_w = (energy_j - e_prev) / (t_mono - t_prev)
        gpu.counter_prev = (t_mono, energy_j)
        return energy_j

    def _mark_lost(self, gpu: _Gpu, why: str) -> None:
        gpu.status = DeviceStatus.LOST
        gpu.fields.clear()
        log.warning("nvml: %s lost (%s); its metrics are null from now on", gpu.device_id, why)

    def _set_provenance(self, gpu: _Gpu) -> None:
        provenance = MEASURED_NVML_POWER if _POWER in gpu.fields else None
        gpu.info = replace(gpu.info, provenance=provenance)

    def _log_once(self, gpu: _Gpu, key: str, message: str) -> None:
        if key not in gpu.logged:
            gpu.logged.add(key)
            log.warning("nvml: %s: %s", gpu.device_id, message)

    def close(self) -> None:
        """Shut NVML down (once); a failing shutdown is logged, not raised."""
        self._closed = True
        if not self._initialised:
            return
        self._initialised = False
        try:
            self._call("nvmlShutdown")
        except NvmlError as err:
            log.warning("nvml: %s", err)


_DRIVER_FIX = "check the NVIDIA driver with `nvidia-smi`; reload it or reboot if it fails"


def _init_failure(err: NvmlError) -> Availability:
    """Map a failed nvmlInit to what `finwatt doctor` says."""
    if err.failure is NvmlFailure.NO_LIBRARY:
        return Availability(
            "nvml",
            FamilyState.NOT_FOUND,
            f"NVML library (libnvidia-ml.so.1) not found: no NVIDIA driver installed ({err})",
            "install the NVIDIA driver on a host with an NVIDIA GPU",
        )
    if err.failure is NvmlFailure.NO_DRIVER:
        return Availability(
            "nvml",
            FamilyState.NOT_FOUND,
            f"NVIDIA kernel driver not loaded ({err})",
            "load it (`sudo modprobe nvidia`) and check with `nvidia-smi`",
        )
    if err.failure is NvmlFailure.NO_PERMISSION:
        return Availability(
            "nvml",
            FamilyState.NOT_READABLE,
            f"NVML refused access ({err})",
            "run as a user allowed to open /dev/nvidia* (e.g. in the video group)",
        )
    return Availability("nvml", FamilyState.NOT_FOUND, f"NVML unusable ({err})", _DRIVER_FIX)


def _text(value: Any) -> str:
    """NVML strings arrive as str from current pynvml and as bytes from old releases."""
    return value.decode() if isinstance(value, bytes) else str(value)
