import sys

import numpy as np
import pytest

from workloads.base import (
    BackendUnavailable,
    Size,
    WorkloadError,
    parse_device,
    parse_size,
    resolve_backend,
)


def test_numpy_backend_on_cpu():
    backend = resolve_backend("numpy")
    assert (backend.name, backend.device, backend.module) == ("numpy", "cpu", np)
    assert resolve_backend("auto", "cpu").name == "numpy"


@pytest.mark.parametrize(
    ("name", "device", "needle"),
    [
        ("numpy", "gpu:0", "CPU only"),
        ("cupy", "cpu", "GPU only"),
        ("torch", "cpu", "GPU only"),
        ("jax", "cpu", "unknown backend 'jax'"),
        ("numpy", "tpu", "unknown device 'tpu'"),
        ("numpy", "gpu:x", "unknown device"),
    ],
)
def test_bad_backend_or_device_is_named(name, device, needle):
    with pytest.raises(WorkloadError, match=needle):
        resolve_backend(name, device)


@pytest.mark.parametrize("name", ["cupy", "torch", "auto"])
def test_gpu_backend_not_importable_says_why(monkeypatch, name):
    # A None entry in sys.modules makes `import cupy` raise ImportError on any machine.
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendUnavailable, match="not importable"):
        resolve_backend(name, "gpu")


def test_parse_device_and_size():
    assert parse_device("gpu") == ("gpu", 0)
    assert parse_device("gpu:3") == ("gpu", 3)
    assert parse_device("cpu") == ("cpu", 0)
    assert parse_size("small") is Size.SMALL
    with pytest.raises(WorkloadError, match="small, standard, large"):
        parse_size("huge")
