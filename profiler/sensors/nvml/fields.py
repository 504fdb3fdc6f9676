"""NVML field values: instant power through `nvmlDeviceGetFieldValues`.

On Ampere and later (A100, H100, H200) `nvmlDeviceGetPowerUsage` returns a one-second
moving average, so integrating it smears every load step over a second and the
counter-vs-power disagreement mostly measures that filter. The field
`NVML_FI_DEV_POWER_INSTANT` gives the instantaneous board power instead (Zeus reads power
this way since 0.9.1). The energy counter stays the authoritative energy figure; instant
power is what `power_w` shows and what `energy_from_power_j` integrates where supported.

NVML answers a field-values request with one status per field beside the call's own, so
each field's `nvmlReturn` is checked: a call that succeeds can carry a field that failed.

Check by hand: `nvidia-smi --query-gpu=power.draw.instant,power.draw.average --format=csv`.
"""

from __future__ import annotations

import enum
from typing import Any

from profiler.sensors.nvml.library import NvmlError, NvmlFailure, NvmlLibrary

_MW_PER_W = 1000.0


class PowerSource(enum.StrEnum):
    """Which NVML reading a GPU's `power_w` comes from (kept in `details["power_source"]`)."""

    INSTANT = "instant: nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)"
    AVERAGE = "average: nvmlDeviceGetPowerUsage (a 1-s average on Ampere and later)"


# Which member of NVML's value union holds a field of each value type.
_UNION_MEMBERS = (
    ("NVML_VALUE_TYPE_DOUBLE", "dVal"),
    ("NVML_VALUE_TYPE_UNSIGNED_INT", "uiVal"),
    ("NVML_VALUE_TYPE_UNSIGNED_LONG", "ulVal"),
    ("NVML_VALUE_TYPE_UNSIGNED_LONG_LONG", "ullVal"),
    ("NVML_VALUE_TYPE_SIGNED_LONG_LONG", "sllVal"),
    ("NVML_VALUE_TYPE_SIGNED_INT", "siVal"),
)


def field_value(lib: NvmlLibrary, handle: Any, field_name: str) -> float:
    """Read one NVML field of a device as a number, checking the field's own status.

    Args:
        lib: the NVML boundary.
        handle: the device handle.
        field_name: a declared `NVML_FI_*` constant name.

    Raises:
        NvmlError: the call failed, the field's own status is not success, or its value
            type is one finwatt does not read.

    """
    (value,) = lib.call("nvmlDeviceGetFieldValues", handle, [lib.constant(field_name)])
    lib.check("nvmlDeviceGetFieldValues", value.nvmlReturn)
    for type_name, member in _UNION_MEMBERS:
        if value.valueType == lib.constant(type_name):
            return float(getattr(value.value, member))
    # An unknown value type cannot be read safely: the field fails this tick.
    raise NvmlError(
        "nvmlDeviceGetFieldValues", NvmlFailure.OTHER, f"unknown value type {value.valueType}"
    )


def instant_power_w(lib: NvmlLibrary, handle: Any) -> float:
    """Return the instantaneous board power in watts (`NVML_FI_DEV_POWER_INSTANT`, mW)."""
    return field_value(lib, handle, "NVML_FI_DEV_POWER_INSTANT") / _MW_PER_W


def average_power_w(lib: NvmlLibrary, handle: Any) -> float:
    """Return `nvmlDeviceGetPowerUsage` in watts: a 1-s average on Ampere and later."""
    return float(lib.call("nvmlDeviceGetPowerUsage", handle)) / _MW_PER_W
