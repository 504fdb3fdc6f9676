"""The Workload interface and the array back ends (numpy on CPU, cupy or torch on GPU).

A workload does real financial computation in batches and counts the exact units of work
it completed. It never imports `profiler` or `reports` (design.md): the profiler drives it
from a child process and reads back the units.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


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


@dataclass(frozen=True)
class Backend:
    """An array back end.

    Attributes:
        name: "numpy", "cupy" or "torch".
        device: "cpu" or "gpu:N".
        module: the imported array module (numpy, cupy or torch).

    """

    name: str
    device: str
    module: Any


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


def resolve_backend(name: str, device: str = "cpu") -> Backend:
    """Import and check the array back end `name` for `device`.

    Args:
        name: "numpy", "cupy", "torch", or "auto" (numpy on the CPU; on a GPU cupy when
            importable, else torch).
        device: "cpu", "gpu" or "gpu:N".

    Returns:
        The back end, with its module imported and, on a GPU, device N made current.

    Raises:
        WorkloadError: `name` or `device` is unknown, or the pair does not go together.
        BackendUnavailable: the module is not importable or finds no such GPU; the
            message says which and how to fix it.

    """
    kind, index = parse_device(device)
    if name == "auto":
        if kind == "cpu":
            name = "numpy"
        else:
            try:
                return _cupy_backend(index)
            except BackendUnavailable:
                return _torch_backend(index)
    if name == "numpy":
        if kind != "cpu":
            raise WorkloadError("backend 'numpy' runs on the CPU only: use cupy or torch on a GPU")
        return Backend("numpy", "cpu", np)
    if name in ("cupy", "torch"):
        if kind != "gpu":
            raise WorkloadError(f"backend {name!r} runs on a GPU only: pass device 'gpu:N'")
        return _cupy_backend(index) if name == "cupy" else _torch_backend(index)
    raise WorkloadError(f"unknown backend {name!r}: choose one of numpy, cupy, torch, auto")


def _cupy_backend(index: int) -> Backend:
    try:
        import cupy  # optional GPU dependency: imported only when asked for
    except ImportError as err:
        raise BackendUnavailable(
            f"cupy is not importable ({err}): pip install cupy-cuda12x"
        ) from err
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except cupy.cuda.runtime.CUDARuntimeError as err:
        raise BackendUnavailable(f"cupy finds no CUDA GPU: {err}") from err
    if index >= count:
        raise BackendUnavailable(f"cupy finds {count} CUDA GPU(s), so there is no gpu:{index}")
    cupy.cuda.Device(index).use()
    return Backend("cupy", f"gpu:{index}", cupy)


def _torch_backend(index: int) -> Backend:
    try:
        import torch  # optional GPU dependency: imported only when asked for
    except ImportError as err:
        raise BackendUnavailable(f"torch is not importable ({err}): pip install torch") from err
    if not torch.cuda.is_available():
        raise BackendUnavailable("torch finds no CUDA GPU (torch.cuda.is_available() is False)")
    count = int(torch.cuda.device_count())
    if index >= count:
        raise BackendUnavailable(f"torch finds {count} CUDA GPU(s), so there is no gpu:{index}")
    torch.cuda.set_device(index)
    return Backend("torch", f"gpu:{index}", torch)
