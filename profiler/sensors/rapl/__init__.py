"""CPU package and DRAM energy from RAPL: powercap sysfs, else the perf power PMU.

Back ends: `powercap` (`RaplSensors`, the `energy_uj` counters, with the zone records and
counter arithmetic of `zones`) and `perf` (`RaplPerfSensors`, the same counters through
`perf_event_open`, no root needed). `get_rapl` is the factory `probe.probe_sensors` calls.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.rapl.perf import PerfEvents, RaplPerfSensors
from profiler.sensors.rapl.powercap import RaplSensors


def get_rapl(
    sysfs_root: Path, proc_root: Path, perf_events: PerfEvents | None = None
) -> tuple[RaplSensors | RaplPerfSensors | None, list[Availability]]:
    """Return the RAPL family to read (None when neither back end measures) and both probes.

    Powercap is read where it gives devices; perf only where powercap is absent or
    unreadable. Both are probed, so `finwatt doctor` lists both; the one not used says so.

    Args:
        sysfs_root: root of sysfs (powercap zones, the perf PMU, the CPU topology).
        proc_root: root of procfs (`perf_event_paranoid`, capabilities) for perf.
        perf_events: the perf_event_open seam (tests); the real syscall when None.

    """
    powercap = RaplSensors(sysfs_root)
    states = [powercap.availability()]
    found = powercap.availability().state is FamilyState.FOUND
    powercap_read = found and bool(powercap.devices())
    perf = RaplPerfSensors(sysfs_root, proc_root, perf_events)
    state = perf.availability()
    if powercap_read or state.state is not FamilyState.FOUND:
        if state.state is FamilyState.FOUND:
            state = replace(state, reason=f"{state.reason}; not used: powercap RAPL is read")
        states.append(state)
        perf.close()
        return (powercap if powercap_read else None), states
    states.append(state)
    return perf, states
