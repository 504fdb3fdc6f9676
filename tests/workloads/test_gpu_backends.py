"""GPU back-end resolution without a GPU: fake cupy/torch modules in sys.modules.

Covers a CuPy whose CUDA libraries fail to load (the wrong wheel for the driver's CUDA),
which must read as BackendUnavailable so that `auto` falls back to torch, and a device
asked for by UUID, which must land on the CUDA ordinal with that UUID.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import pytest

from workloads.base import BackendUnavailable, WorkloadError, device_target, resolve_backend

LIBS = ("cupy_backends.cuda.libs.curand", "cupy_backends.cuda.libs.cublas")
A = "GPU-aaaaaaaa-0000-4000-8000-000000000000"
B = "GPU-bbbbbbbb-0000-4000-8000-000000000000"


def raw(uuid: str) -> bytes:
    return uuidlib.UUID(uuid[4:]).bytes


class CUDARuntimeError(RuntimeError):
    pass


def fake_cupy(uuids: list[str], *, error: Exception | None = None) -> types.ModuleType:
    """The slice of cupy resolve_backend uses: device count, properties, Device.use()."""
    cupy = types.ModuleType("cupy")
    used: list[int] = []

    def count() -> int:
        if error is not None:
            raise error
        return len(uuids)

    class Device:
        def __init__(self, index: int) -> None:
            self.index = index

        def use(self) -> None:
            used.append(self.index)

    runtime = types.SimpleNamespace(
        getDeviceCount=count,
        getDeviceProperties=lambda i: {"uuid": raw(uuids[i]), "name": b"fake"},
        CUDARuntimeError=CUDARuntimeError,
    )
    cupy.cuda = types.SimpleNamespace(runtime=runtime, Device=Device)  # type: ignore[attr-defined]
    cupy.used = used  # type: ignore[attr-defined]
    return cupy


def fake_torch(uuids: list[str]) -> types.ModuleType:
    torch = types.ModuleType("torch")
    current: list[int] = []

    class Props:
        def __init__(self, uuid: str) -> None:
            self.uuid = uuidlib.UUID(uuid[4:])  # str() is hyphenated hex, .bytes raw

    torch.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_available=lambda: bool(uuids),
        device_count=lambda: len(uuids),
        get_device_properties=lambda i: Props(uuids[i]),
        set_device=current.append,
    )
    torch.current = current  # type: ignore[attr-defined]
    return torch


class FailingLoader(importlib.abc.Loader, importlib.abc.MetaPathFinder):
    """Makes importing one module raise what a missing shared library raises."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.error = name, error

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname == self.name:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        raise self.error


@pytest.fixture
def cuda_libs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CuPy's CUDA-library modules, importable (as with a matching wheel)."""
    for name in LIBS:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    yield


def break_library(monkeypatch: pytest.MonkeyPatch, name: str, error: Exception) -> None:
    """Make `import name` raise `error` from the module itself, its parents importable."""
    parts = name.split(".")
    for depth in range(1, len(parts)):
        parent = ".".join(parts[:depth])
        package = types.ModuleType(parent)
        package.__path__ = []  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, parent, package)
    monkeypatch.delitem(sys.modules, name, raising=False)
    finder = FailingLoader(name, error)
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])


# -- device names ---------------------------------------------------------------------------


def test_device_target_reads_ordinals_and_uuids() -> None:
    assert device_target("cpu") == ("cpu", 0)
    assert device_target("gpu") == ("gpu", 0)
    assert device_target("gpu:2") == ("gpu", 2)
    assert device_target(f"gpu:{A}") == ("gpu", A)
    assert device_target("gpu:MIG-7c5e") == ("gpu", "MIG-7c5e")
    for bad in ("gpu:GPU-", "gpu:uuid", "tpu:GPU-1"):
        with pytest.raises(WorkloadError, match="unknown device"):
            device_target(bad)


# -- item 2: the ordinal comes from the UUID --------------------------------------------------


@pytest.mark.usefixtures("cuda_libs")
def test_cupy_finds_the_gpu_by_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    cupy = fake_cupy([B, A])  # CUDA enumerates B first
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    backend = resolve_backend("cupy", f"gpu:{A}")
    assert (backend.name, backend.device, backend.uuid) == ("cupy", "gpu:1", A)
    assert cupy.used == [1]  # type: ignore[attr-defined]


def test_torch_finds_the_gpu_by_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = fake_torch([B, A])
    monkeypatch.setitem(sys.modules, "torch", torch)
    backend = resolve_backend("torch", f"gpu:{B}")
    assert (backend.device, backend.uuid) == ("gpu:0", B)
    assert torch.current == [0]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("cuda_libs")
def test_a_gpu_cuda_does_not_see_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy([B]))
    with pytest.raises(BackendUnavailable, match="CUDA_VISIBLE_DEVICES"):
        resolve_backend("cupy", f"gpu:{A}")


@pytest.mark.usefixtures("cuda_libs")
def test_an_ordinal_is_still_an_ordinal(monkeypatch: pytest.MonkeyPatch) -> None:
    cupy = fake_cupy([B, A])
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert resolve_backend("cupy", "gpu:1").device == "gpu:1"
    assert resolve_backend("cupy", "gpu:1").uuid is None
    with pytest.raises(BackendUnavailable, match="no gpu:2"):
        resolve_backend("cupy", "gpu:2")


# -- item 5: a CuPy that cannot load its CUDA libraries ---------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ImportError("libcurand.so.10: cannot open shared object file: No such file or directory"),
        OSError("libcublas.so.12: cannot open shared object file"),
    ],
)
def test_cupy_without_its_cuda_libraries_falls_back_to_torch(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy([A]))
    monkeypatch.setitem(sys.modules, LIBS[1], types.ModuleType(LIBS[1]))
    break_library(monkeypatch, LIBS[0], error)
    with pytest.raises(BackendUnavailable) as caught:
        resolve_backend("cupy", "gpu:0")
    message = str(caught.value)
    assert "cannot load its CUDA libraries" in message
    assert str(error) in message
    assert "cupy-cuda12x" in message and "cupy-cuda13x" in message
    monkeypatch.setitem(sys.modules, "torch", fake_torch([A]))
    assert resolve_backend("auto", f"gpu:{A}").name == "torch"


def test_cupy_import_raising_oserror_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    break_library(monkeypatch, "cupy", OSError("libcudart.so.12: cannot open shared object"))
    with pytest.raises(BackendUnavailable, match=r"cupy is not importable.*libcudart"):
        resolve_backend("cupy", "gpu:0")


@pytest.mark.usefixtures("cuda_libs")
def test_a_driver_too_old_for_the_wheel_names_the_wheels(monkeypatch: pytest.MonkeyPatch) -> None:
    error = CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy([A], error=error))
    with pytest.raises(BackendUnavailable, match=r"InsufficientDriver.*cupy-cuda13x"):
        resolve_backend("cupy", "gpu:0")


def test_auto_names_both_reasons_when_neither_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setitem(sys.modules, "torch", fake_torch([]))
    with pytest.raises(BackendUnavailable, match=r"cupy: cupy is not importable.*torch: torch"):
        resolve_backend("auto", "gpu")
