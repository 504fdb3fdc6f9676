"""`finwatt doctor` in a VM: hypervisor detected, and the host curve from an imported run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fakes.cli import run_finwatt
from tests.fakes.imported import import_document
from tests.profiler.analysis.ladders import ladder_doc

HOST_THREADS = 64


def _import_host_ladder(tmp_path: Path) -> Path:
    doc = ladder_doc([(0.0, 0.0, 60.0), (0.5, 500.0, 180.0), (1.0, 1000.0, 300.0)])
    doc["run"]["host"] = "hypervisor-1"
    doc["devices"].append({"id": "host", "kind": "host", "logical_cores": HOST_THREADS})
    return import_document(doc, tmp_path, "host")


def _doctor(tmp_path: Path, db: Path, config: str) -> dict:
    (tmp_path / "config.toml").write_text(config)
    env = {"FINWATT_CONFIG": str(tmp_path / "config.toml")}
    result = run_finwatt("doctor", "--json", "--db", str(db), env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_doctor_reports_the_virt_family_with_the_model_that_applies(tmp_path: Path) -> None:
    doc = _doctor(tmp_path, tmp_path / "f.db", "")
    (virt,) = [f for f in doc["families"] if f["family"] == "virt"]
    assert doc["virtualization"]["vm"] in (True, False)
    if doc["virtualization"]["vm"]:
        assert "TDP or per-vCPU model" in virt["reason"]
        assert "host_curve" in virt["fix"]


def test_host_curve_from_an_imported_host_run_drives_the_vm_cpu_model(tmp_path: Path) -> None:
    db = _import_host_ladder(tmp_path)
    doc = _doctor(tmp_path, db, '[defaults]\nhost_curve = "ladder"\n')
    cpu0 = next(d for d in doc["devices"] if d["device"] == "cpu:0")
    assert cpu0["provenance"] == "estimated:host-curve"
    assert cpu0["estimated"] is True
    assert cpu0["details"]["host_curve_source"].startswith("run ladder (ssj ladder on")
    vcpus = os.cpu_count() or 1
    assert cpu0["details"]["vm_share"] == pytest.approx(vcpus / HOST_THREADS)
    assert cpu0["details"]["model_idle_w"] == pytest.approx(60.0 * vcpus / HOST_THREADS)
    (virt,) = [f for f in doc["families"] if f["family"] == "virt"]
    if doc["virtualization"]["vm"]:
        assert "estimated:host-curve" in virt["reason"]


def test_host_curve_naming_no_file_or_run_exits_2_with_one_line(tmp_path: Path) -> None:
    db = _import_host_ladder(tmp_path)
    (tmp_path / "config.toml").write_text('[defaults]\nhost_curve = "nope"\n')
    env = {"FINWATT_CONFIG": str(tmp_path / "config.toml")}
    result = run_finwatt("doctor", "--db", str(db), env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "host_curve 'nope': neither a CSV file nor a run" in result.stderr


def test_vm_share_out_of_range_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[defaults]\nvm_share = 1.5\n")
    env = {"FINWATT_CONFIG": str(tmp_path / "config.toml")}
    result = run_finwatt("doctor", "--db", str(tmp_path / "f.db"), env=env)
    assert result.returncode == 2
    assert "vm_share" in result.stderr
