"""Start-up: which heavy modules a light command imports, and the static command table.

The import checks run the console script's `main` in a fresh interpreter and read its
`sys.modules` (what was imported, not how long it took: speed lives in bench/startup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core

from profiler.cli.commands import COMMANDS, TOP_HELP

HEAVY = ("numpy", "httpx", "matplotlib", "jinja2", "pydantic", "rich.live", "psutil")

PROBE = """
import json, sys
sys.argv = ["finwatt", *json.loads(sys.argv[1])]
try:
    from profiler.cli import main
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _modules(tmp_path: Path, *args: str) -> set[str]:
    """Return the modules `finwatt ARGS` imported, in a fresh interpreter."""
    db = tmp_path / "f.db"
    env = {**os.environ, "FINWATT_DB": str(db), "XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "100"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = result.stderr.rsplit("MODULES ", 1)[1]
    return set(json.loads(line))


@pytest.mark.parametrize("args", [("--version",), ("-h",), ("--help",)])
def test_version_and_help_import_neither_typer_nor_a_heavy_module(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    loaded = _modules(tmp_path, *args)
    assert not [m for m in (*HEAVY, "typer", "rich", "sqlite3") if m in loaded]


@pytest.mark.parametrize("args", [("runs",), ("runs", "--json")])
def test_runs_imports_no_heavy_module_of_finwatt(tmp_path: Path, args: tuple[str, ...]) -> None:
    loaded = _modules(tmp_path, *args)
    # pydantic is typer's own: typer 0.2x coerces every option value through a pydantic
    # TypeAdapter, so any command typer runs loads it (docs/benchmarks.md#start-up)
    assert not [m for m in HEAVY if m != "pydantic" and m in loaded]
    other_commands = {c.module for c in COMMANDS.values()} - {COMMANDS["runs"].module}
    assert not other_commands & loaded


def _full_group() -> Any:
    from profiler.cli import app  # every command registered

    return typer.main.get_group(app)


def test_the_command_table_is_the_registered_commands() -> None:
    group = _full_group()
    built = group.commands.built
    assert sorted(built) == sorted(COMMANDS)  # `-h` lists them in the table's order
    assert list(group.commands) == list(COMMANDS)
    for name, entry in COMMANDS.items():
        command = built[name]
        callback = command.callback if not hasattr(command, "commands") else None
        if callback is not None:  # a group's callback is typer's own
            assert callback.__module__ == entry.module, name
        first = (command.short_help or command.help or "").split("\n\n")[0]
        assert " ".join(first.split()) == entry.summary, name


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_the_lazy_command_list_is_what_the_commands_say(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    group = _full_group()
    ctx = group.make_context("finwatt", ["--log-format", "text"], resilient_parsing=True)
    lazy = group.get_help(ctx)
    monkeypatch.setattr(type(group), "format_commands", typer.core.TyperGroup.format_commands)
    assert lazy == group.get_help(ctx)


def test_top_help_is_what_typer_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from profiler.cli import app

    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_info:  # typer renders it: not the quick path
        app(["-h"], prog_name="finwatt")
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == TOP_HELP


def test_the_quick_answers_are_typers(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "100", "FINWATT_DB": str(tmp_path / "f.db")}
    finwatt = str(Path(sys.executable).with_name("finwatt"))
    pairs = (
        (["-h"], ["--log-format", "text", "-h"]),
        (["--version"], ["--config", "", "--version"]),
    )
    for quick, through_typer in pairs:
        quick_run, typer_run = (
            subprocess.run([finwatt, *args], env=env, capture_output=True, text=True, timeout=120)
            for args in (quick, through_typer)
        )
        assert (quick_run.returncode, quick_run.stdout, quick_run.stderr) == (
            typer_run.returncode,
            typer_run.stdout,
            typer_run.stderr,
        )
