"""`finwatt demand`: the weekday x hour grid, its figures and `--json`, in process and for real.

The store is a real SQLite file written by the store's writer (four weeks of 5-minute
samples in November 2026); `--since 400d` reaches back to it from any day in 2027.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from profiler.cli import app
from tests.fakes.cli import run_finwatt
from tests.profiler.workflows.demand_store import HOST, write_host

SINCE = "400d"


@pytest.fixture(scope="module")
def batch_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_host(tmp_path_factory.mktemp("batch") / "f.db", lambda d, h, w: h in (23, 0), 0.35)


@pytest.fixture
def london(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\ntz = "Europe/London"\n')
    monkeypatch.setenv("FINWATT_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "120")
    return config


def _demand(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["demand", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_the_grid_reads_at_a_glance(batch_db: Path, london: Path) -> None:
    code, text = _demand("--since", SINCE, "--host", HOST, "--db", str(batch_db))
    assert code == 0, text
    lines = text.splitlines()
    rows = [
        line
        for line in lines
        if line[:4] in {f"{d} " for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
    ]
    assert [r[:3] for r in rows[:7]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    monday = rows[0][4:]
    assert len(monday) == 48  # 24 cells of two characters
    assert monday[:2] == "▒▒" and monday[46:] == "▒▒"  # 00:00 and 23:00: the batch at 35 %
    assert monday[2:46].strip() == ""  # idle the rest of the day
    assert any("not observed" in line for line in lines)
    assert any("PEAK_SIZED_HOST" in line and "Europe/London" in line for line in lines)
    assert any("01:00->" in line and "22:45" in line for line in lines)
    assert any("busy 14.0 h/week" in line and "4.0 weeks of history" in line for line in lines)


def test_json_is_one_document_with_a_schema(batch_db: Path, london: Path) -> None:
    code, text = _demand("--since", SINCE, "--host", HOST, "--db", str(batch_db), "--json")
    assert code == 0
    document = json.loads(text)
    assert document["schema"] == "finwatt.demand/1"
    assert document["tz"] == "Europe/London" and document["source"] == "store"
    (host,) = document["hosts"]
    assert host["host"] == HOST
    first = host["devices"][0]
    assert len(first["util_mean"]) == 7 and all(len(row) == 24 for row in first["util_mean"])
    assert first["schedule"]["tz"] == "Europe/London"
    assert first["forms"]["cron"].startswith("# finwatt")


def test_host_and_prometheus_together_is_bad_usage(london: Path) -> None:
    result = CliRunner().invoke(
        app, ["demand", "--host", "a", "--prometheus", "http://127.0.0.1:1"]
    )
    assert result.exit_code == 2


def _one_line_refusal(db: Path, tmp_path: Path, tz: str, host: str) -> str:
    """Run `finwatt demand` on `host` with `tz` in the config; return its one stderr line."""
    config = tmp_path / "config.toml"
    config.write_text(f'[defaults]\ntz = "{tz}"\n')
    args = ("demand", "--since", SINCE, "--host", host, "--db", str(db))
    result = run_finwatt(*args, env={"FINWATT_CONFIG": str(config)})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_a_host_with_no_runs_is_exit_2_on_one_line(batch_db: Path, tmp_path: Path) -> None:
    assert "nobody" in _one_line_refusal(batch_db, tmp_path, "Europe/London", "nobody")


def test_an_unknown_zone_is_exit_2_on_one_line(batch_db: Path, tmp_path: Path) -> None:
    said = _one_line_refusal(batch_db, tmp_path, "Mars/Olympus_Mons", HOST)
    assert "tz" in said and "Mars/Olympus_Mons" in said


def test_control_characters_in_a_host_name_are_shown_inertly(tmp_path: Path, london: Path) -> None:
    evil = "evil\x1b]0;owned\x07host"
    db = write_host(tmp_path / "f.db", lambda d, h, w: h in (23, 0), 0.35, host=evil)
    code, text = _demand("--since", SINCE, "--host", evil, "--db", str(db))
    assert code == 0
    assert "\x1b" not in text and "\x07" not in text
    assert "evil" in text


def test_analyze_json_carries_the_schedule_and_its_four_forms(batch_db: Path, london: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["analyze", "--since", SINCE, "--host", HOST, "--db", str(batch_db), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stdout
    document = json.loads(result.stdout)
    (finding,) = [f for f in document["findings"] if f["rule"] == "PEAK_SIZED_HOST"]
    recommendation = finding["recommendation"]
    assert set(recommendation["forms"]) == {"finwatt_toml", "cron", "systemd", "kube_green"}
    assert recommendation["schedule"]["tz"] == "Europe/London"
    labels = [w["label"] for w in finding["evidence"]["windows"]]
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    assert labels == [f"{d} 23:00-{days[(i + 1) % 7]} 01:00" for i, d in enumerate(days)]


def test_prometheus_down_is_exit_1_on_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\ntz = "Europe/London"\n')
    result = run_finwatt(
        "demand", "--prometheus", "http://127.0.0.1:1", env={"FINWATT_CONFIG": str(config)}
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "127.0.0.1:1" in result.stderr
