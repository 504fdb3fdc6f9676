"""`get_bmc`: Redfish before IPMI, both listed for `doctor`, the one not read closed."""

from __future__ import annotations

import pytest

from profiler.sensors import bmc
from profiler.sensors.base import Availability, FamilyState
from profiler.sensors.bmc.config import BmcConfig
from profiler.sensors.bmc.poller import Discovery, PowerSample

ANSWERING: set[str] = set()
CLOSED: list[str] = []


class _Source:
    """A BMC source that answers 100 W when its name is in `ANSWERING`."""

    name = "source"

    def __init__(self, config: BmcConfig) -> None:
        del config

    def discover(self) -> Discovery:
        if self.name not in ANSWERING:
            return Discovery(Availability(self.name, FamilyState.NOT_FOUND, "no BMC"))
        found = Availability(self.name, FamilyState.FOUND, "100 W")
        return Discovery(found, provenance=f"measured:{self.name}", first=PowerSample(100.0))

    def fetch(self) -> PowerSample:
        return PowerSample(100.0)

    def close(self) -> None:
        CLOSED.append(self.name)


class _Redfish(_Source):
    name = "redfish"


class _Ipmi(_Source):
    name = "ipmi"


@pytest.fixture(autouse=True)
def fake_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bmc, "RedfishSource", _Redfish)
    monkeypatch.setattr(bmc, "IpmiSource", _Ipmi)
    ANSWERING.clear()
    CLOSED.clear()


def test_redfish_is_read_and_ipmi_says_it_is_not_used() -> None:
    ANSWERING.update({"redfish", "ipmi"})
    family, states = bmc.get_bmc(BmcConfig())
    assert family is not None and family.name == "redfish"
    assert [d.device_id for d in family.devices()] == ["node"]
    assert [a.family for a in states] == ["redfish", "ipmi"]
    assert states[1].reason == "100 W; not used: redfish is read"
    assert CLOSED == ["ipmi"]


def test_ipmi_is_read_when_redfish_does_not_answer() -> None:
    ANSWERING.add("ipmi")
    family, states = bmc.get_bmc(BmcConfig())
    assert family is not None and family.name == "ipmi"
    assert [a.state for a in states] == [FamilyState.NOT_FOUND, FamilyState.FOUND]
    assert CLOSED == ["redfish"]


def test_no_answer_gives_none_and_closes_both() -> None:
    family, states = bmc.get_bmc(BmcConfig())
    assert family is None
    assert [a.family for a in states] == ["redfish", "ipmi"]
    assert CLOSED == ["redfish", "ipmi"]
