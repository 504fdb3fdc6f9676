"""`finwatt doctor` and `finwatt monitor` with a real BMC: OpenIPMI's `ipmi_sim` over lanplus,
configured in `[bmc]`, the password in an environment variable (docs/decisions.md#bmc-and-perf)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.cli import run_finwatt
from tests.profiler.sensors.bmc.ipmi_sim_harness import (
    CIPHER_SUITE,
    PASSWORD,
    USER,
    SimBmc,
    ipmi_sim,
)


def bmc_config(tmp: Path, bmc: SimBmc) -> Path:
    config = tmp / "config.toml"
    config.write_text(
        "[bmc]\n"
        'ipmi_host = "127.0.0.1"\n'
        f"ipmi_port = {bmc.port}\n"
        f'ipmi_user = "{USER}"\n'
        'ipmi_password_env = "FINWATT_TEST_IPMI_PASSWORD"\n'
        f"ipmi_cipher_suite = {CIPHER_SUITE}\n"
        "poll_interval_s = 0.2\n"
        "timeout_s = 2\n"
    )
    return config


def test_doctor_json_lists_rapl_perf_ipmi_and_redfish_with_state_and_fix(tmp_path: Path) -> None:
    with ipmi_sim(tmp_path / "bmc", 240) as bmc:
        env = {
            "FINWATT_CONFIG": str(bmc_config(tmp_path, bmc)),
            "FINWATT_TEST_IPMI_PASSWORD": PASSWORD,
            "FINWATT_SYSFS_ROOT": str(tmp_path / "sys"),
        }
        result = run_finwatt("doctor", "--json", "--db", str(tmp_path / "f.db"), env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    families = {f["family"]: f for f in doc["families"]}
    assert families["ipmi"]["state"] == "found"
    assert f"lanplus 127.0.0.1:{bmc.port}" in families["ipmi"]["reason"]
    assert families["redfish"]["state"] == "not_found"
    assert "[bmc] redfish_url" in families["redfish"]["fix"]
    assert families["rapl-perf"]["state"] == "not_found"
    assert "power PMU" in families["rapl-perf"]["reason"] and families["rapl-perf"]["fix"]
    node = next(d for d in doc["devices"] if d["device"] == "node")
    assert (node["kind"], node["provenance"]) == ("node", "measured:ipmi-sdr")
    assert node["estimated"] is False
    assert "averaging_window_s" in node["details"] and node["details"]["sensors"] == ["Sys Power"]
    assert PASSWORD not in result.stdout


def test_doctor_names_a_missing_password_without_failing(tmp_path: Path) -> None:
    with ipmi_sim(tmp_path / "bmc", 240) as bmc:
        env = {
            "FINWATT_CONFIG": str(bmc_config(tmp_path, bmc)),
            "FINWATT_SYSFS_ROOT": str(tmp_path / "sys"),
        }
        result = run_finwatt("doctor", "--json", "--db", str(tmp_path / "f.db"), env=env)
    assert result.returncode == 0, result.stderr
    ipmi = next(f for f in json.loads(result.stdout)["families"] if f["family"] == "ipmi")
    assert ipmi["state"] == "not_readable"
    assert "$FINWATT_TEST_IPMI_PASSWORD" in ipmi["reason"]


@pytest.mark.slow
def test_monitor_stores_the_node_wall_power_and_energy(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with ipmi_sim(tmp_path / "bmc", 240) as bmc:
        env = {
            "FINWATT_CONFIG": str(bmc_config(tmp_path, bmc)),
            "FINWATT_TEST_IPMI_PASSWORD": PASSWORD,
            "FINWATT_SYSFS_ROOT": str(tmp_path / "sys"),
        }
        result = run_finwatt(
            "monitor", "--duration", "2s", "--interval", "0.5s", "--db", str(db), env=env
        )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        kind, provenance = conn.execute(
            "SELECT kind, provenance FROM device WHERE device_id = 'node'"
        ).fetchone()
        rows = conn.execute(
            "SELECT t, power_w, energy_j FROM sample WHERE device_id = 'node' ORDER BY t"
        ).fetchall()
    assert (kind, provenance) == ("node", "measured:ipmi-sdr")
    assert len(rows) >= 3 and all(power == 240 for _, power, _ in rows)
    (t0, _, e0), (t1, _, e1) = rows[0], rows[-1]
    assert e1 - e0 == pytest.approx(240 * (t1 - t0), rel=1e-9)  # a flat 240 W, held
