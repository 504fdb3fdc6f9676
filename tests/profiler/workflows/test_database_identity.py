"""Locks and schedule state follow the database file (device, inode), not the name given.

A second `schedule daemon` on a symbolic or a hard link to the database of a running one
refuses (exit 1, one line), in this process and in another; the state file of a symbolic
link is the database's own, so an entry does not fire again there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from profiler.schedule.state import state_path
from profiler.workflows.runlock import (
    LockHeldError,
    run_lock,
    scheduler_lock,
    scheduler_lock_path,
)
from tests.fakes.cli import run_finwatt, start_finwatt


@pytest.fixture
def names(tmp_path: Path) -> dict[str, Path]:
    """A database and three names of it: a symbolic link, hard links here and elsewhere."""
    db = tmp_path / "f.db"
    db.write_bytes(b"")
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    (tmp_path / "link.db").symlink_to(db)
    os.link(db, tmp_path / "hard.db")
    os.link(db, elsewhere / "hard.db")
    return {
        "db": db,
        "symlink": tmp_path / "link.db",
        "hardlink": tmp_path / "hard.db",
        "hardlink-elsewhere": elsewhere / "hard.db",
    }


def test_a_symbolic_link_shares_the_lock_and_state_files(names: dict[str, Path]) -> None:
    assert scheduler_lock_path(names["symlink"]) == scheduler_lock_path(names["db"])
    assert state_path(names["symlink"]) == state_path(names["db"])


@pytest.mark.parametrize("name", ["symlink", "hardlink", "hardlink-elsewhere"])
def test_a_second_lock_through_a_link_is_refused_in_this_process(
    names: dict[str, Path], name: str
) -> None:
    first = scheduler_lock(names["db"], "finwatt schedule daemon")
    assert first.try_acquire()
    try:
        second = scheduler_lock(names[name], "finwatt schedule daemon")
        assert not second.try_acquire()
        with pytest.raises(LockHeldError, match="holds"):
            second.acquire()
    finally:
        first.release()
    assert second.try_acquire()  # free again once the first is released
    second.release()


def test_the_run_lock_and_the_scheduler_lock_of_one_database_are_separate(
    names: dict[str, Path],
) -> None:
    scheduling = scheduler_lock(names["db"], "finwatt schedule daemon")
    running = run_lock(names["hardlink"], "finwatt schedule daemon (nightly)")
    assert scheduling.try_acquire() and running.try_acquire()
    running.release()
    scheduling.release()


TRY_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from profiler.workflows.runlock import scheduler_lock
print(scheduler_lock(Path(sys.argv[1]), "other").try_acquire())
"""


@pytest.mark.parametrize("name", ["hardlink", "hardlink-elsewhere"])
def test_a_hard_link_is_refused_in_another_process(names: dict[str, Path], name: str) -> None:
    def other_process_gets_it() -> bool:
        done = subprocess.run(
            [sys.executable, "-c", TRY_IN_ANOTHER_PROCESS, str(names[name])],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip() == "True"

    first = scheduler_lock(names["db"], "finwatt schedule daemon")
    assert first.try_acquire()
    try:
        assert not other_process_gets_it()
    finally:
        first.release()
    assert other_process_gets_it()


CONFIG = """\
[[schedule]]
name = "tick"
every = "1h"
action = "monitor"
duration = "1s"
interval = "0.25s"
"""


@pytest.mark.slow
def test_a_second_daemon_on_a_link_to_the_database_refuses_to_run(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(CONFIG)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    daemon = start_finwatt("schedule", "daemon", "--config", str(config), "--db", str(db), env=env)
    lock = tmp_path / "f.db.schedule.lock"
    try:
        deadline = time.monotonic() + 30
        while not (lock.exists() and "schedule daemon" in lock.read_text()):
            assert daemon.poll() is None and time.monotonic() < deadline, "no daemon"
            time.sleep(0.1)
        (tmp_path / "link.db").symlink_to(db)
        os.link(db, tmp_path / "hard.db")
        for name in ("link.db", "hard.db"):
            second = run_finwatt(
                "schedule", "daemon", "--config", str(config), "--db", str(tmp_path / name), env=env
            )
            assert second.returncode == 1, (name, second.stdout, second.stderr)
            assert second.stderr.count("\n") == 1 and "already runs the schedule" in second.stderr
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)
