"""The runner names a GPU to its workers by UUID, not by NVML index (docs/gpu-validation.md)."""

from profiler.capture.runner import workload_device
from profiler.model.device import DeviceInfo
from workloads.base import device_target

DEVICES = [
    DeviceInfo("cpu:0", "cpu"),
    DeviceInfo("gpu:0", "gpu", details={"uuid": "GPU-8f3c0a4e-1111-2222-3333-444455556666"}),
    DeviceInfo("gpu:1", "gpu"),
]


def test_a_gpu_with_a_uuid_is_named_by_it() -> None:
    name = workload_device("gpu:0", DEVICES)
    assert name == "gpu:GPU-8f3c0a4e-1111-2222-3333-444455556666"
    assert device_target(name) == ("gpu", "GPU-8f3c0a4e-1111-2222-3333-444455556666")


def test_without_a_uuid_or_for_the_cpu_the_name_is_kept() -> None:
    assert workload_device("gpu:1", DEVICES) == "gpu:1"
    assert workload_device("cpu", DEVICES) == "cpu"
    assert workload_device("gpu:7", DEVICES) == "gpu:7"
