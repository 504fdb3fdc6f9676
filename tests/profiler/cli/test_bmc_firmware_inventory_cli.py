"""BMC firmware in the audit trail (docs/decisions.md#audit-trail), end to end: two real
`finwatt monitor` runs read wall power from a Redfish service on 127.0.0.1 (DMTF's mockup,
HTTPS), the BMC's firmware is updated between them, and `runs --diff` names the change.

The `[bmc]` password file and CA bundle are named relative to the config file, which is
how a site's `/etc/finwatt/` is laid out (docs/decisions.md#audit-trail)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.fakes.cli import run_finwatt
from tests.profiler.sensors.bmc.redfish_harness import (
    PASSWORD,
    USER,
    MockupService,
    make_pki,
    redfish_service,
)

MANAGER = "Managers/BMC/index.json"


def _config(site: Path, service: MockupService) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    (site / "bmc.pw").write_text(PASSWORD + "\n")
    shutil.copy(service.ca, site / "bmc-ca.pem")
    config = site / "config.toml"
    config.write_text(
        "[bmc]\n"
        'ipmi = "off"\n'
        f'redfish_url = "{service.url}"\n'
        f'redfish_user = "{USER}"\n'
        'redfish_password_file = "bmc.pw"\n'
        'redfish_ca_bundle = "bmc-ca.pem"\n'
        "poll_interval_s = 0.2\n"
        "timeout_s = 3\n"
    )
    return config


def _monitor(tmp: Path, config: Path) -> str:
    env = {"FINWATT_CONFIG": str(config), "FINWATT_SYSFS_ROOT": str(tmp / "sys")}
    result = run_finwatt(
        "monitor", "--duration", "0.6s", "--interval", "0.2s", "--json",
        "--db", str(tmp / "f.db"), env=env, cwd=tmp,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["run"])


def test_runs_diff_names_the_bmc_firmware_update_between_two_real_runs(tmp_path: Path) -> None:
    (tmp_path / "bmc").mkdir()
    with redfish_service(tmp_path / "bmc", make_pki(tmp_path / "bmc")) as service:
        config = _config(tmp_path / "etc" / "finwatt", service)
        first = _monitor(tmp_path, config)
        service.edit(MANAGER, lambda d: d.__setitem__("FirmwareVersion", "1.46.0-rev1"))
        second = _monitor(tmp_path, config)
    db = str(tmp_path / "f.db")
    result = run_finwatt("runs", "--diff", first, second, "--json", "--db", db)
    assert result.returncode == 0, result.stderr
    changed = {c["item"]: (c["before"], c["after"]) for c in json.loads(result.stdout)["changed"]}
    assert changed == {"bmc_firmware": ("1.45.455b66-rev4", "1.46.0-rev1")}
    table = run_finwatt("runs", "--diff", first, second, "--db", db, env={"COLUMNS": "160"})
    assert table.returncode == 0, table.stderr
    assert "bmc_firmware" in table.stdout and "1.46.0-rev1" in table.stdout
