"""The profile workflow in-process: device choice, lock and database checks come first."""

from pathlib import Path

import pytest

from profiler.capture.runner import RunPlan
from profiler.model.device import DeviceInfo
from profiler.model.errors import FinwattInputError
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.probe import SensorSet
from profiler.settings.config import Settings
from profiler.store.database import Store
from profiler.workflows.database import UnusableDatabaseError
from profiler.workflows.profile import (
    DeviceChoiceError,
    LockWait,
    ProfileObserver,
    ProfileRequest,
    profile,
    resolve_devices,
)
from profiler.workflows.runlock import FileLock, LockHeldError, run_lock_path


def sensors(*gpus: str) -> SensorSet:
    devices = [DeviceInfo("cpu:0", "cpu"), *(DeviceInfo(g, "gpu") for g in gpus)]
    nvml = Availability(
        "nvml", FamilyState.NOT_FOUND, "no NVIDIA driver", "install the NVIDIA driver"
    )
    found = Availability("nvml", FamilyState.FOUND, f"{len(gpus)} GPU(s)")
    return SensorSet([], devices, [found if gpus else nvml])


def settings(tmp_path: Path, db: Path | None = None) -> Settings:
    return Settings(
        db_path=db or tmp_path / "f.db",
        sysfs_root=tmp_path,
        cpu_tdp_w=None,
        cpu_idle_ratio=None,
    )


def request(device: str = "cpu") -> ProfileRequest:
    plan = RunPlan(workloads=("ledger",), devices=(), levels=(1.0, 0.0), phase_seconds=1.0)
    return ProfileRequest(plan, device=device)


def test_device_choices_resolve_to_the_runner_devices() -> None:
    two = sensors("gpu:0", "gpu:1")
    assert resolve_devices("cpu", two) == ("cpu",)
    assert resolve_devices("all", two) == ("cpu", "gpu:0", "gpu:1")
    assert resolve_devices("gpu", two) == ("gpu:0", "gpu:1")
    assert resolve_devices("gpu:1", two) == ("gpu:1",)
    assert resolve_devices("all", sensors()) == ("cpu",)


@pytest.mark.parametrize(
    ("choice", "gpus", "message"),
    [
        ("gpu", (), "no GPU available: no NVIDIA driver; install the NVIDIA driver"),
        ("gpu:2", ("gpu:0",), "no gpu:2; GPUs found: gpu:0"),
        ("gpu:0", (), "no gpu:0; GPUs found: none (no NVIDIA driver; install the NVIDIA"),
        ("tpu", (), "'tpu' is not a device: use cpu, gpu, all or gpu:N"),
    ],
)
def test_a_bad_device_choice_is_input_error_saying_what_is_there(
    choice: str, gpus: tuple[str, ...], message: str
) -> None:
    with pytest.raises(DeviceChoiceError) as caught:
        resolve_devices(choice, sensors(*gpus))
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, FinwattInputError) and caught.value.exit_code == 2


class Watching(ProfileObserver):
    def __init__(self) -> None:
        self.events: list[str] = []

    def waiting(self, holder: str) -> None:
        self.events.append(f"waiting for {holder}")

    def locked(self) -> None:
        self.events.append("locked")


def test_a_bad_device_is_refused_before_the_lock_and_writes_nothing(tmp_path: Path) -> None:
    watching = Watching()
    with pytest.raises(DeviceChoiceError, match="no GPU available"):
        profile(settings(tmp_path), request("gpu"), LockWait("test", 0.0), watching)
    assert watching.events == []
    assert not (tmp_path / "f.db").exists() and not run_lock_path(tmp_path / "f.db").exists()


def test_a_held_run_lock_refuses_after_waiting_and_creates_no_run(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    holder = FileLock(run_lock_path(db), "finwatt schedule daemon (nightly)")
    assert holder.try_acquire()
    watching = Watching()
    try:
        with pytest.raises(LockHeldError, match=r"finwatt schedule daemon \(nightly\)"):
            profile(settings(tmp_path), request(), LockWait("test", 0.2, poll_s=0.05), watching)
    finally:
        holder.release()
    (waited,) = watching.events  # told once, never locked
    assert waited.startswith("waiting for finwatt schedule daemon (nightly) (pid")
    with Store(db) as store:
        assert store.runs.all() == []


def test_an_unusable_database_is_input_error_before_the_lock(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UnusableDatabaseError) as caught:
        profile(settings(tmp_path, blocker / "f.db"), request(), LockWait("test", 0.0))
    assert caught.value.exit_code == 2 and "cannot open database" in str(caught.value)
