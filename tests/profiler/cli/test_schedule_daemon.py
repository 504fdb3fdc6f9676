"""End to end: the real `finwatt schedule daemon` for a few seconds, SIGTERM, the locks."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from profiler.cli import main
from profiler.settings.config import use_config_file
from profiler.store.database import Store
from profiler.workflows.runlock import FileLock, LockHeldError, describe_holder, run_lock_path
from tests.fakes.cli import run_finwatt, start_finwatt

CONFIG = """\
[[schedule]]
name = "tick"
every = "2s"
action = "monitor"
duration = "1s"
interval = "0.25s"
"""


def start_daemon(config: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    return start_finwatt(
        "schedule",
        "daemon",
        "--config",
        str(config),
        "--db",
        str(db),
        *extra,
        env={"XDG_CONFIG_HOME": str(config.parent / "xdg")},
    )


def wait_for(predicate: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def stop_with_sigterm(daemon: subprocess.Popen[str]) -> str:
    """Send the daemon SIGTERM, wait for it, assert it exited 0; return its stderr."""
    daemon.send_signal(signal.SIGTERM)
    _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    return err


@pytest.mark.slow
def test_daemon_fires_every_two_seconds_and_sigterm_exits_0(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(CONFIG)
    daemon = start_daemon(config, db)
    lock = db.with_name("f.db.schedule.lock")
    try:
        wait_for(lambda: lock.exists() and "schedule daemon" in lock.read_text())
        # a second daemon on the same database refuses, naming the first
        second = run_finwatt("schedule", "daemon", "--config", str(config), "--db", str(db))
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1
        assert f"pid {daemon.pid}" in second.stderr and "already runs the schedule" in second.stderr
        time.sleep(7)
        err = stop_with_sigterm(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert "scheduler stopped" in err
    with Store(db) as store:
        runs = store.runs.all()
        assert len(runs) >= 3
        assert all(r.kind == "scheduled" and r.label == "tick" for r in runs)
        assert not [r for r in runs if r.status == "running"]
        assert sum(r.status == "complete" for r in runs) >= 2
        assert all(store.samples.sample_rows(r.id) for r in runs if r.status == "complete")
    state = json.loads(db.with_name("f.db.schedule.json").read_text())
    assert state["entries"]["tick"]["last_run"]["run"] == runs[0].id
    assert lock.read_text() == ""  # released


def test_run_due_runs_what_is_due_once(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(CONFIG.replace('duration = "1s"', 'duration = "0.5s"'))
    result = run_finwatt("schedule", "run-due", "--config", str(config), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    statuses = [r["status"] for r in json.loads(result.stdout)["results"]]
    assert statuses == ["running", "complete"]
    with Store(db) as store:
        (run,) = store.runs.all()
        assert run.status == "complete"
        assert run.config["schedule"]["name"] == "tick"


def test_run_lock_names_its_holder_and_excludes_another(tmp_path: Path) -> None:
    path = run_lock_path(tmp_path / "f.db")
    holder = FileLock(path, "finwatt schedule daemon (nightly)")
    assert holder.try_acquire()
    try:
        other = FileLock(path, "finwatt run")
        with pytest.raises(LockHeldError, match=r"finwatt schedule daemon \(nightly\) \(pid"):
            other.acquire(wait_s=0.3, poll_s=0.05)
        assert f"pid {os.getpid()}" in describe_holder(path)
    finally:
        holder.release()
    with FileLock(path, "finwatt run") as again:
        assert again.held


def test_manual_run_refuses_while_the_lock_is_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import profiler.cli.run

    monkeypatch.setattr(profiler.cli.run, "RUN_LOCK_WAIT_S", 0.3)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    db = tmp_path / "f.db"
    holder = FileLock(run_lock_path(db), "finwatt schedule daemon (nightly)")
    assert holder.try_acquire()
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "ledger", "--device", "cpu", "--levels", "1,0", "--phase-seconds", "1",
                  "--size", "small", "--db", str(db)])  # fmt: skip
    finally:
        holder.release()
        use_config_file(None)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "finwatt schedule daemon (nightly)" in err and "f.db.lock" in err
    with Store(db) as store:
        assert store.runs.all() == []  # refused before any run was created


@pytest.mark.slow
def test_a_scheduled_profiling_run_with_analysis_and_report(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(
        '[defaults]\npue = 1.3\n\n[[schedule]]\nname = "bench"\nevery = "1h"\naction = "run"\n'
        'workloads = ["ledger"]\nlevels = [1.0, 0.0]\nphase_seconds = 1\nsize = "small"\n'
        'device = "cpu"\ninterval = "0.25s"\nanalyze = true\n'
        'report = "reports/{name}-{date}.html"\n'
    )
    result = run_finwatt(
        "schedule", "run-due", "--config", str(config), "--db", str(db), "--json", timeout=120
    )
    assert result.returncode == 0, result.stderr
    (fired,) = json.loads(result.stdout)["results"]
    assert fired["status"] == "complete" and fired["message"] is None, fired
    with Store(db) as store:
        run = store.runs.get(fired["run"])
        assert run is not None and run.kind == "scheduled" and run.status == "complete"
        assert run.config["command"] == "run" and run.config["schedule"]["name"] == "bench"
        assert [p.target_load for p in store.phases.for_run(run.id)] == [1.0, 0.0]
    reports = list((tmp_path / "reports").glob("bench-*.html"))
    assert len(reports) == 1 and "<html" in reports[0].read_text()[:500].lower()
    assert run_lock_path(db).read_text() == ""


def test_daemon_with_serve_exposes_metrics_while_it_runs(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(CONFIG)
    daemon = start_daemon(config, db, "--serve", "--port", str(port))
    try:
        body = ""

        def scraped() -> bool:
            nonlocal body
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
            except OSError:
                return False
            return 'finwatt_utilization_ratio{device="host"' in body

        wait_for(scraped)
        assert "finwatt_build_info" in body
        stop_with_sigterm(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
