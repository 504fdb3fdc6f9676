"""One stored run as analysis, reports and the live view receive it: `RunData`.

`profiler.workflows.run_data.load_run_data` reads it from the store (the one loader);
`phases_from_data`, `assess_usage`, `reports.data.report_data` and the live view's
profiling panel take its parts. Each device's samples are one `DeviceSeries`
(`profiler.model.series` states the interval convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from profiler.model.device import DeviceRecord
from profiler.model.run import PhaseRecord, RunRecord
from profiler.model.series import DeviceSeries


@dataclass(frozen=True)
class RunData:
    """A run, its devices and phases, and each device's samples.

    Attributes:
        run: the run.
        devices: its devices, in store order.
        phases: its phases as stored.
        series: device id -> that device's samples, `t` since run start (a device left
            out when it was not read).
        rolled_up: ids of the devices whose series are minute rollups (their raw
            samples were pruned, or the run was read by the minute).
    """

    run: RunRecord
    devices: tuple[DeviceRecord, ...]
    phases: tuple[PhaseRecord, ...]
    series: Mapping[str, DeviceSeries]
    rolled_up: frozenset[str] = field(default_factory=frozenset)
