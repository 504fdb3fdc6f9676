"""`finwatt config`: the config file's JSON Schema, and a check of a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from profiler.cli.common import app, emit_json, error_line
from profiler.model.errors import EXIT_USAGE

config_app = typer.Typer(
    help="The config file: its JSON Schema, and a check of a file.", no_args_is_help=True
)
app.add_typer(config_app, name="config")


@config_app.command("schema")
def config_schema_command() -> None:
    """Print the JSON Schema of config.toml (for editors and config management)."""
    from profiler.settings.config_model import config_schema

    emit_json(config_schema())


@config_app.command("check")
def config_check(
    path: Annotated[
        Path | None,
        typer.Argument(help="File to check (default: the config file finwatt reads)."),
    ] = None,
) -> None:
    """Validate a config file: exit 0 when valid, else 2 with one line per problem."""
    from profiler.model.errors import ConfigError
    from profiler.settings.config import (
        config_path,
        config_problems,
        read_config_file,
        use_config_file,
    )

    if path is not None:
        use_config_file(path)
    target = config_path()
    try:
        found = target.is_file()
    except OSError:  # a name too long for the file system (ENAMETOOLONG): not found
        found = False
    if not found:
        error_line(f"{target}: config file not found; name one with `finwatt config check PATH`")
        raise typer.Exit(EXIT_USAGE)
    try:
        problems, valid = config_problems(target, read_config_file(target))
    except ConfigError as err:  # not TOML, or unreadable
        problems, valid = [str(err)], None
    if valid is None:
        for problem in problems:
            error_line(problem)
        raise typer.Exit(EXIT_USAGE)
    entries = len(valid.schedules)
    print(f"{target}: valid ({entries} [[schedule]] entr{'y' if entries == 1 else 'ies'})")
