"""The Workload interface and the array back ends (numpy on CPU, cupy or torch on GPU).

A workload does real financial computation in batches and counts the exact units of work
it completed. It imports neither `profiler` nor `reports` (docs/design.md#layout); the
profiler drives it from a child process and reads back the units.
"""

from __future__ import annotations

import abc
import enum
import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from workloads.cuda_devices import UuidNotVisible, cuda_ordinal, runtime_uuids


class WorkloadError(ValueError):
    """Bad workload input; the message names the parameter and what is allowed."""


class BackendUnavailable(RuntimeError):  # noqa: N818 - public name other packages use
    """An array back end cannot run here; the message says why."""


class Size(enum.StrEnum):
    """Problem sizes: `small` for CI (prepare < 0.5 s), `standard`, `large`."""

    SMALL = "small"
    STANDARD = "standard"
    LARGE = "large"


def parse_size(size: str | Size) -> Size:
    """Return the `Size` named by `size`, or raise `WorkloadError` naming the choices."""
    try:
        return Size(size)
    except ValueError as err:
        choices = ", ".join(s.value for s in Size)
        raise WorkloadError(f"unknown size {size!r}: choose one of {choices}") from err


#: The array back ends that run on a GPU.
GPU_BACKENDS = ("cupy", "torch")

# The CuPy wheel must match the driver's CUDA major version; a mismatched one imports and
# then fails to load its CUDA libraries (libcurand, libcublas). docs/gpu.md says more.
_CUDA_WHEELS = (
    "install the CuPy wheel for this driver's CUDA major version (`nvidia-smi` prints "
    "'CUDA Version'): pip install 'finwatt[gpu]' for CUDA 12 (cupy-cuda12x) or "
    "'finwatt[gpu-cuda13]' for CUDA 13 (cupy-cuda13x); see docs/gpu.md"
)
# The CUDA libraries the workloads' CuPy path loads: cuRAND (risk and inference
# scenarios), cuBLAS (their GEMMs). CuPy imports without them and fails at first use.
_CUPY_LIBRARIES = ("cupy_backends.cuda.libs.curand", "cupy_backends.cuda.libs.cublas")


@dataclass(frozen=True)
class Backend:
    """An array back end.

    Attributes:
        name: "numpy", "cupy" or "torch".
        device: "cpu" or "gpu:K", K the CUDA ordinal in this process.
        module: the imported array module (numpy, cupy or torch).
        uuid: the GPU's UUID when the device was asked for by UUID, else None.

    """

    name: str
    device: str
    module: Any
    uuid: str | None = None


class Workload(abc.ABC):
    """One benchmark workload.

    Subclasses set `name`, `unit` (singular, e.g. "scenario") and `bytes_per_unit`
    (None unless the unit has a byte size, as ledger transactions do).

    Lifecycle: `prepare(size, seed, backend)` outside the measured window, then any
    number of `run_batch()` calls, each doing one batch of roughly 10-50 ms at full speed
    and returning the exact number of units it completed.
    """

    name: ClassVar[str]
    unit: ClassVar[str]
    bytes_per_unit: ClassVar[int | None] = None

    @abc.abstractmethod
    def prepare(
        self, size: str | Size, seed: int | np.random.SeedSequence, backend: Backend
    ) -> None:
        """Build inputs and state for `size` on `backend`, seeded by `seed`."""

    @abc.abstractmethod
    def run_batch(self) -> int:
        """Do one batch of work and return the exact number of units completed."""


def parse_device(device: str) -> tuple[str, int]:
    """Split a device name ("cpu", "gpu" or "gpu:N") into its kind and index.

    Raises:
        WorkloadError: the name is none of those forms.

    """
    kind, _, index = device.partition(":")
    if kind == "cpu" and not index:
        return "cpu", 0
    if kind == "gpu" and (not index or index.isdigit()):
        return "gpu", int(index or 0)
    raise WorkloadError(f"unknown device {device!r}: use cpu, gpu or gpu:N")


def device_target(device: str) -> tuple[str, int | str]:
    """Split a device name into its kind and what it names: a CUDA ordinal or a GPU UUID.

    "cpu" -> ("cpu", 0); "gpu", "gpu:N" -> ("gpu", N); "gpu:GPU-<uuid>" and
    "gpu:MIG-<uuid>" -> ("gpu", the UUID), the way the profiler names the GPU it measures
    (`workloads.cuda_devices` says why an NVML index is not a CUDA ordinal).

    Raises:
        WorkloadError: the name is none of those forms.

    """
    kind, _, rest = device.partition(":")
    if kind == "gpu" and rest[:4].upper() in ("GPU-", "MIG-") and len(rest) > 4:
        return "gpu", rest
    return parse_device(device)


def resolve_backend(name: str, device: str = "cpu") -> Backend:
    """Import and check the array back end `name` for `device`.

    Args:
        name: "numpy", "cupy", "torch", or "auto" (numpy on the CPU; on a GPU cupy when
            usable, else torch).
        device: "cpu", "gpu", "gpu:N" (CUDA ordinal N) or "gpu:<UUID>" (the GPU with
            that NVML UUID, wherever CUDA numbers it).

    Returns:
        The back end, with its module imported and, on a GPU, that device made current.

    Raises:
        WorkloadError: `name` or `device` is unknown, or the pair does not go together.
        BackendUnavailable: the module is not importable, cannot load its CUDA libraries
            or finds no such GPU; the message says which and how to fix it.

    """
    kind, target = device_target(device)
    if name == "auto":
        if kind == "cpu":
            name = "numpy"
        else:
            try:
                return _cupy_backend(target)
            except BackendUnavailable as cupy_err:
                try:
                    return _torch_backend(target)
                except BackendUnavailable as torch_err:
                    raise BackendUnavailable(
                        f"no GPU back end: cupy: {cupy_err}; torch: {torch_err}"
                    ) from torch_err
    if name == "numpy":
        if kind != "cpu":
            raise WorkloadError("backend 'numpy' runs on the CPU only: use cupy or torch on a GPU")
        return Backend("numpy", "cpu", np)
    if name in GPU_BACKENDS:
        if kind != "gpu":
            raise WorkloadError(f"backend {name!r} runs on a GPU only: pass device 'gpu:N'")
        return _cupy_backend(target) if name == "cupy" else _torch_backend(target)
    raise WorkloadError(f"unknown backend {name!r}: choose one of numpy, cupy, torch, auto")


def _ordinal(name: str, module: Any, target: int | str) -> int:
    """The CUDA ordinal `target` names: itself, or the ordinal of the GPU with that UUID."""
    if isinstance(target, int):
        return target
    try:
        return cuda_ordinal(target, runtime_uuids(name, module))
    except UuidNotVisible as err:
        raise BackendUnavailable(str(err)) from err
    except (AttributeError, KeyError) as err:
        raise BackendUnavailable(
            f"{name} cannot report GPU UUIDs ({err}), so it cannot find GPU {target}: upgrade it"
        ) from err


def _cupy_backend(target: int | str) -> Backend:
    try:
        import cupy  # optional GPU dependency: imported only when asked for
    except (ImportError, OSError) as err:
        raise BackendUnavailable(f"cupy is not importable ({err}): {_CUDA_WHEELS}") from err
    try:
        for library in _CUPY_LIBRARIES:
            importlib.import_module(library)
    except (ImportError, OSError) as err:
        raise BackendUnavailable(
            f"cupy imports but cannot load its CUDA libraries ({err}): {_CUDA_WHEELS}"
        ) from err
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except cupy.cuda.runtime.CUDARuntimeError as err:
        raise BackendUnavailable(f"cupy finds no usable CUDA GPU ({err}): {_CUDA_WHEELS}") from err
    index = _ordinal("cupy", cupy, target)
    if index >= count:
        raise BackendUnavailable(f"cupy finds {count} CUDA GPU(s), so there is no gpu:{index}")
    cupy.cuda.Device(index).use()
    return Backend("cupy", f"gpu:{index}", cupy, target if isinstance(target, str) else None)


def _torch_backend(target: int | str) -> Backend:
    try:
        import torch  # optional GPU dependency: imported only when asked for
    except (ImportError, OSError) as err:
        raise BackendUnavailable(
            f"torch is not importable ({err}): pip install torch (a CUDA build)"
        ) from err
    if not torch.cuda.is_available():
        raise BackendUnavailable("torch finds no CUDA GPU (torch.cuda.is_available() is False)")
    count = int(torch.cuda.device_count())
    index = _ordinal("torch", torch, target)
    if index >= count:
        raise BackendUnavailable(f"torch finds {count} CUDA GPU(s), so there is no gpu:{index}")
    torch.cuda.set_device(index)
    return Backend("torch", f"gpu:{index}", torch, target if isinstance(target, str) else None)
