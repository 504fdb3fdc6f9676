"""The NVML family on Ampere/Hopper facts: UUIDs, instant power, GPM SM activity, MIG."""

from __future__ import annotations

from pathlib import Path

import pynvml
import pytest

from profiler.model.device import DeviceStatus
from profiler.model.provenance import MEASURED_NVML_ENERGY
from profiler.sensors.base import FamilyState
from profiler.sensors.nvml.family import NvmlSensors
from profiler.sensors.nvml.fields import PowerSource
from profiler.sensors.nvml.gpm import SOURCE as GPM_SOURCE
from profiler.sensors.probe import probe_sensors
from tests.fakes.fake_pynvml import GIB, NO_COUNTER, FakeGpu, FakeMigDevice, FakeNvml, started

H100_UUID = "GPU-8a1b2c3d-0000-1111-2222-333344445555"


# -- UUIDs (item 2) ----------------------------------------------------------------------


def test_uuid_is_recorded_per_gpu() -> None:
    sensors = NvmlSensors(FakeNvml([FakeGpu(uuid=H100_UUID), FakeGpu()]))
    gpu0, gpu1 = sensors.devices()
    assert gpu0.details["uuid"] == H100_UUID
    assert gpu1.details["uuid"] == "GPU-00000000-0000-0000-0000-000000000001"
    assert gpu0.details["nvml_index"] == 0


def test_uuid_unsupported_leaves_it_out() -> None:
    sensors = NvmlSensors(FakeNvml([FakeGpu(unsupported={"nvmlDeviceGetUUID"})]))
    assert "uuid" not in sensors.devices()[0].details


# -- instant power (item 6) -----------------------------------------------------------------


def test_instant_power_is_read_where_supported() -> None:
    gpu = FakeGpu(power_instant_mw=250_000, power_mw=180_000)
    sensors, fake = started(gpu, t0=0.0)
    assert sensors.devices()[0].details["power_source"] == PowerSource.INSTANT.value
    fake.calls.clear()
    gpu.run(1.0, power_w=300.0)  # the counter and the averaged reading move...
    gpu.power_instant_mw = 310_000  # ...and the instant field says what is drawn now
    (reading,) = sensors.read(1.0)
    assert reading.power_w == 310.0
    assert reading.energy_j == pytest.approx(300.0)  # the counter stays authoritative
    assert reading.energy_from_power_j == pytest.approx((250.0 + 310.0) / 2)
    assert "nvmlDeviceGetFieldValues" in fake.calls
    assert "nvmlDeviceGetPowerUsage" not in fake.calls


def test_without_instant_power_the_average_is_used_and_named() -> None:
    sensors, _ = started(FakeGpu(power_mw=123_000))
    assert sensors.devices()[0].details["power_source"] == PowerSource.AVERAGE.value
    (reading,) = sensors.read(101.0)
    assert reading.power_w == 123.0


def test_each_fields_own_return_code_is_checked() -> None:
    # No energy counter, so power is not filled in from counter deltas either.
    gpu = FakeGpu(power_instant_mw=200_000, unsupported=NO_COUNTER)
    sensors, _ = started(gpu)
    gpu.field_returns[pynvml.NVML_FI_DEV_POWER_INSTANT] = [pynvml.NVML_ERROR_UNKNOWN]
    (bad,) = sensors.read(101.0)
    assert bad.power_w is None  # the call succeeded, its one field did not
    assert bad.status is DeviceStatus.DEGRADED
    (good,) = sensors.read(102.0)
    assert good.power_w == 200.0
    assert good.status is DeviceStatus.OK


def test_instant_power_lost_mid_run_falls_back_to_the_average() -> None:
    gpu = FakeGpu(power_instant_mw=200_000, power_mw=150_000, unsupported=NO_COUNTER)
    sensors, _ = started(gpu)
    gpu.power_instant_mw = None  # the field now answers NotSupported
    (first,) = sensors.read(101.0)
    assert first.power_w is None
    (second,) = sensors.read(102.0)
    assert second.power_w == 150.0
    assert sensors.devices()[0].details["power_source"] == PowerSource.AVERAGE.value


# -- SM activity from GPM (item 7) -----------------------------------------------------------


def test_sm_activity_from_gpm() -> None:
    gpu = FakeGpu(gpm_supported=True, sm_util_pct=42.0)
    sensors, _ = started(gpu)
    assert sensors.devices()[0].details["sm_active_source"] == GPM_SOURCE
    (reading,) = sensors.read(101.0)  # start() took the first sample
    assert reading.sm_active == pytest.approx(0.42)
    gpu.sm_util_pct = 100.4  # rounding above 100 % is clamped
    (reading,) = sensors.read(102.0)
    assert reading.sm_active == 1.0


def test_sm_activity_absent_before_hopper() -> None:
    sensors, fake = started(FakeGpu())
    assert sensors.devices()[0].details["sm_active_source"] is None
    (reading,) = sensors.read(101.0)
    assert reading.sm_active is None
    assert "nvmlGpmSampleGet" not in fake.calls


def test_gpm_samples_closer_than_the_minimum_repeat_the_last_figure() -> None:
    gpu = FakeGpu(gpm_supported=True, sm_util_pct=30.0)
    sensors, fake = started(gpu, t0=0.0)
    (r1,) = sensors.read(0.2)
    gpu.sm_util_pct = 80.0
    fake.calls.clear()
    (r2,) = sensors.read(0.25)
    assert r2.sm_active == r1.sm_active == pytest.approx(0.3)
    assert "nvmlGpmSampleGet" not in fake.calls
    (r3,) = sensors.read(0.4)
    assert r3.sm_active == pytest.approx(0.8)


def test_gpm_metric_failure_nulls_sm_activity_for_that_tick() -> None:
    gpu = FakeGpu(gpm_supported=True, sm_util_pct=30.0)
    sensors, _ = started(gpu)
    gpu.transient["nvmlGpmSampleGet"] = [pynvml.NVMLError_Unknown()]
    (bad,) = sensors.read(101.0)
    assert bad.sm_active is None
    assert bad.status is DeviceStatus.DEGRADED
    (good,) = sensors.read(102.0)
    assert good.sm_active == pytest.approx(0.3)


def test_gpm_buffers_are_freed_at_close() -> None:
    sensors, fake = started(FakeGpu(gpm_supported=True))
    sensors.read(101.0)
    sensors.close()
    assert fake.samples
    assert all(sample.freed for sample in fake.samples)


# -- MIG (item 3) ----------------------------------------------------------------------------


def mig_gpu(**kwargs: object) -> FakeGpu:
    return FakeGpu(
        mig_enabled=True,
        util_gpu_pct=0,
        mig_devices={
            0: FakeMigDevice(gpu_instance_id=2, uuid="MIG-bbbb", mem_used_bytes=2 * GIB),
            3: FakeMigDevice(gpu_instance_id=1, uuid="MIG-aaaa", mem_used_bytes=3 * GIB),
            4: FakeMigDevice(gpu_instance_id=1, compute_instance_id=1, uuid="MIG-cccc"),
        },
        **kwargs,  # type: ignore[arg-type]
    )


def test_mig_instances_are_devices_without_power_of_their_own() -> None:
    sensors = NvmlSensors(FakeNvml([mig_gpu(), FakeGpu()]))
    ids = [d.device_id for d in sensors.devices()]
    assert ids == ["gpu:0", "gpu:0/mig:1", "gpu:0/mig:2", "gpu:1"]
    parent, gi1, _, _ = sensors.devices()
    assert parent.provenance == MEASURED_NVML_ENERGY  # the whole GPU stays measured
    assert parent.details["mig"]["mode"] == "enabled"
    assert parent.details["mig"]["instances"] == ["gpu:0/mig:1", "gpu:0/mig:2"]
    assert "every MIG instance" in parent.details["mig"]["energy"]
    assert gi1.kind == "gpu"
    assert gi1.provenance is None
    assert gi1.model == "NVIDIA H100 80GB HBM3 MIG 1g.10gb"
    assert gi1.mem_total_bytes == 10 * GIB
    assert gi1.details["mig"] == {
        "parent": "gpu:0",
        "gpu_instance_id": 1,
        "compute_instance_ids": [0, 1],
    }
    assert gi1.details["uuid"] == "MIG-aaaa"
    assert gi1.details["uuids"] == ["MIG-aaaa", "MIG-cccc"]
    assert "none of its own" in gi1.details["power"]
    availability = sensors.availability()
    assert availability.state is FamilyState.FOUND
    assert "MIG enabled: gpu:0/mig:1, gpu:0/mig:2" in availability.reason


def test_under_mig_utilisation_is_unknown_never_zero() -> None:
    gpu = mig_gpu(gpm_supported=True)
    gpu.mig_devices[0].sm_util_pct = 60.0
    sensors, _ = started(gpu, t0=0.0)
    gpu.run(1.0, power_w=400.0)
    parent, gi1, gi2 = sensors.read(1.0)
    assert parent.util is None
    assert "util" in sensors.devices()[0].details["nvml_absent"]
    assert parent.energy_j == pytest.approx(400.0)
    assert parent.status is DeviceStatus.OK
    for instance in (gi1, gi2):
        assert (instance.util, instance.power_w, instance.energy_j) == (None, None, None)
        assert instance.status is DeviceStatus.OK
    assert gi1.mem_used_bytes == 3 * GIB
    assert gi2.mem_used_bytes == 2 * GIB
    assert gi2.sm_active == pytest.approx(0.6)
    assert gi1.sm_active == pytest.approx(0.0)


def test_mig_instances_keep_sm_activity_when_the_whole_gpu_has_none() -> None:
    gpu = mig_gpu(gpm_supported=True, unsupported={"nvmlGpmSampleGet"})
    gpu.mig_devices[3].sm_util_pct = 25.0
    sensors, fake = started(gpu, t0=0.0)
    parent, gi1, _ = sensors.read(1.0)
    assert parent.sm_active is None
    assert gi1.sm_active == pytest.approx(0.25)
    fake.calls.clear()
    parent, gi1, _ = sensors.read(2.0)
    assert "nvmlGpmSampleGet" not in fake.calls  # the whole GPU's GPM is not asked again
    assert gi1.sm_active == pytest.approx(0.25)


def test_mig_supported_but_off_and_pending() -> None:
    off = FakeGpu(mig_enabled=False, mig_pending=True)
    sensors = NvmlSensors(FakeNvml([off, FakeGpu()]))
    assert [d.device_id for d in sensors.devices()] == ["gpu:0", "gpu:1"]
    assert sensors.devices()[0].details["mig"] == {"mode": "disabled (enabled after a GPU reset)"}
    assert "mig" not in sensors.devices()[1].details


def test_a_lost_mig_gpu_takes_its_instances_with_it() -> None:
    gpu = mig_gpu()
    sensors, _ = started(gpu, t0=0.0)
    gpu.fall_off_bus()
    readings = sensors.read(1.0)
    assert [r.status for r in readings] == [DeviceStatus.LOST] * 3
    assert [r.device_id for r in sensors.read(2.0)] == ["gpu:0", "gpu:0/mig:1", "gpu:0/mig:2"]


def test_mig_memory_is_a_slow_field() -> None:
    gpu = mig_gpu()
    sensors, fake = started(gpu, t0=0.0)
    fake.calls.clear()
    for k in range(1, 11):
        sensors.read(k * 0.1)
    # Parent memory and two instances' memory, once each in the first second.
    assert fake.calls.count("nvmlDeviceGetMemoryInfo") == 3


def test_probe_orders_mig_instances_after_their_gpu(tmp_path: Path) -> None:
    gpu = FakeGpu(
        mig_enabled=True,
        mig_devices={
            0: FakeMigDevice(gpu_instance_id=10, uuid="MIG-j"),
            1: FakeMigDevice(gpu_instance_id=2, uuid="MIG-b"),
        },
    )
    sensors = probe_sensors(sysfs_root=tmp_path, nvml_module=FakeNvml([gpu, FakeGpu()]))
    gpus = [d.device_id for d in sensors.devices if d.kind == "gpu"]
    assert gpus == ["gpu:0", "gpu:0/mig:2", "gpu:0/mig:10", "gpu:1"]
    assert sensors.family_devices["nvml"] == ["gpu:0", "gpu:0/mig:2", "gpu:0/mig:10", "gpu:1"]
    sensors.close()
