"""Redfish wall power against a real HTTPS service on 127.0.0.1 serving DMTF's mockup.

sushy-tools' emulator serves no chassis power (its templates have Thermal, no Power), so
the service is `redfish_harness`: DMTF's public-rackmount1 files behind TLS and basic
auth, edited by the test to step the power.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from profiler.sensors.base import FamilyState
from profiler.sensors.bmc.config import BmcConfig, Credentials
from profiler.sensors.bmc.poller import BmcFamily
from profiler.sensors.bmc.redfish import RedfishSource, iso_duration_s
from tests.profiler.sensors.bmc.redfish_harness import (
    CHASSIS,
    ENV,
    PASSWORD,
    USER,
    MockupService,
    config_for,
    loopback_listener,
)


def test_power_subsystem_step_gives_energy_within_2_percent(service: MockupService) -> None:
    service.set_supply_input_w(200)
    family = BmcFamily(RedfishSource(config_for(service)), poll_interval_s=0.05, timeout_s=2)
    assert family.availability().state is FamilyState.FOUND, family.availability()
    [node] = family.devices()
    assert (node.device_id, node.kind, node.provenance) == ("node", "node", "measured:redfish")
    assert node.details["method"].startswith("PowerSubsystem")
    assert node.details["averaging_window_s"] == pytest.approx(0.1)  # PS1InputPower: PT0.1S
    assert node.details["tls_verified"] is True
    assert node.details["bmc_firmware"] == "1.45.455b66-rev4"  # Managers/BMC FirmwareVersion
    family.start(time.monotonic())
    try:
        time.sleep(0.3)
        t_a = time.monotonic()
        e_a = family.read(t_a)[0].energy_j
        time.sleep(1.5)
        t_b = time.monotonic()
        e_b = family.read(t_b)[0].energy_j
        t_step = time.monotonic()
        service.set_supply_input_w(300)
        time.sleep(3.0)
        t_c = time.monotonic()
        reading = family.read(t_c)[0]
    finally:
        family.close()
    assert e_a is not None and e_b is not None and reading.energy_j is not None
    assert e_b - e_a == pytest.approx(200 * (t_b - t_a), rel=0.02)
    expected_j = 200 * (t_step - t_b) + 300 * (t_c - t_step)
    assert reading.energy_j - e_b == pytest.approx(expected_j, rel=0.02)
    assert reading.power_w == 300


def test_legacy_power_control_is_read_when_there_is_no_power_subsystem(
    service: MockupService,
) -> None:
    service.edit(CHASSIS, lambda chassis: chassis.pop("PowerSubsystem"))
    found = RedfishSource(config_for(service)).discover()
    assert found.availability.state is FamilyState.FOUND
    assert found.details["method"] == "Power (PowerControl[0].PowerConsumedWatts)"
    assert found.first is not None
    assert (found.first.power_w, found.first.averaging_window_s) == (344, None)
    service.set_consumed_w(410)
    source = RedfishSource(config_for(service))
    source.discover()
    assert source.fetch().power_w == 410


def test_tls_is_verified_by_default(service: MockupService) -> None:
    state = RedfishSource(config_for(service, redfish_ca_bundle=None)).discover().availability
    assert state.state is FamilyState.NOT_READABLE
    assert "certificate" in state.reason.lower()
    assert state.fix is not None and "redfish_ca_bundle" in state.fix


def test_refused_credentials_are_not_readable_with_the_fix(
    service: MockupService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "wrong")
    state = RedfishSource(config_for(service)).discover().availability
    assert state.state is FamilyState.NOT_READABLE
    assert "HTTP 401" in state.reason
    assert state.fix is not None and "redfish_user" in state.fix


def test_a_password_file_is_read_and_a_missing_one_named(
    service: MockupService, tmp_path: Path
) -> None:
    secret = tmp_path / "redfish.pw"
    secret.write_text(PASSWORD + "\n")
    good = config_for(service, redfish_credentials=Credentials(USER, secret))
    assert RedfishSource(good).discover().availability.state is FamilyState.FOUND
    missing = config_for(service, redfish_credentials=Credentials(USER, tmp_path / "nope"))
    state = RedfishSource(missing).discover().availability
    assert state.state is FamilyState.NOT_READABLE
    assert str(tmp_path / "nope") in state.reason


def test_plain_http_to_another_host_is_refused() -> None:
    state = RedfishSource(BmcConfig(redfish_url="http://bmc.example")).discover().availability
    assert state.state is FamilyState.NOT_READABLE
    assert state.fix is not None and "https://" in state.fix


def test_no_url_is_not_found_with_the_setting_to_add() -> None:
    state = RedfishSource(BmcConfig()).discover().availability
    assert state.state is FamilyState.NOT_FOUND
    assert state.fix is not None and "[bmc] redfish_url" in state.fix


def test_iso_durations() -> None:
    assert iso_duration_s("PT0.1S") == pytest.approx(0.1)
    assert iso_duration_s("PT1M") == 60
    assert iso_duration_s("PT1H2M3S") == 3723
    assert iso_duration_s("P") is None and iso_duration_s("soon") is None
    assert iso_duration_s(None) is None


@contextmanager
def connection_counter() -> Iterator[tuple[int, list[int]]]:
    """A TCP listener on 127.0.0.1 that counts the connections made to it."""
    accepted: list[int] = []

    def count(conn: socket.socket, _stop: threading.Event) -> None:
        accepted.append(1)
        conn.close()

    with loopback_listener(count) as port:
        yield port, accepted


@pytest.mark.parametrize(
    "link",
    [
        "https://127.0.0.1:{port}/redfish/v1/Chassis/1U",  # same host, another port
        "http://127.0.0.1:{port}/redfish/v1/Chassis/1U",  # another scheme and port
        "//127.0.0.1:{port}/redfish/v1/Chassis/1U",  # scheme-relative: another host
        "redfish/v1/Chassis/1U",  # not a path from the root
    ],
)
def test_a_link_off_the_bmc_is_not_followed_and_gets_no_credentials(
    service: MockupService, link: str
) -> None:
    with connection_counter() as (port, accepted):
        target = link.format(port=port)
        service.edit(
            "Chassis/index.json", lambda doc: doc["Members"][0].__setitem__("@odata.id", target)
        )
        state = RedfishSource(config_for(service)).discover().availability
        time.sleep(0.1)  # a connection, had one been made, is accepted by now
    assert state.state is FamilyState.NOT_READABLE
    assert "leads off the BMC" in state.reason and "\n" not in state.reason
    assert accepted == []


def test_an_absolute_link_to_the_bmc_itself_is_followed(service: MockupService) -> None:
    absolute = f"{service.url}/redfish/v1/Chassis/1U"
    service.edit(
        "Chassis/index.json", lambda doc: doc["Members"][0].__setitem__("@odata.id", absolute)
    )
    assert RedfishSource(config_for(service)).discover().availability.state is FamilyState.FOUND
