from __future__ import annotations

import subprocess
import sys

import pynvml
import pytest

from profiler.model.device import DeviceStatus
from profiler.model.provenance import MEASURED_NVML_ENERGY, MEASURED_NVML_POWER
from profiler.sensors.base import FamilyState, SensorError, SensorFamily
from profiler.sensors.nvml.family import LOST_AFTER_FAILED_TICKS, NvmlSensors
from profiler.sensors.nvml.library import (
    NVML_CONSTANTS,
    NVML_ERRORS,
    NVML_FUNCTIONS,
    NVML_STRUCTS,
    NvmlLibrary,
)
from profiler.sensors.nvml.tick import energy_disagreement
from tests.fakes.fake_pynvml import GIB, NO_COUNTER, FakeGpu, FakeMigDevice, FakeNvml, started

# -- probing --------------------------------------------------------------------------


def test_is_a_sensor_family_and_probes_lazily() -> None:
    fake = FakeNvml([FakeGpu()])
    sensors = NvmlSensors(fake)
    assert isinstance(sensors, SensorFamily)
    assert sensors.name == "nvml"
    assert sensors.poll_interval_s is None
    assert fake.calls == []


def test_import_does_not_touch_nvml() -> None:
    code = "import sys, profiler.sensors.nvml.family; print('pynvml' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_device_records() -> None:
    fake = FakeNvml([FakeGpu(), FakeGpu(name="Tesla P100", unsupported=NO_COUNTER)])
    sensors = NvmlSensors(fake)
    availability = sensors.availability()
    assert availability.state is FamilyState.FOUND
    assert "driver 550.54.15" in availability.reason
    assert "gpu:1 Tesla P100 (measured:nvml-power)" in availability.reason
    gpu0, gpu1 = sensors.devices()
    assert gpu0.device_id == "gpu:0"
    assert gpu0.kind == "gpu"
    assert gpu0.model == "NVIDIA H100 80GB HBM3"
    assert gpu0.mem_total_bytes == 80 * GIB
    assert gpu0.power_limit_w == 700.0
    assert gpu0.provenance == MEASURED_NVML_ENERGY
    assert gpu1.provenance == MEASURED_NVML_POWER
    assert "energy" in gpu1.details["nvml_absent"]


def test_power_limit_falls_back_then_absent() -> None:
    fallback = FakeGpu(unsupported={"nvmlDeviceGetEnforcedPowerLimit"}, power_limit_mw=250_000)
    neither = FakeGpu(
        unsupported={"nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"}
    )
    sensors = NvmlSensors(FakeNvml([fallback, neither]))
    assert [d.power_limit_w for d in sensors.devices()] == [250.0, None]


def test_bytes_name_from_old_pynvml_is_decoded() -> None:
    class OldNvml(FakeNvml):
        def nvmlDeviceGetName(self, handle):  # noqa: N802
            return super().nvmlDeviceGetName(handle).encode()

    sensors = NvmlSensors(OldNvml([FakeGpu(name="Tesla V100")]))
    assert sensors.devices()[0].model == "Tesla V100"


def test_no_gpus() -> None:
    sensors = NvmlSensors(FakeNvml([]))
    availability = sensors.availability()
    assert availability.state is FamilyState.NOT_FOUND
    assert "no usable GPU" in availability.reason
    assert sensors.devices() == []
    sensors.start(0.0)
    assert sensors.read(1.0) == []


def test_gpu_lost_at_probe_is_skipped_with_reason() -> None:
    lost = FakeGpu(lose_at_call=1)
    sensors = NvmlSensors(FakeNvml([FakeGpu(), lost]))
    assert [d.device_id for d in sensors.devices()] == ["gpu:0"]
    assert "gpu:1 skipped" in sensors.availability().reason
    assert "GPU is lost" in sensors.availability().reason


# -- library missing ------------------------------------------------------------------


def test_module_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    sensors = NvmlSensors()
    availability = sensors.availability()
    assert availability.state is FamilyState.NOT_FOUND
    assert "nvidia-ml-py not installed" in availability.reason
    assert availability.fix == "pip install nvidia-ml-py"
    assert sensors.devices() == []
    sensors.start(0.0)
    assert sensors.read(1.0) == []
    sensors.close()


@pytest.mark.parametrize(
    ("error", "state", "words"),
    [
        (pynvml.NVMLError_LibraryNotFound(), FamilyState.NOT_FOUND, "libnvidia-ml.so.1"),
        (pynvml.NVMLError_DriverNotLoaded(), FamilyState.NOT_FOUND, "driver not loaded"),
        (pynvml.NVMLError_NoPermission(), FamilyState.NOT_READABLE, "refused"),
        (pynvml.NVMLError_Unknown(), FamilyState.NOT_FOUND, "Unknown Error"),
    ],
)
def test_init_failure(error: pynvml.NVMLError, state: FamilyState, words: str) -> None:
    fake = FakeNvml([FakeGpu()], init_error=error)
    sensors = NvmlSensors(fake)
    availability = sensors.availability()
    assert availability.state is state
    assert words in availability.reason
    assert availability.fix
    assert sensors.devices() == []
    sensors.close()
    assert "nvmlShutdown" not in fake.calls


def test_real_pynvml_here_never_raises() -> None:
    sensors = NvmlSensors()
    availability = sensors.availability()
    if availability.state is not FamilyState.FOUND:
        assert availability.reason
        assert sensors.devices() == []
    sensors.close()


# -- energy -----------------------------------------------------------------------------


def test_energy_counter_is_preferred_and_power_kept_beside_it() -> None:
    gpu = FakeGpu(power_mw=100_000)
    sensors, _ = started(gpu, t0=10.0)
    gpu.run(2.0, power_w=200.0)
    (r1,) = sensors.read(12.0)
    assert r1.status is DeviceStatus.OK
    assert r1.energy_j == pytest.approx(400.0)
    assert r1.power_w == 200.0
    assert r1.energy_from_power_j == pytest.approx((100.0 + 200.0) / 2 * 2.0)
    gpu.run(1.0, power_w=300.0)
    (r2,) = sensors.read(13.0)
    assert r2.energy_j == pytest.approx(700.0)
    assert r2.energy_from_power_j == pytest.approx(300.0 + 250.0)
    assert energy_disagreement(r2.energy_j, r2.energy_from_power_j) == pytest.approx(
        (550.0 - 700.0) / 700.0
    )


def test_without_counter_power_is_integrated_by_trapezoid() -> None:
    gpu = FakeGpu(unsupported=NO_COUNTER, power_mw=100_000)
    sensors, fake = started(gpu, t0=0.0)
    series = [(0.5, 300.0), (1.5, 100.0), (4.0, 100.0), (4.25, 500.0)]
    readings = []
    for t, power_w in series:
        gpu.power_mw = round(power_w * 1000)
        (reading,) = sensors.read(t)
        readings.append(reading)
    expected = [100.0, 300.0, 550.0, 625.0]  # (100+300)/2*0.5, +200*1, +100*2.5, +300*0.25
    assert [r.energy_j for r in readings] == pytest.approx(expected, abs=1e-12)
    assert all(r.energy_from_power_j is None for r in readings)
    assert sensors.devices()[0].provenance == MEASURED_NVML_POWER
    assert "nvmlDeviceGetTotalEnergyConsumption" not in fake.calls[-20:]


def test_counter_without_power_gives_power_from_counter_deltas() -> None:
    gpu = FakeGpu(unsupported={"nvmlDeviceGetPowerUsage"})
    sensors, _ = started(gpu, t0=0.0)
    gpu.run(2.0, power_w=150.0)
    (reading,) = sensors.read(2.0)
    assert reading.energy_j == pytest.approx(300.0)
    assert reading.power_w == pytest.approx(150.0)
    assert reading.energy_from_power_j is None


def test_counter_baseline_failure_falls_back_to_power() -> None:
    gpu = FakeGpu(power_mw=100_000)
    fake = FakeNvml([gpu])
    sensors = NvmlSensors(fake)
    assert sensors.devices()[0].provenance == MEASURED_NVML_ENERGY
    gpu.transient["nvmlDeviceGetTotalEnergyConsumption"] = [pynvml.NVMLError_Unknown()]
    sensors.start(0.0)
    assert sensors.devices()[0].provenance == MEASURED_NVML_POWER
    gpu.run(1.0, power_w=100.0)
    (reading,) = sensors.read(1.0)
    assert reading.energy_j == pytest.approx(100.0)
    assert reading.energy_from_power_j is None


def test_counter_unsupported_at_start_falls_back_to_power() -> None:
    gpu = FakeGpu(power_mw=100_000)
    sensors = NvmlSensors(FakeNvml([gpu]))
    sensors.devices()
    gpu.unsupported.add("nvmlDeviceGetTotalEnergyConsumption")
    sensors.start(0.0)
    assert sensors.devices()[0].provenance == MEASURED_NVML_POWER
    (reading,) = sensors.read(2.0)
    assert reading.energy_j == pytest.approx(200.0)


def test_counter_lost_mid_run_leaves_energy_null() -> None:
    gpu = FakeGpu()
    sensors, _ = started(gpu, t0=0.0)
    gpu.unsupported.add("nvmlDeviceGetTotalEnergyConsumption")
    for t in (1.0, 2.0):
        (reading,) = sensors.read(t)
        assert reading.energy_j is None
        assert reading.power_w == 100.0


def test_counter_going_backwards_is_dropped_not_negative() -> None:
    gpu = FakeGpu(energy_mj=10_000)
    sensors, _ = started(gpu, t0=0.0)
    gpu.energy_mj = 5_000
    (reading,) = sensors.read(1.0)
    assert reading.energy_j is None
    assert reading.status is DeviceStatus.DEGRADED


def test_restart_resets_baselines() -> None:
    gpu = FakeGpu()
    sensors, _ = started(gpu, t0=0.0)
    gpu.run(1.0, power_w=100.0)
    sensors.read(1.0)
    sensors.start(5.0)
    gpu.run(1.0, power_w=100.0)
    (reading,) = sensors.read(6.0)
    assert reading.energy_j == pytest.approx(100.0)
    assert reading.energy_from_power_j == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("counter_j", "power_j", "expected"),
    [
        (327.0, 187.0, (187.0 - 327.0) / 327.0),
        (100.0, 100.0, 0.0),
        (100.0, 150.0, 0.5),
        (None, 100.0, None),
        (100.0, None, None),
        (0.0, 0.0, None),
    ],
)
def test_energy_disagreement(
    counter_j: float | None, power_j: float | None, expected: float | None
) -> None:
    assert energy_disagreement(counter_j, power_j) == (
        pytest.approx(expected) if expected is not None else None
    )


# -- fields degrade on their own --------------------------------------------------------


def test_unsupported_fields_are_none_and_not_called_per_tick() -> None:
    gpu = FakeGpu(
        util_gpu_pct=75,
        unsupported={"nvmlDeviceGetClockInfo", "nvmlDeviceGetTemperature"},
        denied={"nvmlDeviceGetMemoryInfo"},
    )
    sensors, fake = started(gpu)
    fake.calls.clear()
    (reading,) = sensors.read(101.0)
    assert reading.status is DeviceStatus.OK
    assert reading.clock_mhz is None
    assert reading.temperature_c is None
    assert reading.mem_used_bytes is None
    assert reading.util == 0.75
    assert reading.power_w == 100.0
    assert sorted(fake.calls) == [
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetTotalEnergyConsumption",
        "nvmlDeviceGetUtilizationRates",
    ]
    device = sensors.devices()[0]
    assert device.mem_total_bytes is None
    assert set(device.details["nvml_absent"]) == {"clock", "temperature", "memory"}


def test_all_fields_read() -> None:
    gpu = FakeGpu(util_gpu_pct=40, mem_used_bytes=3 * GIB, sm_clock_mhz=1410, temperature_c=61)
    sensors, _ = started(gpu)
    (reading,) = sensors.read(101.0)
    assert reading.util == 0.4
    assert reading.mem_used_bytes == 3 * GIB
    assert reading.clock_mhz == 1410.0
    assert reading.temperature_c == 61.0
    assert reading.sm_active is None


def test_transient_error_nulls_that_field_for_one_tick() -> None:
    gpu = FakeGpu(temperature_c=50)
    sensors, _ = started(gpu)
    gpu.transient["nvmlDeviceGetTemperature"] = [pynvml.NVMLError_Timeout()]
    (bad,) = sensors.read(101.0)
    assert bad.status is DeviceStatus.DEGRADED
    assert bad.temperature_c is None
    assert bad.power_w == 100.0
    (good,) = sensors.read(102.0)
    assert good.status is DeviceStatus.OK
    assert good.temperature_c == 50.0


def test_field_unsupported_mid_run_is_dropped() -> None:
    gpu = FakeGpu()
    sensors, fake = started(gpu)
    gpu.unsupported.add("nvmlDeviceGetTemperature")
    (first,) = sensors.read(101.0)
    assert first.temperature_c is None
    fake.calls.clear()
    (second,) = sensors.read(102.0)
    assert second.status is DeviceStatus.OK
    assert "nvmlDeviceGetTemperature" not in fake.calls


def test_power_gap_is_bridged_by_the_trapezoid() -> None:
    gpu = FakeGpu(unsupported=NO_COUNTER, power_mw=100_000)
    sensors, _ = started(gpu, t0=0.0)
    gpu.transient["nvmlDeviceGetPowerUsage"] = [pynvml.NVMLError_Unknown()]
    (gap,) = sensors.read(1.0)
    assert gap.energy_j is None
    assert gap.power_w is None
    (after,) = sensors.read(2.0)
    assert after.energy_j == pytest.approx(200.0)


# -- lost GPUs ------------------------------------------------------------------------------


def test_gpu_lost_mid_run_others_continue() -> None:
    gpu0, gpu1 = FakeGpu(), FakeGpu()
    sensors, fake = started(gpu0, gpu1, t0=0.0)
    gpu0.run(1.0, power_w=100.0)
    gpu1.run(1.0, power_w=100.0)
    assert [r.status for r in sensors.read(1.0)] == [DeviceStatus.OK, DeviceStatus.OK]
    gpu1.fall_off_bus()
    gpu0.run(1.0, power_w=100.0)
    r0, r1 = sensors.read(2.0)
    assert r0.status is DeviceStatus.OK
    assert r0.energy_j == pytest.approx(200.0)
    assert r1.status is DeviceStatus.LOST
    assert (r1.util, r1.power_w, r1.energy_j, r1.energy_from_power_j) == (None,) * 4
    calls_on_lost = gpu1.device_calls
    gpu0.run(1.0, power_w=100.0)
    r0, r1 = sensors.read(3.0)
    assert r0.energy_j == pytest.approx(300.0)
    assert r1.status is DeviceStatus.LOST
    assert r1.temperature_c is None
    assert gpu1.device_calls == calls_on_lost  # a lost GPU is not asked again
    assert fake.calls.count("nvmlDeviceGetPowerUsage") >= 4


def test_gpu_answering_unknown_to_everything_becomes_lost() -> None:
    gpu0, gpu1 = FakeGpu(), FakeGpu()
    sensors, _ = started(gpu0, gpu1, t0=0.0)
    gpu1.fall_off_bus(pynvml.NVMLError_Unknown)
    statuses = [sensors.read(float(t))[1].status for t in range(1, LOST_AFTER_FAILED_TICKS + 2)]
    assert (
        statuses
        == [DeviceStatus.DEGRADED] * (LOST_AFTER_FAILED_TICKS - 1) + [DeviceStatus.LOST] * 2
    )
    assert sensors.read(10.0)[0].status is DeviceStatus.OK


def test_gpu_lost_at_start_reads_lost() -> None:
    gpu = FakeGpu()
    fake = FakeNvml([gpu])
    sensors = NvmlSensors(fake)
    sensors.devices()
    gpu.fall_off_bus(pynvml.NVMLError_ResetRequired)
    sensors.start(0.0)
    (reading,) = sensors.read(1.0)
    assert reading.status is DeviceStatus.LOST


# -- lifecycle ---------------------------------------------------------------------------


def test_read_before_start_and_after_close_raise() -> None:
    fake = FakeNvml([FakeGpu()])
    sensors = NvmlSensors(fake)
    with pytest.raises(SensorError, match="before start"):
        sensors.read(0.0)
    sensors.start(0.0)
    sensors.close()
    sensors.close()
    assert fake.calls.count("nvmlShutdown") == 1
    assert fake.init_count == 0
    with pytest.raises(SensorError, match="after close"):
        sensors.read(1.0)


def test_failing_shutdown_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeNvml([FakeGpu()])
    sensors = NvmlSensors(fake)
    sensors.devices()
    fake.init_count = 0
    sensors.close()
    assert "nvmlShutdown failed" in caplog.text


# -- the NVML surface ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NVML_FUNCTIONS + NVML_CONSTANTS + NVML_ERRORS + NVML_STRUCTS)
def test_every_declared_nvml_name_exists_in_real_pynvml_and_fake(name: str) -> None:
    assert hasattr(pynvml, name)
    assert hasattr(FakeNvml(), name)


def test_adapter_calls_only_declared_functions() -> None:
    hopper_mig = FakeGpu(
        power_instant_mw=90_000,
        gpm_supported=True,
        mig_enabled=True,
        mig_devices={0: FakeMigDevice(gpu_instance_id=1, uuid="MIG-aaaa")},
    )
    gpus = [
        FakeGpu(),
        FakeGpu(unsupported={"nvmlDeviceGetEnforcedPowerLimit"} | NO_COUNTER),
        FakeGpu(),
        hopper_mig,
    ]
    sensors, fake = started(*gpus, t0=0.0)
    gpus[2].fall_off_bus()
    sensors.read(1.0)
    sensors.gpu_processes()
    sensors.availability()
    sensors.close()
    assert set(fake.calls) <= set(NVML_FUNCTIONS)
    assert set(fake.calls) == set(NVML_FUNCTIONS)  # the test run exercises every one


def test_undeclared_names_are_refused() -> None:
    lib = NvmlLibrary(FakeNvml([FakeGpu()]))
    with pytest.raises(ValueError, match="NVML_FUNCTIONS"):
        lib.call("nvmlDeviceGetFanSpeed")
    with pytest.raises(ValueError, match="NVML_CONSTANTS"):
        lib.constant("NVML_CLOCK_MEM")
    with pytest.raises(ValueError, match="NVML_ERRORS"):
        lib.error_class("NVMLError_Timeout")
    with pytest.raises(ValueError, match="NVML_STRUCTS"):
        lib.struct("c_nvmlDevice_t")


def test_fake_functions_exist_in_real_pynvml() -> None:
    fake_names = {n for n in dir(FakeNvml) if n.startswith("nvml")}
    assert fake_names
    assert all(hasattr(pynvml, n) for n in fake_names)


def test_fake_raises_the_real_error_classes() -> None:
    fake = FakeNvml([FakeGpu(unsupported={"nvmlDeviceGetPowerUsage"})])
    fake.nvmlInit()
    with pytest.raises(pynvml.NVMLError_NotSupported) as caught:
        fake.nvmlDeviceGetPowerUsage(fake.nvmlDeviceGetHandleByIndex(0))
    assert caught.value.value == pynvml.NVML_ERROR_NOT_SUPPORTED
    assert fake.NVMLError is pynvml.NVMLError
