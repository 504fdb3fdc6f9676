"""The NVML family when things go wrong: resets, hung calls, old or shadowing pynvml."""

from __future__ import annotations

import sys
import threading
import time
import types

import pynvml
import pytest

from profiler.model.device import DeviceStatus
from profiler.sensors.base import FamilyState
from profiler.sensors.nvml import family
from profiler.sensors.nvml.deadline import DeadlineCaller, DeadlineExceeded
from profiler.sensors.nvml.family import NvmlSensors
from profiler.sensors.nvml.fields import PowerSource
from profiler.sensors.nvml.library import unofficial_fix, unofficial_pynvml
from tests.fakes.fake_pynvml import FakeGpu, FakeNvml

# -- a counter that goes backwards is rebased (item 8) ------------------------------------


def test_counter_reset_is_rebased_and_counted() -> None:
    gpu = FakeGpu(energy_mj=10_000_000)
    sensors = NvmlSensors(FakeNvml([gpu]))
    sensors.start(0.0)
    gpu.run(1.0, power_w=100.0)
    (r1,) = sensors.read(1.0)
    assert r1.energy_j == pytest.approx(100.0)
    gpu.energy_mj = 2_000  # the driver reloaded: the counter restarts near zero
    (reset,) = sensors.read(2.0)
    assert reset.energy_j is None
    assert reset.status is DeviceStatus.DEGRADED
    gpu.run(1.0, power_w=50.0)
    (r3,) = sensors.read(3.0)
    assert r3.status is DeviceStatus.OK
    assert r3.energy_j == pytest.approx(150.0)  # 100 J before, the reset interval dropped
    assert r3.power_w == 50.0
    assert sensors.devices()[0].details["nvml_counter_resets"] == 1


# -- a hung NVML call must not stall the sampler (item 8) ----------------------------------


def test_deadline_caller_returns_and_raises_in_the_caller() -> None:
    caller = DeadlineCaller(1.0, "test")
    assert caller.call(lambda: 41 + 1) == 42
    with pytest.raises(KeyError):
        caller.call(lambda: {}["missing"])
    caller.close()


def test_deadline_caller_without_timeout_runs_inline() -> None:
    caller = DeadlineCaller(None, "test")
    assert caller.call(threading.current_thread) is threading.current_thread()


def test_a_hung_call_times_out_and_later_calls_fail_at_once() -> None:
    caller = DeadlineCaller(0.05, "test")
    release = threading.Event()
    ran: list[str] = []
    with pytest.raises(DeadlineExceeded, match=r"longer than 0\.05 s"):
        caller.call(release.wait)
    with pytest.raises(DeadlineExceeded, match="has not returned"):
        caller.call(lambda: ran.append("queued behind the hung call"))
    assert ran == []
    assert caller.hung_for_s() > 0.0
    release.set()
    deadline = time.monotonic() + 5.0
    while caller.hung_for_s() > 0.0 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert caller.call(lambda: "again") == "again"
    caller.close()


def test_a_hung_gpu_leaves_its_tick_null_and_the_others_on_time() -> None:
    stuck, healthy = FakeGpu(), FakeGpu()
    fake = FakeNvml([stuck, healthy])
    sensors = NvmlSensors(fake, call_timeout_s=0.05)
    sensors.start(0.0)
    stuck.hang.add("nvmlDeviceGetTotalEnergyConsumption")
    healthy.run(1.0, power_w=100.0)
    r0, r1 = sensors.read(1.0)
    assert r0.status is DeviceStatus.DEGRADED
    assert (r0.power_w, r0.energy_j, r0.util) == (None, None, None)
    assert r1.status is DeviceStatus.OK
    assert r1.energy_j == pytest.approx(100.0)
    calls_while_stuck = stuck.device_calls
    began = time.monotonic()
    r0, _ = sensors.read(2.0)
    assert time.monotonic() - began < 0.05  # no second timeout: the stuck call is not queued
    assert r0.status is DeviceStatus.DEGRADED
    assert stuck.device_calls == calls_while_stuck
    stuck.hang.clear()
    stuck.release.set()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        r0, _ = sensors.read(3.0)
        if r0.status is DeviceStatus.OK:
            break
        time.sleep(0.001)
    assert r0.status is DeviceStatus.OK
    assert r0.energy_j == pytest.approx(0.0)
    sensors.close()


def test_a_gpu_hung_for_too_long_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(family, "LOST_AFTER_HUNG_S", 0.0)
    gpu = FakeGpu()
    sensors = NvmlSensors(FakeNvml([gpu]), call_timeout_s=0.02)
    sensors.start(0.0)
    gpu.hang.add("nvmlDeviceGetPowerUsage")
    (first,) = sensors.read(1.0)
    assert first.status is DeviceStatus.LOST
    gpu.release.set()
    (later,) = sensors.read(2.0)
    assert later.status is DeviceStatus.LOST
    sensors.close()


# -- slow fields are read once a second (item 8) -----------------------------------------------


def test_temperature_and_memory_are_read_once_a_second_and_held_between() -> None:
    gpu = FakeGpu(temperature_c=40)
    fake = FakeNvml([gpu])
    sensors = NvmlSensors(fake)
    sensors.start(0.0)
    fake.calls.clear()
    temperatures = []
    for k in range(1, 26):  # 10 Hz for 2.5 s
        if k == 5:
            gpu.temperature_c = 55
        (reading,) = sensors.read(k * 0.1)
        temperatures.append(reading.temperature_c)
    assert fake.calls.count("nvmlDeviceGetTemperature") == 3  # at 0.1, 1.1 and 2.1 s
    assert fake.calls.count("nvmlDeviceGetMemoryInfo") == 3
    assert fake.calls.count("nvmlDeviceGetPowerUsage") == 25
    assert temperatures[:10] == [40.0] * 10  # held from the read at 0.1 s
    assert temperatures[10:] == [55.0] * 15  # read again at 1.1 s


# -- the unofficial pynvml package (item 8) ---------------------------------------------------


def test_unofficial_pynvml_package_is_named() -> None:
    package = types.ModuleType("pynvml")
    package.__path__ = ["/site-packages/pynvml"]  # type: ignore[attr-defined]
    package.__file__ = "/site-packages/pynvml/__init__.py"
    message = unofficial_pynvml(package, lambda name: {"pynvml": "11.5.0"}.get(name))
    assert message is not None
    assert "unofficial `pynvml` package 11.5.0" in message
    assert "/site-packages/pynvml/__init__.py" in message


def test_deprecated_pynvml_beside_nvidia_ml_py_is_named() -> None:
    module = types.ModuleType("pynvml")
    versions = {"pynvml": "12.0.0", "nvidia-ml-py": "12.575.51"}
    message = unofficial_pynvml(module, versions.get)
    assert message is not None
    assert "12.0.0" in message and "nvidia-ml-py 12.575.51" in message


def test_nvidia_ml_py_alone_is_fine() -> None:
    module = types.ModuleType("pynvml")
    assert unofficial_pynvml(module, {"nvidia-ml-py": "13.0"}.get) is None


def test_doctor_warns_when_pynvml_is_shadowed(monkeypatch: pytest.MonkeyPatch) -> None:
    shadowing = FakeNvml([FakeGpu()])
    shadowing.__path__ = ["/site-packages/pynvml"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", shadowing)
    sensors = NvmlSensors()
    availability = sensors.availability()
    assert availability.state is FamilyState.FOUND
    assert "warning: the unofficial `pynvml` package" in availability.reason
    assert availability.fix == unofficial_fix()
    sensors.close()


# -- driver/library mismatch and old pynvml (item 8) ------------------------------------------


def test_driver_library_version_mismatch_is_named() -> None:
    fake = FakeNvml([FakeGpu()], init_error=pynvml.NVMLError_LibRmVersionMismatch())
    availability = NvmlSensors(fake).availability()
    assert availability.state is FamilyState.NOT_READABLE
    assert "driver/library version mismatch" in availability.reason
    assert availability.fix is not None
    assert "reboot" in availability.fix


def test_functions_an_old_pynvml_lacks_read_as_unsupported() -> None:
    fake = FakeNvml([FakeGpu(gpm_supported=True, power_instant_mw=100_000)])
    for missing in ("nvmlGpmQueryDeviceSupport", "nvmlDeviceGetFieldValues", "nvmlDeviceGetUUID"):
        setattr(fake, missing, None)
    sensors = NvmlSensors(fake)
    sensors.start(0.0)
    (device,) = sensors.devices()
    assert "uuid" not in device.details
    assert device.details["sm_active_source"] is None
    assert device.details["power_source"] == PowerSource.AVERAGE.value
    (reading,) = sensors.read(1.0)
    assert reading.power_w == 100.0
    sensors.close()
