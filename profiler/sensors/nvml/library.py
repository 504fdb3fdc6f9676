"""The one boundary with NVML: the names finwatt may use, and NVML's errors translated.

Every NVML function, constant and structure finwatt touches is declared here
(`NVML_FUNCTIONS`, `NVML_CONSTANTS`, `NVML_STRUCTS`, `NVML_ERRORS`; a test checks each
exists in the real `pynvml` of nvidia-ml-py and in the fake NVML of the tests), and
`NvmlLibrary` refuses any other name. A name that the installed `pynvml` lacks (an old
nvidia-ml-py) reads as an unsupported field, never as a crash.

This module also says what `finwatt doctor` prints when NVML cannot start, and warns when
the unofficial `pynvml` package (gpuopenanalytics/pynvml) shadows nvidia-ml-py's module
of the same name. Check the library by hand with `nvidia-smi` (it fails the same way:
"Failed to initialize NVML: Driver/library version mismatch").
"""

from __future__ import annotations

import enum
import importlib
import importlib.metadata
from collections.abc import Callable
from types import ModuleType
from typing import Any

from profiler.sensors.base import Availability, FamilyState, SensorError

#: Every NVML function finwatt may call; `NvmlLibrary.call` refuses any other name.
NVML_FUNCTIONS: tuple[str, ...] = (
    "nvmlInit",
    "nvmlShutdown",
    "nvmlSystemGetDriverVersion",
    "nvmlSystemGetCudaDriverVersion",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetName",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetPowerManagementLimit",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetFieldValues",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetMigMode",
    "nvmlDeviceGetMaxMigDeviceCount",
    "nvmlDeviceGetMigDeviceHandleByIndex",
    "nvmlDeviceGetGpuInstanceId",
    "nvmlDeviceGetComputeInstanceId",
    "nvmlGpmQueryDeviceSupport",
    "nvmlGpmSampleAlloc",
    "nvmlGpmSampleFree",
    "nvmlGpmSampleGet",
    "nvmlGpmMigSampleGet",
    "nvmlGpmMetricsGet",
    # per-process GPU figures for attribution (docs/attribution.md)
    "nvmlDeviceGetProcessUtilization",
    "nvmlDeviceGetComputeRunningProcesses",
)

#: Every NVML constant finwatt reads.
NVML_CONSTANTS: tuple[str, ...] = (
    "NVML_SUCCESS",
    "NVML_CLOCK_SM",
    "NVML_TEMPERATURE_GPU",
    "NVML_FI_DEV_POWER_INSTANT",
    "NVML_DEVICE_MIG_ENABLE",
    "NVML_GPM_METRIC_SM_UTIL",
    "NVML_GPM_METRICS_GET_VERSION",
    "NVML_VALUE_TYPE_DOUBLE",
    "NVML_VALUE_TYPE_UNSIGNED_INT",
    "NVML_VALUE_TYPE_UNSIGNED_LONG",
    "NVML_VALUE_TYPE_UNSIGNED_LONG_LONG",
    "NVML_VALUE_TYPE_SIGNED_LONG_LONG",
    "NVML_VALUE_TYPE_SIGNED_INT",
)

#: Every NVML structure finwatt builds itself (the GPM metrics request).
NVML_STRUCTS: tuple[str, ...] = ("c_nvmlGpmMetricsGet_t",)

#: Every NVML error class finwatt distinguishes (`NVMLError` is their base).
NVML_ERRORS: tuple[str, ...] = (
    "NVMLError",
    "NVMLError_NotSupported",
    "NVMLError_NoPermission",
    "NVMLError_FunctionNotFound",
    "NVMLError_NotFound",
    "NVMLError_GpuIsLost",
    "NVMLError_ResetRequired",
    "NVMLError_LibraryNotFound",
    "NVMLError_DriverNotLoaded",
    "NVMLError_LibRmVersionMismatch",
)


class NvmlFailure(enum.StrEnum):
    """What an NVML error means to finwatt."""

    UNSUPPORTED = "unsupported"  # NotSupported, FunctionNotFound: the field does not exist
    NO_PERMISSION = "no_permission"  # the field exists but this user may not read it
    NOT_FOUND = "not_found"  # no such object (an empty MIG slot)
    LOST = "lost"  # GpuIsLost, ResetRequired: the device fell off the bus
    NO_LIBRARY = "no_library"  # libnvidia-ml.so not found: no NVIDIA driver installed
    NO_DRIVER = "no_driver"  # the library is there but the kernel driver is not loaded
    VERSION_MISMATCH = "version_mismatch"  # libnvidia-ml.so and the kernel module differ
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


_FAILURES = (
    ("NVMLError_NotSupported", NvmlFailure.UNSUPPORTED),
    ("NVMLError_FunctionNotFound", NvmlFailure.UNSUPPORTED),
    ("NVMLError_NoPermission", NvmlFailure.NO_PERMISSION),
    ("NVMLError_NotFound", NvmlFailure.NOT_FOUND),
    ("NVMLError_GpuIsLost", NvmlFailure.LOST),
    ("NVMLError_ResetRequired", NvmlFailure.LOST),
    ("NVMLError_LibraryNotFound", NvmlFailure.NO_LIBRARY),
    ("NVMLError_DriverNotLoaded", NvmlFailure.NO_DRIVER),
    ("NVMLError_LibRmVersionMismatch", NvmlFailure.VERSION_MISMATCH),
)


class NvmlLibrary:
    """The NVML module (`pynvml` or a fake with the same names), behind declared names only.

    Args:
        module: the imported NVML module.

    """

    def __init__(self, module: ModuleType) -> None:
        self.module: Any = module

    def call(self, function: str, *args: Any) -> Any:
        """Call one declared NVML function, translating NVML errors into `NvmlError`.

        Raises:
            ValueError: `function` is not declared in `NVML_FUNCTIONS`.
            NvmlError: NVML failed, or this `pynvml` has no such function (unsupported).

        """
        if function not in NVML_FUNCTIONS:
            raise ValueError(f"{function} is not declared in NVML_FUNCTIONS")
        target = getattr(self.module, function, None)
        if target is None:
            raise NvmlError(function, NvmlFailure.UNSUPPORTED, _TOO_OLD)
        try:
            return target(*args)
        except self.error_class("NVMLError") as err:
            raise NvmlError(function, self.classify(err), str(err)) from err

    def constant(self, name: str) -> Any:
        """Return a declared NVML constant.

        Raises:
            ValueError: `name` is not declared in `NVML_CONSTANTS`.
            NvmlError: this `pynvml` does not define it (unsupported).

        """
        if name not in NVML_CONSTANTS:
            raise ValueError(f"{name} is not declared in NVML_CONSTANTS")
        return self._attribute(name)

    def struct(self, name: str) -> Any:
        """Return a declared NVML structure type (to build a request NVML fills in)."""
        if name not in NVML_STRUCTS:
            raise ValueError(f"{name} is not declared in NVML_STRUCTS")
        return self._attribute(name)

    def error_class(self, name: str) -> type[BaseException]:
        """Return a declared NVML error class."""
        if name not in NVML_ERRORS:
            raise ValueError(f"{name} is not declared in NVML_ERRORS")
        cls: type[BaseException] = getattr(self.module, name, None) or self.module.NVMLError
        return cls

    def classify(self, err: BaseException) -> NvmlFailure:
        """Say what an NVML error means to finwatt."""
        for error_name, failure in _FAILURES:
            self.error_class(error_name)  # declared, or a ValueError
            cls = getattr(self.module, error_name, None)  # an old pynvml may lack it
            if cls is not None and isinstance(err, cls):
                return failure
        return NvmlFailure.OTHER

    def check(self, function: str, code: int) -> None:
        """Raise `NvmlError` for a per-item return code (field values, GPM metrics).

        NVML returns one status per requested field or metric beside the call's own; a
        call that succeeds can still carry a field that failed.
        """
        if code == self.constant("NVML_SUCCESS"):
            return
        # pynvml's NVMLError(code) builds the subclass for that code (NVMLError_NotSupported...).
        err = self.module.NVMLError(code)
        raise NvmlError(function, self.classify(err), str(err))

    def _attribute(self, name: str) -> Any:
        value = getattr(self.module, name, None)
        if value is None:
            raise NvmlError(name, NvmlFailure.UNSUPPORTED, _TOO_OLD)
        return value


_TOO_OLD = "not in this pynvml (nvidia-ml-py too old: pip install -U nvidia-ml-py)"

DRIVER_FIX = "check the NVIDIA driver with `nvidia-smi`; reload it or reboot if it fails"

_UNOFFICIAL_FIX = "pip uninstall -y pynvml && pip install --force-reinstall nvidia-ml-py"


def init_failure(err: NvmlError) -> Availability:
    """Map a failed `nvmlInit` to what `finwatt doctor` says."""
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
    if err.failure is NvmlFailure.VERSION_MISMATCH:
        return Availability(
            "nvml",
            FamilyState.NOT_READABLE,
            "NVIDIA driver/library version mismatch: the user-space NVML library "
            "(libnvidia-ml.so) is from another driver release than the loaded kernel "
            f"module, usually after a driver upgrade without a reboot ({err})",
            "reboot, or reload the kernel modules (`sudo rmmod nvidia_uvm nvidia_drm "
            "nvidia_modeset nvidia && sudo modprobe nvidia`); `nvidia-smi` must then start",
        )
    if err.failure is NvmlFailure.NO_PERMISSION:
        return Availability(
            "nvml",
            FamilyState.NOT_READABLE,
            f"NVML refused access ({err})",
            "run as a user allowed to open /dev/nvidia* (e.g. in the video group)",
        )
    return Availability("nvml", FamilyState.NOT_FOUND, f"NVML unusable ({err})", DRIVER_FIX)


def installed_version(distribution: str) -> str | None:
    """Return the installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def unofficial_pynvml(
    module: ModuleType, version_of: Callable[[str], str | None] = installed_version
) -> str | None:
    """Say why the imported `pynvml` may not be nvidia-ml-py's, or None when it is.

    The unofficial `pynvml` package shipped its own `pynvml/` package up to 11.x, which
    shadows nvidia-ml-py's `pynvml.py` and lacks newer functions (GPM, field values);
    from 12.x it only redirects to nvidia-ml-py with a FutureWarning. Either way the user
    should uninstall it (codecarbon before 3.0.6 and older torch pulled it in).

    Args:
        module: the imported `pynvml` module.
        version_of: installed version of a distribution name, None when absent.

    """
    unofficial = version_of("pynvml")
    if hasattr(module, "__path__"):
        # A package directory, not nvidia-ml-py's single pynvml.py module.
        where = getattr(module, "__file__", None) or "a pynvml/ package"
        return (
            f"the unofficial `pynvml` package {unofficial or ''} ({where}) shadows "
            "nvidia-ml-py's pynvml module; NVML functions it lacks read as unsupported"
        ).replace("  ", " ")
    if unofficial is not None:
        return (
            f"the unofficial `pynvml` package {unofficial} is installed beside nvidia-ml-py "
            f"{version_of('nvidia-ml-py') or '(missing)'}; it is deprecated and may shadow it"
        )
    return None


def unofficial_fix() -> str:
    """Return the command that leaves only nvidia-ml-py's `pynvml`."""
    return _UNOFFICIAL_FIX


def import_pynvml() -> ModuleType | Availability:
    """Import `pynvml`; the module, or the reason `finwatt doctor` gives when it is missing."""
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return Availability(
            "nvml",
            FamilyState.NOT_FOUND,
            "nvidia-ml-py not installed (no module pynvml): GPUs not measured",
            "pip install nvidia-ml-py",
        )


def text(value: Any) -> str:
    """NVML strings arrive as str from current pynvml and as bytes from old releases."""
    return value.decode() if isinstance(value, bytes) else str(value)
