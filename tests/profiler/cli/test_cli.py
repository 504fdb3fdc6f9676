import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from profiler.store.database import Store
from tests.fakes.cli import run_finwatt, start_finwatt
from tests.fakes.powercap import FakePowercap


def wait_for_samples(db: Path, n: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if db.exists():
            try:
                conn = sqlite3.connect(db)
                count = conn.execute("SELECT count(*) FROM sample").fetchone()[0]
                conn.close()
                if count >= n:
                    return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"no {n} samples in {db} after {timeout_s}s")


def test_monitor_json_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    result = run_finwatt(
        "monitor", "--duration", "3s", "--interval", "0.1s", "--json", "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout is exactly one JSON document
    assert doc["status"] == "complete"
    assert doc["seconds"] == pytest.approx(3.0, abs=0.3)
    devices = {d["device"]: d for d in doc["devices"]}
    assert {"host", "cpu:0"} <= set(devices)
    cpu = devices["cpu:0"]
    assert cpu["samples"] >= 25
    assert cpu["provenance"].startswith(("estimated:", "measured:"))
    assert 0 <= cpu["util_mean"] <= 1 and 0 <= cpu["util_p95"] <= 1
    assert cpu["energy_j"] > 0
    assert cpu["mean_power_w"] == pytest.approx(cpu["energy_j"] / cpu["seconds"], rel=0.05)
    assert devices["host"]["energy_j"] is None  # no power figure is invented for host
    runs = json.loads(run_finwatt("runs", "--json", "--db", str(db)).stdout)["runs"]
    assert [r["id"] for r in runs] == [doc["run"]]
    assert runs[0]["status"] == "complete"


def test_sigterm_flushes_marks_interrupted_and_exits_130(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    proc = start_finwatt("monitor", "--interval", "0.1s", "--json", "--db", str(db))
    wait_for_samples(db, 10)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    assert doc["status"] == "interrupted"
    with Store(db) as store:
        run = store.runs.get(doc["run"])
        assert run is not None and run.status == "interrupted" and run.ended
        samples = store.samples.sample_rows(doc["run"], "cpu:0")
        assert len(samples) == doc["devices"][0]["samples"] >= 5


def test_sigkill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    proc = start_finwatt("monitor", "--interval", "0.1s", "--db", str(db))
    wait_for_samples(db, 20)
    time.sleep(1.5)
    proc.kill()
    killed_at = time.time()
    proc.communicate(timeout=20)
    with Store(db) as store:
        (run,) = store.runs.all()
        assert run.status == "running"  # nobody has looked yet
        started = run.started.timestamp()
        last_t = max(s.t for s in store.samples.sample_rows(run.id))
    assert last_t >= (killed_at - started) - 1.0 - 0.3  # flush period + scheduling slack
    runs = json.loads(run_finwatt("runs", "--json", "--db", str(db)).stdout)["runs"]
    assert runs[0]["status"] == "interrupted"  # the next command notices the dead pid


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["monitor", "--duration", "5x"], "not a duration"),
        (["monitor", "--interval", "100s"], "out of range"),
        (["monitor", "--interval", "0.01s"], "out of range"),
        (["monitor", "--frobnicate"], "No such option"),
        (["explode"], "No such command"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    db = tmp_path / "f.db"
    result = run_finwatt(*args, "--db", str(db)) if args[0] != "explode" else run_finwatt(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("finwatt: error:") and needle in lines[0]
    assert result.stdout == ""
    assert not db.exists()


def test_unwritable_db_path_is_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_finwatt("monitor", "--duration", "1s", "--db", str(blocker / "sub" / "f.db"))
    assert result.returncode == 2
    assert "cannot open database" in result.stderr and "--db" in result.stderr


def test_doctor_json_here_estimates_and_says_how_to_measure(tmp_path: Path) -> None:
    result = run_finwatt(
        "doctor",
        "--json",
        "--db",
        str(tmp_path / "f.db"),
        env={"FINWATT_SYSFS_ROOT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    families = {f["family"]: f for f in doc["families"]}
    assert families["rapl"]["state"] == "not_found" and families["rapl"]["fix"]
    assert families["nvml"]["state"] in {"not_found", "found"}
    cpu = next(d for d in doc["devices"] if d["device"] == "cpu:0")
    assert cpu["provenance"].startswith("estimated:") and cpu["estimated"] is True
    assert cpu["details"]["power_source"]


def test_doctor_and_monitor_use_rapl_from_a_fake_powercap_root(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path / "sys")
    tree.add_zone("intel-rapl:0", "package-0", 1_000_000, max_power_uw=200_000_000)
    tree.add_zone("intel-rapl:0:0", "dram", 5_000)
    env = {"FINWATT_SYSFS_ROOT": str(tmp_path / "sys")}
    doc = json.loads(
        run_finwatt("doctor", "--json", "--db", str(tmp_path / "f.db"), env=env).stdout
    )
    provenance = {d["device"]: d["provenance"] for d in doc["devices"]}
    assert provenance["cpu:0"] == "measured:rapl"
    assert provenance["dram:0"] == "measured:rapl"
    assert "model" not in {f["family"] for f in doc["families"] if f["state"] == "found"}


def test_percentages_show_a_real_zero_and_only_unknown_as_na() -> None:
    from profiler.cli.common import pct

    assert pct(0.0, ".1f") == "0.0%"
    assert pct(0.256, ".1f") == "25.6%"
    assert pct(None, ".1f") == "n/a"


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from profiler.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"finwatt {version('finwatt')}\n"


def _command_paths() -> list[tuple[str, ...]]:
    import typer

    from profiler.cli import app

    # typer may vendor its own click, so groups are recognised by their `commands`
    paths: list[tuple[str, ...]] = [()]
    groups: list[tuple[tuple[str, ...], Any]] = [((), typer.main.get_group(app))]
    while groups:
        prefix, group = groups.pop()
        for name, command in group.commands.items():
            paths.append((*prefix, name))
            if hasattr(command, "commands"):
                groups.append(((*prefix, name), command))
    return sorted(paths)


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "finwatt")
def test_dash_h_is_help_on_every_command(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    from profiler.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*path, "-h"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: ") and "-h, --help" in out


def test_every_finwatt_error_has_one_root_and_its_exit_code() -> None:
    from profiler.model.errors import ConfigError, FinwattError
    from profiler.prometheus.query import FleetError, FleetUsageError
    from profiler.schedule.state import ScheduleStateError
    from profiler.sensors.base import SensorError
    from profiler.sensors.nvml.library import NvmlError
    from profiler.settings.site_error import SiteError
    from profiler.store.interchange import InterchangeError
    from profiler.store.opening import StoreError
    from profiler.workflows.analyze import AnalyzeError
    from profiler.workflows.runlock import LockHeldError
    from profiler.workflows.scheduler import SchedulerBusyError

    codes = {
        SiteError: 2,
        AnalyzeError: 2,
        ConfigError: 2,
        InterchangeError: 2,
        FleetUsageError: 2,
        LockHeldError: 1,
        SchedulerBusyError: 1,
        ScheduleStateError: 1,
        SensorError: 1,
        NvmlError: 1,
        StoreError: 1,
        FleetError: 1,
    }
    for error, code in codes.items():
        assert issubclass(error, FinwattError) and error.exit_code == code, error
        # the builtin each had before the root existed still catches it
        assert issubclass(error, ValueError if code == 2 else RuntimeError), error
