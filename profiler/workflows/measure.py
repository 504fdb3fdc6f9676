"""Measure the energy of any block of Python code: `with profiler.measure("label") as m:`.

Like codecarbon's tracker or Zeus's measurement windows, but every figure keeps its
provenance: after the block, `m.devices` lists energy (J) and mean power (W) per device,
each saying whether it was measured (RAPL, NVML) or estimated (a named power model), and
the window is stored as a `monitor` run (`m.run_id`) like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from profiler.analysis.summary import DeviceSummary
from profiler.settings.config import load_settings
from profiler.workflows.monitor import monitor_outcome, monitor_recording


@dataclass
class Measurement:
    """The result of a `measure()` window; `devices` is filled when the block ends."""

    label: str | None
    run_id: str
    devices: list[DeviceSummary] = field(default_factory=list)

    @property
    def energy_j(self) -> float | None:
        """Energy of every device with a power figure, in joules (None if none has one).

        Devices are package- and GPU-level (`cpu:N`, `dram:N`, `gpu:N`); `host` has no
        power of its own, so nothing is counted twice.
        """
        figures = [d.energy_j for d in self.devices if d.energy_j is not None]
        return sum(figures) if figures else None

    def device(self, device_id: str) -> DeviceSummary:
        """Return one device's summary, e.g. `m.device("cpu:0").energy_j`."""
        for summary in self.devices:
            if summary.device == device_id:
                return summary
        raise KeyError(f"no device {device_id!r} in this measurement")


@contextmanager
def measure(
    label: str | None = None, *, db: Path | None = None, interval_s: float = 0.1
) -> Iterator[Measurement]:
    """Sample every sensor while the block runs and store the window as a run.

    Args:
        label: stored with the run.
        db: database path (default: the configured one).
        interval_s: sampling interval in seconds (0.05 to 60).

    Yields:
        A `Measurement` whose `devices` are filled in when the block exits.

    """
    settings = load_settings(db)
    recording = monitor_recording(
        settings, interval_s=interval_s, label=label, config={"source": "profiler.measure"}
    )
    measurement = Measurement(label, recording.run_id)
    with recording:
        yield measurement
    measurement.devices = monitor_outcome(settings.db_path, recording.run_id).devices
