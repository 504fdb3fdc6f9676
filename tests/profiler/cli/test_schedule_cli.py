"""`finwatt schedule` commands in-process: config validation, list, add and remove."""

import json
from pathlib import Path

import pytest

from profiler.settings.config import use_config_file
from tests.fakes.cli import run_finwatt


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("FINWATT_CONFIG", raising=False)
    monkeypatch.delenv("FINWATT_DB", raising=False)
    yield
    use_config_file(None)


def finwatt(*args: str) -> tuple[int, str, str]:
    """Run `finwatt *args` in this process (`run_finwatt`); return (exit code, out, err)."""
    result = run_finwatt(*args)
    return result.returncode, result.stdout, result.stderr


GOOD = """\
# site settings
[defaults]
country = "CHN"   # grid
pue = 1.4
price_per_kwh = 0.12
cpu_tdp_w = 205

# the nightly benchmark
[[schedule]]
name = "nightly-benchmark"
cron = "0 2 * * *"       # 02:00 UTC
action = "run"
workloads = ["risk", "inference", "ledger"]
levels = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
phase_seconds = 60
report = "reports/{name}-{date}.html"
analyze = true

# all-day usage
[[schedule]]
name = "usage"
every = "24h"
action = "monitor"
duration = "24h"
interval = "10s"
"""


def test_the_issue_example_config_lists_with_three_fire_times(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(GOOD)
    code, out, err = finwatt(
        "schedule",
        "list",
        "--config",
        str(config),
        "--db",
        str(tmp_path / "f.db"),
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    names = [e["name"] for e in doc["entries"]]
    assert names == ["nightly-benchmark", "usage"]
    nightly = doc["entries"][0]
    assert [t[11:] for t in nightly["next"]] == ["02:00:00Z"] * 3
    assert nightly["last_run"] is None and nightly["levels"][0] == 1.0
    # the global form works too
    code, out, _ = finwatt("--config", str(config), "schedule", "list", "--json")
    assert code == 0 and len(json.loads(out)["entries"]) == 2


@pytest.mark.parametrize(
    ("snippet", "named"),
    [
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\naction = "monitor"\nduration = "1m"\n'
            "colour = 1\n",
            "'colour'",
        ),
        ('[[schedule]]\nname = "a"\ncron = "61 * * * *"\naction = "run"\n', "cron"),
        ('[[schedule]]\nname = "a"\ncron = "0 2 * * * *"\naction = "run"\n', "cron"),
        ('[[schedule]]\nname = "a"\nevery = "0s"\naction = "monitor"\nduration = "1m"\n', "every"),
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nworkloads = ["bogus"]\n',
            "workloads",
        ),
        ('[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nlevels = [1.5]\n', "levels"),
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nphase_seconds = 0\n',
            "phase_seconds",
        ),
        ('[[schedule]]\nname = "a"\nevery = "1h"\naction = "monitor"\n', "duration"),
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\ncron = "* * * * *"\naction = "run"\n',
            "cron or every",
        ),
        ('[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nduration = "1h"\n', "'duration'"),
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\nreport = "{host}.html"\n',
            "report",
        ),
        ('[[schedule]]\nname = "a"\nevery = "1h"\naction = "sleep"\n', "action"),
        (
            '[[schedule]]\nname = "a"\nevery = "1h"\naction = "run"\n'
            '[[schedule]]\nname = "a"\nevery = "2h"\naction = "run"\n',
            "name 'a'",
        ),
        ("[defaults]\npue = -1\n", "pue"),
        ('[defaults]\ncountry = "XXX"\n', "country"),
        ("[defaults]\nfoo = 1\n", "'foo'"),
        ("bar = 1\n", "'bar'"),
        ("cpu_tdp_w = 100\n[defaults]\ncpu_tdp_w = 90\n", "cpu_tdp_w"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(tmp_path: Path, snippet: str, named: str) -> None:
    # every command but the scheduler's refuses the file (`schedule list`, `daemon` and
    # `run-due` set an invalid entry aside: tests/robustness/test_schedule_entries.py)
    config = tmp_path / "bad.toml"
    config.write_text(snippet)
    code, out, err = finwatt("--config", str(config), "runs", "--db", str(tmp_path / "f.db"))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("finwatt: error: ")
    assert str(config) in err and named in err


def test_every_command_reads_the_named_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[defaults]\ncpu_idle_ratio = 7\n")
    code, _, err = finwatt("--config", str(config), "runs", "--db", str(tmp_path / "f.db"))
    assert code == 2 and "cpu_idle_ratio" in err and str(config) in err
    code, _, err = finwatt("--config", str(tmp_path / "missing.toml"), "runs")
    assert code == 2 and "not found" in err


def test_top_level_settings_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from profiler.settings.config import load_settings

    config = tmp_path / "c.toml"
    config.write_text(f'db = "{tmp_path / "x.db"}"\ncpu_tdp_w = 150\n')
    use_config_file(config)
    settings = load_settings()
    assert settings.db_path == tmp_path / "x.db" and settings.cpu_tdp_w == 150
    config.write_text(f'[defaults]\ndb = "{tmp_path / "y.db"}"\ngrace_period = "10m"\n')
    settings = load_settings()
    assert settings.db_path == tmp_path / "y.db" and settings.grace_period_s == 600


def test_add_and_remove_keep_comments_and_layout(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(GOOD)
    code, _, err = finwatt("schedule", "add", "quick", "--every", "15m", "--action", "run",
        "--workload", "ledger", "--levels", "1,0", "--phase-seconds", "5s", "--size", "small",
        "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    text = config.read_text()
    assert text.startswith(GOOD)  # nothing before the new entry changed
    assert 'name = "quick"' in text and 'workloads = ["ledger"]' in text
    code, _, err = finwatt("schedule", "add", "quick", "--every", "1h", "--action", "run",
        "--config", str(config),
    )  # fmt: skip
    assert code == 2 and "'quick'" in err
    code, _, err = finwatt("schedule", "add", "bad", "--cron", "0 25 * * *", "--action", "run",
        "--config", str(config),
    )  # fmt: skip
    assert code == 2 and "cron" in err
    assert 'name = "bad"' not in config.read_text()

    code, _, err = finwatt("schedule", "remove", "nightly-benchmark", "--config", str(config))
    assert code == 0, err
    text = config.read_text()
    assert "nightly-benchmark" not in text and "# the nightly benchmark" not in text
    for kept in ("# site settings", 'country = "CHN"   # grid', "# all-day usage", "quick"):
        assert kept in text
    code, _, err = finwatt("schedule", "remove", "nope", "--config", str(config))
    assert code == 2 and "'nope'" in err


def test_add_creates_the_file(tmp_path: Path) -> None:
    config = tmp_path / "new" / "config.toml"
    code, _, err = finwatt("schedule", "add", "usage", "--every", "24h", "--action", "monitor",
        "--duration", "24h", "--interval", "10s", "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    assert "[[schedule]]" in config.read_text()


def test_daemon_without_entries_is_bad_usage(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("# empty\n")
    code, _, err = finwatt(
        "schedule", "daemon", "--config", str(config), "--db", str(tmp_path / "f.db")
    )
    assert code == 2 and "no [[schedule]] entries" in err


def test_a_damaged_state_file_is_one_line_exit_1(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(GOOD)
    db.with_name("f.db.schedule.json").write_text("{not json")
    code, out, err = finwatt("schedule", "list", "--config", str(config), "--db", str(db))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("finwatt: error: ") and "delete it" in err


def test_add_a_local_time_end_of_day_entry_and_list_it_in_its_zone(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    code, _, err = finwatt(
        "schedule", "add", "eod", "--cron", "30 18 * * 1-5", "--tz", "Europe/London",
        "--action", "run", "--workload", "risk", "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    assert 'tz = "Europe/London"' in config.read_text()
    code, out, err = finwatt("schedule", "list", "--config", str(config), "--db", str(db), "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["entries"]
    assert entry["tz"] == "Europe/London" and entry["tz_from_host"] is False
    assert all(t[11:19] == "18:30:00" for t in entry["next_local"])
    assert all(t.endswith(("+00:00", "+01:00")) for t in entry["next_local"])
    assert len(entry["next_local"]) == 3
    code, out, _ = finwatt("schedule", "list", "--config", str(config), "--db", str(db))
    assert code == 0 and "Europe/London" in out and "18:30" in out
    code, _, err = finwatt("schedule", "add", "bad", "--cron", "0 2 * * *", "--tz", "Europe/Londn",
        "--action", "run", "--config", str(config),
    )  # fmt: skip
    assert code == 2 and "tz" in err and "time zone" in err and err.count("\n") == 1


def test_list_names_the_host_zone_of_a_cron_without_tz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    config = tmp_path / "c.toml"
    config.write_text('[[schedule]]\nname = "n"\ncron = "0 2 * * *"\naction = "run"\n')
    code, out, err = finwatt(
        "schedule", "list", "--config", str(config), "--db", str(tmp_path / "f.db")
    )
    assert code == 0, err
    assert "Asia/Tokyo (host's)" in out and "02:00 JST" in out
