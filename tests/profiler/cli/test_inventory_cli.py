"""The audit trail end to end: two real monitor runs, the microcode changes, `runs --diff`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.cli import run_finwatt


def _fake_root(root: Path, microcode: str) -> Path:
    (root / "sys/class/dmi/id").mkdir(parents=True, exist_ok=True)
    (root / "sys/class/dmi/id/bios_version").write_text("2.19.1\n")
    (root / "proc/sys/kernel").mkdir(parents=True, exist_ok=True)
    (root / "proc/sys/kernel/osrelease").write_text("6.1.0-26-amd64\n")
    (root / "proc/cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n"
        f"microcode\t: {microcode}\nflags\t\t: fpu\n\n"
    )
    return root / "sys"


def _monitor(db: Path, sysfs: Path) -> str:
    env = {"FINWATT_SYSFS_ROOT": str(sysfs), "XDG_CONFIG_HOME": str(db.parent / "config")}
    result = run_finwatt(
        "monitor", "--duration", "0.3s", "--interval", "0.1s", "--json", "--db", str(db), env=env
    )
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["run"])


def test_runs_diff_names_the_microcode_change_between_two_real_runs(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    root = tmp_path / "root"
    first = _monitor(db, _fake_root(root, "0x5003604"))
    second = _monitor(db, _fake_root(root, "0x5003707"))
    result = run_finwatt("runs", "--diff", first, second, "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    changed = {c["item"]: (c["before"], c["after"]) for c in json.loads(result.stdout)["changed"]}
    assert changed == {"cpu_microcode": ("0x5003604", "0x5003707")}
    table = run_finwatt("runs", "--diff", first, second, "--db", str(db), env={"COLUMNS": "160"})
    assert table.returncode == 0, table.stderr
    assert "cpu_microcode" in table.stdout and "0x5003707" in table.stdout


def test_runs_diff_of_an_unknown_run_exits_2_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    run_id = _monitor(db, _fake_root(tmp_path / "root", "0x1"))
    result = run_finwatt("runs", "--diff", run_id, "nope", "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "no run 'nope'" in result.stderr
