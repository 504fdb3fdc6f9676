"""The monitor and serve workflows in-process, on the real sensors of this machine."""

import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from profiler.settings.config import Settings
from profiler.workflows.monitor import monitor, monitor_recording
from profiler.workflows.serve import ServeError, serving
from profiler.workflows.signals import StopRequest


def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "f.db", sysfs_root=tmp_path, cpu_tdp_w=None, cpu_idle_ratio=None
    )


def test_a_monitor_window_is_stored_and_summarised(tmp_path: Path) -> None:
    recording = monitor_recording(
        settings(tmp_path), interval_s=0.05, label="w", config={"command": "monitor"}
    )
    told: list[str] = []
    outcome = monitor(recording, StopRequest(), 0.3, on_start=told.append)
    assert told == [recording.run_id] == [outcome.run.id]
    assert (outcome.run.kind, outcome.run.label, outcome.run.status) == ("monitor", "w", "complete")
    cpu = next(d for d in outcome.devices if d.device == "cpu:0")
    assert cpu.samples >= 3 and cpu.energy_j is not None and cpu.energy_j > 0
    assert outcome.seconds == pytest.approx(0.3, abs=0.2)


def test_a_signalled_stop_ends_the_window_interrupted(tmp_path: Path) -> None:
    recording = monitor_recording(
        settings(tmp_path), interval_s=0.05, config={"command": "monitor"}
    )
    stop = StopRequest()
    threading.Timer(0.2, lambda: (setattr(stop, "signum", 15), stop.event.set())).start()
    outcome = monitor(recording, stop, None)
    assert outcome.run.status == "interrupted"
    assert outcome.devices and outcome.seconds > 0


def test_serving_samples_and_serves_until_the_block_ends(tmp_path: Path) -> None:
    with serving(settings(tmp_path), "127.0.0.1", 0, 0.05) as exporter:
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        for _ in range(100):
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read().decode()
            if 'finwatt_utilization_ratio{device="host"' in body:
                break
            threading.Event().wait(0.05)
        assert "finwatt_build_info" in body and 'device="host"' in body
    with pytest.raises(OSError), urllib.request.urlopen(url, timeout=2):
        pass


def test_a_taken_port_is_a_runtime_error_naming_the_address(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(ServeError) as caught,
            serving(settings(tmp_path), "127.0.0.1", port, 1.0),
        ):
            pass
    assert caught.value.exit_code == 1 and f"127.0.0.1:{port}" in str(caught.value)
