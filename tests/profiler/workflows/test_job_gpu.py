"""`finwatt exec`'s GPU share through the fake NVML module (per-process figures)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import pytest

from profiler.model.provenance import is_estimate
from profiler.sensors.probe import probe_sensors
from profiler.settings.config import load_settings
from profiler.store.database import Store
from profiler.workflows.job import JobSpec, run_job
from tests.fakes.fake_pynvml import FakeGpu, FakeNvml

OTHER_PID = 4_000_000  # no such process: another user's job on the same GPU


def _drive(gpu: FakeGpu, stop: threading.Event) -> None:
    """Find the job (a `sleep` child of this process), report it busy, draw power."""
    while not stop.is_set():
        jobs = [p for p in psutil.Process().children() if p.name() == "sleep"]
        if jobs:
            gpu.process_sm_pct = {jobs[0].pid: 60.0, OTHER_PID: 20.0}
            gpu.process_mem_bytes = {jobs[0].pid: 3 * 2**30, OTHER_PID: 2**30}
        gpu.run(0.05, 300.0 if jobs else 100.0)
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("unsupported", "basis"),
    [(set(), "gpu-util"), ({"nvmlDeviceGetProcessUtilization"}, "gpu-memory")],
)
def test_exec_shares_gpu_energy_by_the_jobs_processes(
    tmp_path: Path, unsupported: set[str], basis: str
) -> None:
    gpu = FakeGpu(unsupported=unsupported)
    sensors = probe_sensors(sysfs_root=tmp_path, nvml_module=FakeNvml([gpu]))
    stop = threading.Event()
    driver = threading.Thread(target=_drive, args=(gpu, stop), daemon=True)
    driver.start()
    try:
        outcome = run_job(
            load_settings(tmp_path / "f.db"),
            JobSpec(["sleep", "1.5"], interval_s=0.1),
            sensors=sensors,
        )
    finally:
        stop.set()
        driver.join()
    job = outcome.job
    assert job.provenance is not None
    assert f"attributed:{basis}(measured:nvml-energy)" in job.provenance.split(",")
    assert is_estimate(job.provenance)  # the CPU part is a power model's on this machine
    shares = job.details["devices"]["gpu:0"]
    assert shares["basis"] == basis
    assert 0 < shares["dynamic_j"] <= 0.75 * shares["energy_j"] + 1e-9
    if basis == "gpu-util":
        assert job.gpu_s == pytest.approx(0.6 * 1.5, rel=0.35)
    else:
        assert job.gpu_s is None
    with Store(tmp_path / "f.db") as store:
        assert store.jobs.get(job.run_id) == job
