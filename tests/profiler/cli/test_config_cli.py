"""`finwatt config schema|check`, shell completion, and `--log-format json` of the scheduler."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.cli import run_finwatt

FINWATT_SCRIPT = Path(sys.executable).parent / "finwatt"
"""The console script `pip install -e .` made (completion keys on the program's name)."""

EOD = """\
# an end-of-day benchmark at 18:30 London time, Monday to Friday
[[schedule]]
name = "eod"
cron = "30 18 * * 1-5"
tz = "Europe/London"
action = "run"
workloads = ["risk"]
"""


def test_config_check_accepts_a_valid_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(EOD)
    result = run_finwatt("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{config}: valid (1 [[schedule]] entry)"


def test_config_check_names_each_problem_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        EOD.replace("Europe/London", "Mars/Olympus")
        + '[[schedule]]\nname = "u"\nevery = "1h"\naction = "monitor"\ncolour = "red"\n'
        + "[defaults]\npue = nan\n"
    )
    result = run_finwatt("config", "check", str(config))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"finwatt: error: {config}") for line in lines)
    assert any("#1 ('eod') tz" in line and "time zone" in line for line in lines)
    assert any("#2 ('u') unknown key 'colour'" in line for line in lines)
    assert any("[defaults] pue" in line and "finite" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_config_check_of_a_missing_or_broken_file_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = run_finwatt("config", "check", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    broken = tmp_path / "b.toml"
    broken.write_text("[[schedule]\nname=")
    result = run_finwatt("config", "check", str(broken))
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    assert result.stderr.count("\n") == 1


def test_config_check_reads_the_default_config_without_a_path(tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "finwatt" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(EOD)
    result = run_finwatt(
        "config", "check", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "FINWATT_CONFIG": ""}
    )
    assert result.returncode == 0, result.stderr
    assert str(config) in result.stdout


def test_config_schema_prints_one_json_schema_document() -> None:
    result = run_finwatt("config", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["title"] == "finwatt config.toml"
    assert {"defaults", "schedule"} <= set(schema["properties"])


def completions(shell: str, words: str, cword: int) -> list[str]:
    """Ask the console script for completions the way `shell`'s completion script does."""
    env = {**os.environ, "_FINWATT_COMPLETE": f"complete_{shell}"}
    env.update({"COMP_WORDS": words, "COMP_CWORD": str(cword), "_TYPER_COMPLETE_ARGS": words})
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    result = subprocess.run(
        [str(FINWATT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.skipif(not FINWATT_SCRIPT.exists(), reason="needs `pip install -e .`")
def test_completion_answers_bash_zsh_and_fish() -> None:
    assert completions("bash", "finwatt sch", 1) == ["schedule"]
    assert completions("bash", "finwatt config ", 2) == ["schema", "check"]
    assert "schedule" in " ".join(completions("zsh", "finwatt sch", 1))
    assert completions("fish", "finwatt conf", 1)[0] == "config"


@pytest.mark.skipif(
    not FINWATT_SCRIPT.exists() or shutil.which("bash") is None, reason="needs bash and the script"
)
def test_the_bash_completion_script_completes_in_a_real_bash() -> None:
    script = (
        f'export PATH="{FINWATT_SCRIPT.parent}:$PATH"\n'
        "source <(finwatt --show-completion)\n"  # typer detects the shell: bash
        "COMP_WORDS=(finwatt schedule ru); COMP_CWORD=2\n"
        "_finwatt_completion finwatt\n"
        'echo "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.split() == ["run-due"], result.stderr


def test_the_scheduler_logs_json_lines_with_level_event_and_run_id(tmp_path: Path) -> None:
    config, db = tmp_path / "c.toml", tmp_path / "f.db"
    config.write_text(
        '[[schedule]]\nname = "tick"\nevery = "1h"\naction = "monitor"\nduration = "0.5s"\n'
        'interval = "0.1s"\n'
        '[[schedule]]\nname = "bench"\nevery = "1h"\naction = "run"\nworkloads = ["ledger"]\n'
        'levels = [1.0]\nphase_seconds = "1s"\nsize = "small"\ndevice = "cpu"\n'
    )
    result = run_finwatt(
        "--log-format", "json", "schedule", "run-due", "--config", str(config), "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    for record in records:
        assert {"timestamp", "level", "event", "message", "run_id"} <= set(record)
        assert record["timestamp"].endswith("Z")
    events = [r["event"] for r in records]
    assert events[0] == "scheduler_start" and events[-1] == "scheduler_stop"
    tick = [r for r in records if r["event"] == "fire_result" and r["entry"] == "tick"]
    assert [r["status"] for r in tick] == ["running", "complete"]
    assert tick[0]["run_id"] and tick[0]["run_id"] == tick[1]["run_id"]
    (bench,) = [r for r in records if r["event"] == "fire_result" and r["entry"] == "bench"]
    assert bench["status"] == "complete" and bench["level"] == "info"
    # the scheduled profiling run logs its phases under its run id, like `finwatt run`
    phases = [r for r in records if r["run_id"] == bench["run_id"]]
    assert {"run_start", "phase_start", "phase_done"} <= {r["event"] for r in phases}


def test_a_bad_log_format_is_a_usage_error() -> None:
    result = run_finwatt("--log-format", "xml", "runs")
    assert result.returncode == 2 and "--log-format" in result.stderr
