"""finwatt's core runs where codecarbon is not installed (a GPU host may have none).

A child interpreter hides codecarbon (and tomlkit, croniter) from imports and from
`importlib.resources`, then runs the real CLI.
"""

import json
import subprocess
import sys
from pathlib import Path

HIDE = """
import importlib.abc, importlib.resources, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("codecarbon", "tomlkit", "croniter"):
            raise ModuleNotFoundError(f"No module named {name!r}")
files = importlib.resources.files
def hidden_files(anchor):
    if str(anchor).split(".")[0] == "codecarbon":
        raise ModuleNotFoundError("No module named 'codecarbon'")
    return files(anchor)
sys.meta_path.insert(0, Hide())
importlib.resources.files = hidden_files
from profiler.cli import main
main(sys.argv[1:])
"""


def finwatt_without_codecarbon(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-c", HIDE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "PATH": "/usr/bin:/bin"},
    )


def test_doctor_monitor_and_analyze_run_without_codecarbon(tmp_path: Path) -> None:
    doctor = finwatt_without_codecarbon(tmp_path, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stderr
    cpus = [d for d in json.loads(doctor.stdout)["devices"] if d["kind"] == "cpu"]
    assert cpus and all(d["estimated"] for d in cpus)  # still a labelled model, never a gap
    monitor = finwatt_without_codecarbon(tmp_path, "monitor", "--duration", "1s", "--json")
    assert monitor.returncode == 0, monitor.stderr
    analyze = finwatt_without_codecarbon(tmp_path, "analyze", "--json")
    assert analyze.returncode == 0, analyze.stderr
    assert json.loads(analyze.stdout)["run"] == json.loads(monitor.stdout)["run"]


def test_a_country_without_codecarbon_is_one_line_with_the_fix(tmp_path: Path) -> None:
    result = finwatt_without_codecarbon(tmp_path, "analyze", "--country", "FRA", "--json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "pip install codecarbon" in result.stderr
