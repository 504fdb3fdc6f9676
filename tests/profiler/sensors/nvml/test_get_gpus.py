"""`get_gpus`: the NVML family when a GPU answers, else None with NVML shut down again."""

from __future__ import annotations

from profiler.sensors.base import FamilyState
from profiler.sensors.nvml import get_gpus
from profiler.sensors.nvml.family import NvmlSensors
from tests.fakes.fake_pynvml import FakeGpu, FakeNvml


def test_a_gpu_gives_the_family_and_its_probe() -> None:
    family, states = get_gpus(FakeNvml([FakeGpu()]))
    assert isinstance(family, NvmlSensors)
    try:
        assert [d.device_id for d in family.devices()] == ["gpu:0"]
        assert [(a.family, a.state) for a in states] == [("nvml", FamilyState.FOUND)]
    finally:
        family.close()


def test_no_gpu_gives_none_and_releases_nvml() -> None:
    fake = FakeNvml([])
    family, states = get_gpus(fake)
    assert family is None
    assert [a.family for a in states] == ["nvml"]
    assert states[0].state is not FamilyState.FOUND
    assert fake.calls.count("nvmlInit") == fake.calls.count("nvmlShutdown") == 1
    assert fake.init_count == 0
