"""One bad `[[schedule]]` entry cannot stop scheduled monitoring (docs/decisions.md#hostile-input).

Before: `cron = "0 0 30 2 *"` (never fires) was accepted by `schedule add`, and then
`schedule list` and `schedule daemon` crashed at start (the shipped unit restarted the
daemon every 30 s, firing nothing); `every = 1e-9` and `every = inf` crashed it; a report
template `{name:>99999999}` was accepted and wrote 500 MB per fire. Now the entry's
values are bounded (`profiler.settings.schedule_checks`): `schedule add` refuses a bad entry
(exit 2, one line, the file unchanged); `schedule list`, `run-due` and the daemon set an
entry that fails validation aside (listed as invalid, logged) and run the others; the
loop itself drops an entry whose fire times cannot be computed and keeps going.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from profiler.schedule.state import StateFile
from profiler.schedule.timing import run_loop
from profiler.settings.config import config_problems
from profiler.settings.schedule_checks import (
    REPORT_PATH_MAX,
    check_cron,
    check_report_template,
)
from profiler.settings.schedule_entries import ScheduleEntry
from tests.fakes.cli import run_finwatt
from tests.fakes.clock import FakeWallClock
from tests.profiler.schedule.test_schedule import T0, FakeActions, every
from tests.robustness.contract import Home, assert_one_line_error

GOOD = """\
# the one that works
[[schedule]]
name = "good"
every = "1h"
action = "monitor"
duration = "0.5s"
interval = "0.1s"
"""

BAD_TABLES = {
    "never": 'cron = "0 0 30 2 *"\naction = "run"\n',
    "leap": 'cron = "0 0 29 2 *"\naction = "run"\n',
    "tiny": 'every = 1e-9\naction = "monitor"\nduration = "1m"\n',
    "infinite": 'every = inf\naction = "monitor"\nduration = "1m"\n',
    "huge": 'every = 1e30\naction = "monitor"\nduration = "1m"\n',
    "wide": 'every = "1h"\naction = "run"\nreport = "r/{name:>99999999}.html"\n',
    "typo": 'every = "1h"\naction = "monitor"\nduration = "1m"\ncolour = 1\n',
}
"""Entries that each failed to load, crashed the daemon, or wrote 500 MB per fire."""


def config_text(*names: str) -> str:
    tables = [f'[[schedule]]\nname = "{n}"\n{BAD_TABLES[n]}' for n in names]
    return "\n".join([GOOD, *tables])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def schedule(home: Home, *args: str) -> tuple[int, str, str]:
    result = run_finwatt("schedule", *args, "--config", str(home.config), env=home.env)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result.returncode, result.stdout, result.stderr


def schedule_json(home: Home, command: str, schema: str) -> tuple[dict[str, Any], str]:
    """Run `finwatt schedule COMMAND --json` on the bad tables; return (document, stderr)."""
    write_config(home, config_text(*BAD_TABLES))
    code, out, err = schedule(home, command, "--json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    assert doc["schema"] == schema
    return doc, err


def write_config(home: Home, text: str) -> None:
    """Write the home's config file (its directory does not exist yet)."""
    home.config.parent.mkdir(parents=True)
    home.config.write_text(text)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--cron", "0 0 30 2 *"), "never fires"),
        (("--every", "0.5s"), "every"),
        (("--every", "1h", "--report", "r/{name:>99999999}.html"), "at most 255"),
    ],
)
def test_schedule_add_refuses_a_bad_entry_and_leaves_the_file(
    home: Home, options: tuple[str, ...], named: str
) -> None:
    write_config(home, GOOD)
    before = digest(home.config)
    result = run_finwatt(
        "schedule", "add", "bad", "--action", "run", *options,
        "--config", str(home.config), env=home.env,
    )  # fmt: skip
    assert_one_line_error(result, 2, "'bad'", named)
    assert digest(home.config) == before


def test_list_shows_the_bad_entries_as_invalid_and_the_good_one(home: Home) -> None:
    doc, _ = schedule_json(home, "list", "finwatt.schedule-list/1")
    assert [e["name"] for e in doc["entries"]] == ["good"]
    problems = {bad["name"]: bad["problem"] for bad in doc["invalid"]}
    assert list(problems) == list(BAD_TABLES)  # in file order
    assert "never fires" in problems["never"] and "every year" in problems["leap"]
    for name, key in (("tiny", "every"), ("infinite", "every"), ("huge", "every")):
        assert "every" in problems[name] and str(home.config) in problems[name], key
    assert "at most 255" in problems["wide"] and "'colour'" in problems["typo"]
    code, out, err = schedule(home, "list")
    assert code == 0, err
    assert out.count("INVALID") == len(BAD_TABLES) and "good" in out


def test_run_due_skips_the_bad_entries_and_runs_the_good_one(home: Home) -> None:
    doc, err = schedule_json(home, "run-due", "finwatt.schedule-run-due/1")
    assert [(r["name"], r["status"]) for r in doc["results"]] == [
        ("good", "running"),
        ("good", "complete"),
    ]
    skipped = [line for line in err.splitlines() if "this entry is skipped" in line]
    assert len(skipped) == len(BAD_TABLES)
    with sqlite3.connect(home.db) as conn:
        assert conn.execute("SELECT label, status FROM run").fetchall() == [("good", "complete")]


@pytest.mark.parametrize("command", ["run-due", "daemon"])
def test_a_schedule_of_only_bad_entries_is_one_line_exit_2(home: Home, command: str) -> None:
    write_config(home, config_text("never", "tiny").replace(GOOD, ""))
    result = run_finwatt(
        "schedule", command, "--config", str(home.config), env=home.env, timeout=30
    )
    assert_one_line_error(result, 2, "no valid [[schedule]] entry", "never fires", "1 more")
    assert not home.db.exists()  # nothing was created for nothing to run


def test_remove_drops_an_invalid_entry(home: Home) -> None:
    write_config(home, config_text("never", "wide"))
    code, _, err = schedule(home, "remove", "never")
    assert code == 0, err
    text = home.config.read_text()
    assert 'name = "never"' not in text and 'name = "wide"' in text and GOOD in text


def test_the_loop_drops_an_entry_whose_times_cannot_be_computed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Entries built past the checks (as a future bug might): the good one keeps firing."""
    clock = FakeWallClock(T0, T0 + timedelta(seconds=7))
    actions = FakeActions(clock)
    entries = [
        ScheduleEntry("never", "run", cron="0 0 30 2 *"),
        ScheduleEntry("huge", "monitor", every_s=1e30, every="1e30s", duration_s=1),
        every(2, name="good"),
    ]
    with caplog.at_level(logging.ERROR, logger="profiler.schedule"):
        run_loop(
            entries, StateFile(tmp_path / "s.json"), actions, clock, clock.stop, grace_period_s=1
        )
    assert [name for name, _ in actions.fired] == ["good"] * 4  # at 0, 2, 4 and 6 s
    dropped = [r for r in caplog.records if getattr(r, "event", None) == "entry_invalid"]
    assert sorted(r.entry for r in dropped) == ["huge", "never"]  # type: ignore[attr-defined]


def test_every_allowed_template_fills_to_a_bounded_path() -> None:
    widest = "/" + "{name:>255}/" * 14 + "{run:^255}.html"
    assert check_report_template(widest) == widest
    # the scheduler's values are never longer than the checks' longest ones
    filled = widest.format(name="n" * 64, date="2026-12-31", time="235959", run="r" * 64)
    assert len(filled) <= REPORT_PATH_MAX


@pytest.mark.parametrize("cron", ["30 18 * * 1-5", "0 0 31 12 *", "0 0 1 1 *", "0 0 31 * *"])
def test_ordinary_crons_still_pass(cron: str) -> None:
    assert check_cron(cron) == cron


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"cron": "0 0 29 2 *"}, "every year"),
        ({"cron": "0 0 * 3 mon#5"}, "not in 2028"),
        ({"every": "400d"}, "every"),
        ({"every": float("inf")}, "every"),
        ({"every": "1h", "phase_seconds": "2d"}, "phase_seconds"),
        ({"every": "1h", "grace_period": "400d"}, "grace_period"),
        ({"every": "1h", "report": "r/{name!r}.html"}, "conversions"),
        ({"every": "1h", "report": "r/{name:{date}}.html"}, "text format"),
        ({"every": "1h", "report": "r/{name:d}.html"}, "text format"),
        ({"every": "1h", "report": "r/{host}.html"}, "{host}"),
        ({"every": "1h", "report": "r/" + "x" * 2000}, "at most 1024"),
        ({"every": "1h", "report": "r/{name:>255}" * 17}, "at most 4096"),
    ],
)
def test_each_bound_refuses_at_load(tmp_path: Path, table: dict[str, object], named: str) -> None:
    """The same checks as `schedule add`, at load (in-process: each is one line)."""
    path = tmp_path / "c.toml"
    document = {"schedule": [{"name": "bad", "action": "run", **table}]}
    problems, valid = config_problems(path, document)
    assert valid is None and len(problems) == 1
    assert problems[0].startswith(f"{path}: [[schedule]] #1 ('bad')") and named in problems[0]
