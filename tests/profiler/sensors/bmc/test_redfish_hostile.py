"""Hostile Redfish answers from real servers on 127.0.0.1: each is a reason, never a traceback.

The DMTF mockup (HTTPS, `redfish_harness`) is edited into wrong shapes (`Links` a list,
`Status` a string, ...) and impossible readings (Infinity, 1e308 W, -5000 W); a raw HTTP
server of this file (plain http:// is allowed to the loopback address) sends what no JSON
library writes: nesting 100,000 deep, a 64 MiB answer, an answer trickled a byte every
0.5 s.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from profiler.model.device import DeviceStatus
from profiler.sensors.base import FamilyState
from profiler.sensors.bmc.config import BmcConfig
from profiler.sensors.bmc.poller import BmcFamily, Discovery
from profiler.sensors.bmc.redfish import RedfishSource
from tests.profiler.sensors.bmc.redfish_harness import (
    BAY1_METRICS,
    CHASSIS,
    LEGACY_POWER,
    MockupService,
    config_for,
    loopback_listener,
)

BAY1 = "Chassis/1U/PowerSubsystem/PowerSupplies/Bay1/index.json"


def discover_within(source: RedfishSource, seconds: float = 15.0) -> Discovery | BaseException:
    """Run `discover` in a thread: its Discovery, its exception, or a failure when late."""
    outcome: list[Discovery | BaseException] = []

    def work() -> None:
        try:
            outcome.append(source.discover())
        except BaseException as err:  # noqa: BLE001 - the test inspects it
            outcome.append(err)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"discover() still running after {seconds} s"
    source.close()
    return outcome[0]


@contextmanager
def polling_at_200_w(service: MockupService) -> Iterator[BmcFamily]:
    """A family polling `service` every 50 ms from a 200 W start, closed on the way out."""
    service.set_supply_input_w(200)
    family = BmcFamily(RedfishSource(config_for(service)), poll_interval_s=0.05, timeout_s=2)
    assert family.devices()
    family.start(time.monotonic())
    try:
        yield family
    finally:
        family.close()


def set_key(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda document: document.__setitem__(key, value)


@pytest.mark.parametrize(
    ("relative", "change"),
    [
        (CHASSIS, set_key("Links", [{"ManagedBy": []}])),  # Links as a list
        (CHASSIS, set_key("Links", {"ManagedBy": {"@odata.id": "/redfish/v1/Managers/BMC"}})),
        (BAY1, set_key("Status", "OK")),  # Status as a string
    ],
    ids=["links-list", "managed-by-object", "status-string"],
)
def test_an_odd_shape_is_read_around_not_a_traceback(
    service: MockupService, relative: str, change: Callable[[dict[str, Any]], None]
) -> None:
    service.edit(relative, change)
    found = discover_within(RedfishSource(config_for(service)))
    assert isinstance(found, Discovery), found
    assert found.availability.state is FamilyState.FOUND, found.availability
    assert found.first is not None and found.first.power_w > 0


def test_input_power_as_a_number_is_not_readable_with_the_reason(
    service: MockupService,
) -> None:
    service.edit(CHASSIS, lambda chassis: chassis.pop("Power"))  # no legacy fallback
    service.edit(BAY1_METRICS, set_key("InputPowerWatts", 250))  # a number, not an object
    found = discover_within(RedfishSource(config_for(service)))
    assert isinstance(found, Discovery), found
    assert found.availability.state is FamilyState.NOT_READABLE
    assert "has no power reading" in found.availability.reason


def test_power_control_as_an_object_is_not_readable(service: MockupService) -> None:
    service.edit(CHASSIS, lambda chassis: chassis.pop("PowerSubsystem"))
    service.edit(LEGACY_POWER, set_key("PowerControl", {"PowerConsumedWatts": 344}))
    found = discover_within(RedfishSource(config_for(service)))
    assert isinstance(found, Discovery), found
    assert found.availability.state is FamilyState.NOT_READABLE
    assert "has no power reading" in found.availability.reason


def test_a_bad_answer_while_polling_degrades_the_node_and_polling_goes_on(
    service: MockupService,
) -> None:
    with polling_at_200_w(service) as family:
        service.edit(BAY1_METRICS, set_key("InputPowerWatts", "broken"))
        time.sleep(1.0)
        service.edit(BAY1_METRICS, set_key("InputPowerWatts", {"Reading": 300}))
        deadline = time.monotonic() + 5
        while family.read(time.monotonic())[0].power_w != 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert family.read(time.monotonic())[0].power_w == 300  # the poller thread lived on


@pytest.mark.parametrize("watts", [math.inf, 1e308, -5000.0])
def test_an_impossible_reading_is_dropped_counted_and_degrades_the_node(
    service: MockupService, watts: float
) -> None:
    with polling_at_200_w(service) as family:
        time.sleep(0.3)
        before = family.read(time.monotonic())[0]
        service.set_supply_input_w(watts)
        time.sleep(0.5)
        during = family.read(time.monotonic())[0]
        service.set_supply_input_w(200)
        time.sleep(0.5)
        after = family.read(time.monotonic())[0]
        poller = family._poller
        assert poller is not None and poller.out_of_bounds >= 1
    assert before.status is DeviceStatus.OK and before.energy_j is not None
    assert during.status is DeviceStatus.DEGRADED
    assert (during.power_w, during.energy_j) == (None, None)
    assert after.status is DeviceStatus.OK and after.power_w == 200
    assert after.energy_j is not None and math.isfinite(after.energy_j)
    assert 0 <= after.energy_j - before.energy_j <= 200 * 1.5  # no energy invented


@contextmanager
def raw_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers every connection with `answer`."""

    def talk(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            try:
                conn.recv(65536)
                answer(conn, stop)
            except OSError:
                pass  # the client hung up: what finwatt should do with a bad answer

    def talk_in_a_thread(conn: socket.socket, stop: threading.Event) -> None:
        threading.Thread(target=talk, args=(conn, stop), daemon=True).start()

    with loopback_listener(talk_in_a_thread) as port:
        yield f"http://127.0.0.1:{port}"


def send(body: bytes) -> Callable[[socket.socket, threading.Event], None]:
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        conn.sendall(head.encode() + b"\r\n\r\n" + body)

    return answer


def raw_config(url: str) -> BmcConfig:
    return BmcConfig(redfish_url=url, poll_interval_s=0.1, timeout_s=2.0)


def test_json_nested_100000_deep_is_not_readable_not_a_recursion_error() -> None:
    with raw_server(send(b"[" * 100_000 + b"]" * 100_000)) as url:
        found = discover_within(RedfishSource(raw_config(url)))
    assert isinstance(found, Discovery), found
    assert found.availability.state is FamilyState.NOT_READABLE
    assert "nested deeper than 32" in found.availability.reason


def test_json_nested_past_the_bound_but_parseable_is_refused_too() -> None:
    deep = b'{"a":' * 40 + b"1" + b"}" * 40
    with raw_server(send(deep)) as url:
        found = discover_within(RedfishSource(raw_config(url)))
    assert isinstance(found, Discovery), found
    assert "nested deeper than 32" in found.availability.reason


def test_a_64_mib_answer_is_refused_at_the_size_cap() -> None:
    def huge(conn: socket.socket, stop: threading.Event) -> None:
        size = 64 * 2**20
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b" " * 2**20
        for _ in range(64):
            conn.sendall(chunk)

    with raw_server(huge) as url:
        found = discover_within(RedfishSource(raw_config(url)))
    assert isinstance(found, Discovery), found
    assert found.availability.state is FamilyState.NOT_READABLE
    assert "larger than 4 MiB" in found.availability.reason


def test_a_bmc_trickling_a_byte_every_half_second_stops_at_the_deadline() -> None:
    body = b'{"Chassis": {"@odata.id": "/redfish/v1/Chassis"}}'
    whole = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        for byte in whole:
            if stop.wait(0.5):
                return
            conn.sendall(bytes([byte]))

    with raw_server(trickle) as url:
        started = time.monotonic()
        found = discover_within(RedfishSource(raw_config(url)), seconds=10)
        took = time.monotonic() - started
    assert isinstance(found, Discovery), found
    assert found.availability.state is FamilyState.NOT_READABLE
    assert "no whole answer within 2 s" in found.availability.reason
    assert took < 3.0
