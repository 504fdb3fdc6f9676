"""IPMI wall power against OpenIPMI's real `ipmi_sim` over lanplus on 127.0.0.1.

The simulator has no DCMI, so these drive the SDR path end to end (ipmitool, RMCP+,
the sensor's conversion); DCMI's output is parsed from the text ipmitool prints on a
real BMC. In-band permission cases use a fake /dev root (the tests run as root).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from profiler.sensors.base import FamilyState
from profiler.sensors.bmc.config import BmcConfig, Credentials
from profiler.sensors.bmc.ipmi import (
    DEVICE_PERMISSION_FIX,
    IpmiSource,
    Runner,
    choose_sensors,
    parse_dcmi,
    run_ipmitool,
    watt_sensors,
)
from profiler.sensors.bmc.poller import BmcFamily
from tests.profiler.sensors.bmc.ipmi_sim_harness import CIPHER_SUITE, PASSWORD, USER, ipmi_sim

# `ipmitool dcmi power reading` on a BMC with DCMI (format of ipmitool 1.8.19, ipmi_dcmi.c).
DCMI_TEXT = """
    Instantaneous power reading:                   224 Watts
    Minimum during sampling period:                 56 Watts
    Maximum during sampling period:                504 Watts
    Average power reading over sample period:      219 Watts
    IPMI timestamp:                           Thu Feb 15 08:36:01 2024
    Sampling period:                          00000005 Seconds.
    Power reading state is:                   activated
"""


def recording(runner: Runner, calls: list[list[str]]) -> Runner:
    """`runner`, appending the argv of each call to `calls` first."""

    def recorded(
        argv: list[str], env: dict[str, str], timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return runner(argv, env, timeout_s)

    return recorded


def lanplus_config(port: int, **overrides: object) -> BmcConfig:
    values: dict[str, object] = {
        "ipmi_host": "127.0.0.1",
        "ipmi_port": port,
        "ipmi_credentials": Credentials(USER, None, "FINWATT_TEST_BMC_PASSWORD"),
        "ipmi_cipher_suite": CIPHER_SUITE,
        "poll_interval_s": 0.1,
        "timeout_s": 2.0,
    }
    values.update(overrides)
    return BmcConfig(**values)  # type: ignore[arg-type]


def window_power_w(family: BmcFamily, seconds: float) -> tuple[float, float, float]:
    """Return (t_start, t_end, energy in J) over a window of `seconds`."""
    t_a = time.monotonic()
    e_a = family.read(t_a)[0].energy_j
    time.sleep(seconds)
    t_b = time.monotonic()
    e_b = family.read(t_b)[0].energy_j
    assert e_a is not None and e_b is not None
    return t_a, t_b, e_b - e_a


def test_ipmi_sim_power_step_gives_energy_within_2_percent(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    recording_runner = recording(run_ipmitool, seen)
    with ipmi_sim(tmp_path, 200) as bmc:
        config = lanplus_config(bmc.port, ipmi_credentials=Credentials(USER, bmc.password_file))
        # Polled every 50 ms: a step's error in a window is at most (period + one ipmitool
        # call) x the step, well under 2 % of the 4 s window after the step.
        family = BmcFamily(IpmiSource(config, recording_runner), poll_interval_s=0.05, timeout_s=2)
        assert family.availability().state is FamilyState.FOUND, family.availability()
        [node] = family.devices()
        assert (node.device_id, node.kind, node.provenance) == ("node", "node", "measured:ipmi-sdr")
        assert node.details["sensors"] == ["Sys Power"]
        assert node.details["averaging_window_s"] is None
        assert node.details["bmc_firmware"] == "9.08"  # `mc info` of ipmi_sim's BMC
        family.start(time.monotonic())
        try:
            time.sleep(0.3)
            t_a, t_b, flat_j = window_power_w(family, 2.0)
            assert flat_j == pytest.approx(200 * (t_b - t_a), rel=0.02)
            t_step = time.monotonic()
            bmc.set_power_w(300)
            time.sleep(4.0)
            t_c = time.monotonic()
            e_b = family.read(t_b)[0].energy_j
            e_c = family.read(t_c)[0].energy_j
            assert e_b is not None and e_c is not None
            expected_j = 200 * (t_step - t_b) + 300 * (t_c - t_step)
            assert e_c - e_b == pytest.approx(expected_j, rel=0.02)
            assert family.read(time.monotonic())[0].power_w == 300
        finally:
            family.close()
    assert seen and all(PASSWORD not in " ".join(argv) for argv in seen)
    assert all("-f" in argv for argv in seen)
    polls = [argv for argv in seen if argv[-3:] == ["sensor", "reading", "Sys Power"]]
    assert len(polls) >= 5
    # Polls read a local copy of the SDR (`-S`), removed when the family closes.
    caches = {Path(argv[argv.index("-S") + 1]) for argv in polls}
    assert len(caches) == 1 and not next(iter(caches)).exists()


def test_ipmi_password_from_environment_uses_dash_e(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINWATT_TEST_BMC_PASSWORD", PASSWORD)
    seen: list[tuple[list[str], dict[str, str]]] = []

    def recording_runner(
        argv: list[str], env: dict[str, str], timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        seen.append((argv, env))
        return run_ipmitool(argv, env, timeout_s)

    with ipmi_sim(tmp_path, 250) as bmc:
        source = IpmiSource(lanplus_config(bmc.port), recording_runner)
        found = source.discover()
    assert found.availability.state is FamilyState.FOUND
    assert found.first is not None and found.first.power_w == 250
    assert all("-E" in argv and PASSWORD not in argv for argv, _ in seen)
    assert all(env == {"IPMI_PASSWORD": PASSWORD} for _, env in seen)


def test_ipmi_wrong_password_is_not_readable_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINWATT_TEST_BMC_PASSWORD", "wrong")
    with ipmi_sim(tmp_path, 200) as bmc:
        state = IpmiSource(lanplus_config(bmc.port)).discover().availability
    assert state.state is FamilyState.NOT_READABLE
    assert "127.0.0.1" in state.reason and "RMCP+" in state.reason
    assert state.fix is not None and "password" in state.fix


def test_a_hung_bmc_never_stalls_the_read_and_goes_degraded_then_recovers(
    tmp_path: Path,
) -> None:
    with ipmi_sim(tmp_path, 200) as bmc:
        config = lanplus_config(
            bmc.port, ipmi_credentials=Credentials(USER, bmc.password_file), timeout_s=1.0
        )
        family = BmcFamily(IpmiSource(config), poll_interval_s=0.1, timeout_s=1.0)
        family.start(time.monotonic())
        try:
            os.kill(bmc.pid, signal.SIGSTOP)
            slowest_s = 0.0
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                before = time.monotonic()
                reading = family.read(before)[0]
                slowest_s = max(slowest_s, time.monotonic() - before)
                time.sleep(0.05)
            assert slowest_s < 0.25  # a read that waited on the BMC would take its 1 s deadline
            assert reading.status == "degraded" and reading.power_w is None
            assert reading.energy_j is None
            os.kill(bmc.pid, signal.SIGCONT)
            deadline = time.monotonic() + 5
            while family.read(time.monotonic())[0].power_w is None:
                assert time.monotonic() < deadline, "the node did not recover"
                time.sleep(0.05)
        finally:
            os.kill(bmc.pid, signal.SIGCONT)
            family.close()


def test_parse_dcmi_uses_the_average_over_the_sampling_period() -> None:
    reading = parse_dcmi(DCMI_TEXT)
    assert reading is not None
    assert (reading.instantaneous_w, reading.average_w) == (224, 219)
    assert reading.sampling_period_s == 5 and reading.active
    sample = reading.sample()
    assert (sample.power_w, sample.averaging_window_s) == (219, 5)


def test_parse_dcmi_without_a_period_falls_back_to_the_instantaneous_figure() -> None:
    text = DCMI_TEXT.replace("00000005 Seconds.", "00000000 Seconds.").replace(
        "activated", "deactivated"
    )
    reading = parse_dcmi(text)
    assert reading is not None and not reading.active
    assert (reading.sample().power_w, reading.sample().averaging_window_s) == (224, None)
    assert parse_dcmi("DCMI request failed because: Invalid command (c1)") is None


def test_watt_sensors_keep_only_watts_and_choose_the_total() -> None:
    csv = (
        "PS1 Input Power,120,Watts,ok\nPS2 Input Power,118,Watts,ok\n"
        "Pwr Consumption,238,Watts,ok\nInlet Temp,24,degrees C,ok\nPS3 Power,na,Watts,ns\n"
    )
    sensors = watt_sensors(csv)
    assert sensors == {
        "PS1 Input Power": 120,
        "PS2 Input Power": 118,
        "Pwr Consumption": 238,
        "PS3 Power": None,
    }
    assert choose_sensors(sensors, ()) == (("Pwr Consumption",), None)
    assert choose_sensors(sensors, ("PS1 Input Power", "PS2 Input Power"))[0] == (
        "PS1 Input Power",
        "PS2 Input Power",
    )
    names, problem = choose_sensors(sensors, ("PSU9",))
    assert names == () and problem is not None and "PSU9" in problem


def test_in_band_device_absent_is_not_found_with_the_fix(tmp_path: Path) -> None:
    config = BmcConfig(dev_root=tmp_path)
    state = IpmiSource(config, which=lambda _: "/usr/bin/ipmitool").discover().availability
    assert state.state is FamilyState.NOT_FOUND
    assert str(tmp_path / "ipmi0") in state.reason
    assert state.fix is not None and "modprobe ipmi_devintf ipmi_si" in state.fix


def test_in_band_device_unreadable_names_the_udev_rule(tmp_path: Path) -> None:
    (tmp_path / "ipmi0").touch()
    source = IpmiSource(
        BmcConfig(dev_root=tmp_path),
        which=lambda _: "/usr/bin/ipmitool",
        access=lambda _path, _mode: False,
    )
    state = source.discover().availability
    assert state.state is FamilyState.NOT_READABLE
    assert state.reason == f"not readable: {tmp_path / 'ipmi0'}"
    assert state.fix == DEVICE_PERMISSION_FIX and 'GROUP="finwatt"' in state.fix


def test_missing_ipmitool_is_not_found_with_the_install_line(tmp_path: Path) -> None:
    state = IpmiSource(BmcConfig(dev_root=tmp_path), which=lambda _: None).discover()
    assert state.availability.state is FamilyState.NOT_FOUND
    assert state.availability.fix is not None and "apt install ipmitool" in state.availability.fix


def test_a_dcmi_bmc_is_polled_at_its_sampling_period_and_records_it(tmp_path: Path) -> None:
    # ipmi_sim has no DCMI: ipmitool's answer on a DCMI BMC stands in for the process.
    calls: list[list[str]] = []
    dcmi_runner = recording(
        lambda argv, _env, _s: subprocess.CompletedProcess(argv, 0, DCMI_TEXT, ""), calls
    )
    (tmp_path / "ipmi0").touch()
    config = BmcConfig(dev_root=tmp_path, poll_interval_s=1.0)
    source = IpmiSource(config, dcmi_runner, which=lambda _: "/usr/bin/ipmitool")
    family = BmcFamily(source, poll_interval_s=1.0, timeout_s=5)
    [node] = family.devices()
    assert node.provenance == "measured:ipmi-dcmi"
    assert node.details["averaging_window_s"] == 5 and node.details["poll_interval_s"] == 5
    assert family.interval_s == 5  # never faster than the BMC's own window
    assert calls[0][:3] == ["ipmitool", "-I", "open"] and calls[0][-3:] == [
        "dcmi",
        "power",
        "reading",
    ]
