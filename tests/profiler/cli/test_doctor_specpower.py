"""`finwatt doctor` names the SPECpower group a sensorless host matched and its error."""

from __future__ import annotations

import json
from pathlib import Path

from profiler.sensors.cpu import read_cpu_model
from profiler.sensors.specpower.curve import choose_group
from tests.fakes.cli import run_finwatt


def test_doctor_names_the_group_its_results_and_its_measured_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {"FINWATT_CONFIG": str(config), "FINWATT_SYSFS_ROOT": str(tmp_path / "sys")}
    row = choose_group(read_cpu_model())  # this machine's CPU name, as doctor reads it
    result = run_finwatt("doctor", "--json", "--db", str(tmp_path / "f.db"), env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    (model,) = [f for f in doc["families"] if f["family"] == "model"]
    assert model["reason"].startswith("estimated:specpower-curve: SPECpower group ")
    assert (
        f"{row.group.label} ({row.group.level}, {row.results} published results)"
        in (model["reason"])
    )
    assert (
        f"median {row.err_median_pct:.0f} %, 90th percentile {row.err_p90_pct:.0f} %"
        in (model["reason"])
    )
    cpu0 = next(d for d in doc["devices"] if d["device"] == "cpu:0")
    assert (cpu0["provenance"], cpu0["estimated"]) == ("estimated:specpower-curve", True)
    assert cpu0["details"]["specpower_group"] == row.group.label
    assert cpu0["details"]["specpower_results"] == row.results
    text = run_finwatt("doctor", "--db", str(tmp_path / "f.db"), env=env)
    assert "estimated:specpower-curve" in " ".join(text.stdout.split())
