"""The node's wall power from its BMC: Redfish, else IPMI, polled off the sampler.

`poller` is the interface (`BmcSource`, what a back end answers: `Discovery`,
`PowerSample`) and the family (`BmcFamily`, polled at the BMC's cadence); `redfish` and
`ipmi` are the back ends; `config` is what reaching a BMC takes (`BmcConfig`, the
passwords' sources). `get_bmc` is the factory `probe.probe_sensors` calls.
"""

from __future__ import annotations

from dataclasses import replace

from profiler.sensors.base import Availability
from profiler.sensors.bmc.config import BmcConfig
from profiler.sensors.bmc.ipmi import IpmiSource
from profiler.sensors.bmc.poller import BmcFamily
from profiler.sensors.bmc.redfish import RedfishSource


def get_bmc(config: BmcConfig) -> tuple[BmcFamily | None, list[Availability]]:
    """Return the `node` family from Redfish when configured and answering, else from IPMI.

    Both are probed so `finwatt doctor` lists both; the one not used says so, and is
    closed. None when neither answers.

    Args:
        config: the `[bmc]` settings.

    """
    chosen: BmcFamily | None = None
    states: list[Availability] = []
    for source in (RedfishSource(config), IpmiSource(config)):
        family = BmcFamily(
            source, poll_interval_s=config.poll_interval_s, timeout_s=config.timeout_s
        )
        state = family.availability()
        devices = family.devices()
        if devices and chosen is None:
            chosen = family
            states.append(state)
            continue
        if devices and chosen is not None:
            state = replace(state, reason=f"{state.reason}; not used: {chosen.name} is read")
        states.append(state)
        family.close()
    return chosen, states
