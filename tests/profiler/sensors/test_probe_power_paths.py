"""`probe_sensors` picks the power paths of docs/decisions.md#bmc-and-perf: perf RAPL where
powercap gives nothing, the BMC's `node` device from Redfish before IPMI, and lists every
family for `doctor`."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.sensors.base import FamilyState
from profiler.sensors.bmc.config import BmcConfig, Credentials
from profiler.sensors.probe import probe_sensors
from tests.fakes.perf_pmu import FakePerf, power_pmu, proc_tree
from tests.fakes.powercap import FakePowercap
from tests.profiler.sensors.bmc.redfish_harness import PASSWORD, USER, make_pki, redfish_service


def states(sensors: object) -> dict[str, FamilyState]:
    return {a.family: a.state for a in sensors.availability}  # type: ignore[attr-defined]


def test_perf_rapl_measures_the_package_when_powercap_is_absent(tmp_path: Path) -> None:
    power_pmu(tmp_path / "sys", cpumask="0", packages={0: 0})
    sensors = probe_sensors(
        sysfs_root=tmp_path / "sys",
        proc_root=proc_tree(tmp_path / "proc", paranoid=0),
        perf_events=FakePerf(),
        want_gpu=False,
    )
    try:
        provenance = {d.device_id: d.provenance for d in sensors.devices}
        assert provenance["cpu:0"] == "measured:rapl-perf"
        assert provenance["dram:0"] == "measured:rapl-perf"
        assert states(sensors)["rapl"] is FamilyState.NOT_FOUND
        assert states(sensors)["rapl-perf"] is FamilyState.FOUND
        assert "model" not in sensors.family_devices  # no estimate where perf measures
    finally:
        sensors.close()


def test_powercap_wins_and_perf_says_it_is_not_used(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path / "sys")
    tree.add_zone("intel-rapl:0", "package-0", 1_000_000, max_power_uw=200_000_000)
    power_pmu(tmp_path / "sys", cpumask="0", packages={0: 0})
    perf = FakePerf()
    sensors = probe_sensors(
        sysfs_root=tmp_path / "sys",
        proc_root=proc_tree(tmp_path / "proc", paranoid=0),
        perf_events=perf,
        want_gpu=False,
    )
    try:
        assert {d.device_id: d.provenance for d in sensors.devices}["cpu:0"] == "measured:rapl"
        perf_state = next(a for a in sensors.availability if a.family == "rapl-perf")
        assert perf_state.reason.endswith("not used: powercap RAPL is read")
        assert perf.closed == set(perf.counts)
    finally:
        sensors.close()


def test_without_bmc_settings_no_bmc_is_probed(tmp_path: Path) -> None:
    sensors = probe_sensors(sysfs_root=tmp_path, want_gpu=False)
    try:
        assert {"ipmi", "redfish"}.isdisjoint(states(sensors))
        assert "rapl-perf" in states(sensors)
    finally:
        sensors.close()


def test_redfish_gives_the_node_and_ipmi_is_listed_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINWATT_TEST_REDFISH_PASSWORD", PASSWORD)
    with redfish_service(tmp_path, make_pki(tmp_path)) as service:
        bmc = BmcConfig(
            redfish_url=service.url,
            redfish_credentials=Credentials(USER, None, "FINWATT_TEST_REDFISH_PASSWORD"),
            redfish_ca_bundle=service.ca,
            dev_root=tmp_path / "dev",
            poll_interval_s=0.2,
        )
        sensors = probe_sensors(sysfs_root=tmp_path / "sys", want_gpu=False, bmc=bmc)
        sensors.close()
    node = next(d for d in sensors.devices if d.device_id == "node")
    assert node.provenance == "measured:redfish"
    assert sensors.family_devices["redfish"] == ["node"]
    assert [d.device_id for d in sensors.devices][:2] == ["host", "node"]
    ipmi = next(a for a in sensors.availability if a.family == "ipmi")
    assert ipmi.state is not FamilyState.FOUND and ipmi.fix
