"""NVIDIA GPUs through NVML: the one boundary with the library, the family, its parts.

`library` is the interface and its errors (the NVML names finwatt may use, `NvmlError`);
`family.NvmlSensors` is the sensor family, built from `probe` (a GPU's facts), `tick` (its
running state), `fields` (instant power), `gpm` (SM activity), `mig` (GPU instances),
`processes` (per-process figures) and `deadline` (a hung call must not stall the
sampler). `get_gpus` is the factory `probe.probe_sensors` calls.
"""

from __future__ import annotations

from types import ModuleType

from profiler.sensors.base import Availability
from profiler.sensors.nvml.family import NvmlSensors


def get_gpus(
    nvml_module: ModuleType | None = None,
) -> tuple[NvmlSensors | None, list[Availability]]:
    """Return the NVML family when it finds a GPU (else None, its handles released) and its probe.

    Args:
        nvml_module: an NVML module to use instead of importing `pynvml` (tests).

    """
    gpus = NvmlSensors(nvml_module)
    states = [gpus.availability()]
    if gpus.devices():
        return gpus, states
    gpus.close()
    return None, states
