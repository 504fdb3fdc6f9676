"""Array operations shared by the workloads, on numpy (CPU), cupy or torch (GPU).

numpy and cupy share one API; torch differs in names and in-place conventions. The hot
loops call only the few operations below, so each back end is one small class and the
workload code stays the same on every device. Arrays are typed `Any` because they are
numpy, cupy or torch arrays depending on the back end.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import numpy.typing as npt

from workloads.base import Backend, WorkloadError

__all__ = ["ArrayOps", "array_ops"]

# Seeds handed to cuRAND / torch's Philox are kept below 2**63: both accept them as
# signed 64-bit integers in some versions.
_SEED_MASK = (1 << 63) - 1


class ArrayOps(abc.ABC):
    """The array operations the workloads need, on one back end (float32 unless named)."""

    backend: Backend

    def __init__(self, backend: Backend) -> None:
        """Wrap `backend`, whose module is already imported and whose device is current."""
        self.backend = backend
        self.xp = backend.module

    @abc.abstractmethod
    def from_numpy(self, a: npt.ArrayLike) -> Any:
        """Copy a host array to the device as float32."""

    @abc.abstractmethod
    def to_numpy(self, x: Any) -> npt.NDArray[np.float64]:
        """Copy a device array to the host as float64."""

    @abc.abstractmethod
    def empty(self, shape: tuple[int, ...]) -> Any:
        """Allocate an uninitialised float32 array."""

    @abc.abstractmethod
    def standard_normal(self, seed: np.random.SeedSequence, out: Any) -> None:
        """Fill `out` (C-contiguous) with N(0, 1) draws from a stream seeded by `seed`.

        The stream depends only on `seed`, and filling the first m rows of `out` gives the
        first m rows of filling all of it: callers rely on this to make results
        independent of how work is batched.
        """

    @abc.abstractmethod
    def matmul(self, a: Any, b: Any, out: Any) -> Any:
        """Write the matrix product `a @ b` into `out` and return `out`."""

    @abc.abstractmethod
    def exp_(self, x: Any) -> None:
        """Replace `x` by `exp(x)` in place."""

    @abc.abstractmethod
    def add_relu_(self, x: Any, bias: Any) -> None:
        """Replace `x` by `max(x + bias, 0)` in place (`bias` broadcast over rows)."""

    @abc.abstractmethod
    def sigmoid(self, x: Any) -> Any:
        """Return the logistic function of `x`, computed without overflow."""

    @abc.abstractmethod
    def largest(self, x: Any, k: int) -> npt.NDArray[np.float64]:
        """Return the `k` largest values of the 1-D array `x` on the host, in any order."""

    def synchronize(self) -> None:  # noqa: B027 - a no-op by design on the CPU
        """Wait until all queued device work is done (a no-op on the CPU)."""

    def free_memory_bytes(self) -> int | None:
        """Free memory of the device in bytes; None on the CPU (not the device's to size)."""
        return None


class _NumpyOps(ArrayOps):
    def from_numpy(self, a: npt.ArrayLike) -> Any:
        return np.ascontiguousarray(a, dtype=np.float32)

    def to_numpy(self, x: Any) -> npt.NDArray[np.float64]:
        return np.asarray(x, dtype=np.float64)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return np.empty(shape, dtype=np.float32)

    def standard_normal(self, seed: np.random.SeedSequence, out: Any) -> None:
        # PCG64 per stream: cheap to construct (tens of microseconds), so a fresh
        # generator per block of scenarios costs nothing measurable.
        np.random.Generator(np.random.PCG64(seed)).standard_normal(out=out, dtype=np.float32)

    def matmul(self, a: Any, b: Any, out: Any) -> Any:
        return np.matmul(a, b, out=out)

    def exp_(self, x: Any) -> None:
        np.exp(x, out=x)

    def add_relu_(self, x: Any, bias: Any) -> None:
        np.add(x, bias, out=x)
        np.maximum(x, 0.0, out=x)

    def sigmoid(self, x: Any) -> Any:
        return _sigmoid(np, x)

    def largest(self, x: Any, k: int) -> npt.NDArray[np.float64]:
        return np.asarray(_largest(np, x, k), dtype=np.float64)


class _CupyOps(ArrayOps):
    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        # Philox: reseeding is cheap, unlike cuRAND's default XORWOW, whose state set-up
        # costs milliseconds (cuRAND docs, "Performance Notes").
        self._rng = self.xp.random.RandomState(
            0, method=self.xp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
        )

    def from_numpy(self, a: npt.ArrayLike) -> Any:
        return self.xp.asarray(np.ascontiguousarray(a, dtype=np.float32))

    def to_numpy(self, x: Any) -> npt.NDArray[np.float64]:
        return np.asarray(self.xp.asnumpy(x), dtype=np.float64)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return self.xp.empty(shape, dtype=self.xp.float32)

    def standard_normal(self, seed: np.random.SeedSequence, out: Any) -> None:
        self._rng.seed(_device_seed(seed))
        # cuRAND generates normals in pairs: draw an even count, then copy the prefix.
        n = out.size + (out.size % 2)
        out[...] = self._rng.standard_normal(n, dtype=self.xp.float32)[: out.size].reshape(
            out.shape
        )

    def matmul(self, a: Any, b: Any, out: Any) -> Any:
        return self.xp.matmul(a, b, out=out)

    def exp_(self, x: Any) -> None:
        self.xp.exp(x, out=x)

    def add_relu_(self, x: Any, bias: Any) -> None:
        self.xp.add(x, bias, out=x)
        self.xp.maximum(x, 0.0, out=x)

    def sigmoid(self, x: Any) -> Any:
        return _sigmoid(self.xp, x)

    def largest(self, x: Any, k: int) -> npt.NDArray[np.float64]:
        return np.asarray(self.xp.asnumpy(_largest(self.xp, x, k)), dtype=np.float64)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def free_memory_bytes(self) -> int | None:
        return int(self.xp.cuda.runtime.memGetInfo()[0])


class _TorchOps(ArrayOps):
    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._device = self.xp.device("cuda", int(backend.device.partition(":")[2] or 0))
        self._generator = self.xp.Generator(device=self._device)

    def from_numpy(self, a: npt.ArrayLike) -> Any:
        host = np.ascontiguousarray(a, dtype=np.float32)
        return self.xp.from_numpy(host).to(self._device)

    def to_numpy(self, x: Any) -> npt.NDArray[np.float64]:
        return np.asarray(x.detach().cpu().numpy(), dtype=np.float64)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return self.xp.empty(shape, dtype=self.xp.float32, device=self._device)

    def standard_normal(self, seed: np.random.SeedSequence, out: Any) -> None:
        self._generator.manual_seed(_device_seed(seed))
        self.xp.randn(out.shape, generator=self._generator, out=out)

    def matmul(self, a: Any, b: Any, out: Any) -> Any:
        return self.xp.matmul(a, b, out=out)

    def exp_(self, x: Any) -> None:
        x.exp_()

    def add_relu_(self, x: Any, bias: Any) -> None:
        x.add_(bias).relu_()

    def sigmoid(self, x: Any) -> Any:
        return self.xp.sigmoid(x)

    def largest(self, x: Any, k: int) -> npt.NDArray[np.float64]:
        return np.asarray(self.xp.topk(x, k).values.cpu().numpy(), dtype=np.float64)

    def synchronize(self) -> None:
        self.xp.cuda.synchronize(self._device)

    def free_memory_bytes(self) -> int | None:
        return int(self.xp.cuda.mem_get_info(self._device)[0])


def _device_seed(seed: np.random.SeedSequence) -> int:
    return int(seed.generate_state(1, np.uint64)[0]) & _SEED_MASK


def _sigmoid(xp: Any, x: Any) -> Any:
    # 1 / (1 + e^-x) overflows e^-x for x < -88 in float32; the two-branch form with
    # e = exp(-|x|) never does (the usual stable logistic, e.g. scipy.special.expit).
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _largest(xp: Any, x: Any, k: int) -> Any:
    if k >= x.shape[0]:
        return x
    return xp.partition(x, x.shape[0] - k)[x.shape[0] - k :]


def array_ops(backend: Backend) -> ArrayOps:
    """Return the operations for `backend` (from `workloads.base.resolve_backend`)."""
    ops: dict[str, type[ArrayOps]] = {"numpy": _NumpyOps, "cupy": _CupyOps, "torch": _TorchOps}
    try:
        return ops[backend.name](backend)
    except KeyError as err:
        raise WorkloadError(
            f"unknown backend {backend.name!r}: choose numpy, cupy or torch"
        ) from err
