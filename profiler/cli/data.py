"""`finwatt export`, `finwatt import` and `finwatt db`: the stored data itself."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from profiler.cli.common import (
    DbOption,
    JsonOption,
    app,
    emit_json,
    err_console,
    fail,
    out,
    parse_seconds,
)
from profiler.model.errors import EXIT_USAGE, FinwattError
from profiler.settings.config import load_settings
from profiler.workflows.database import open_store


@app.command("export")
def export_command(
    run_id: Annotated[str, typer.Argument(help="Run to export (`finwatt runs` lists them).")],
    fmt: Annotated[
        str, typer.Option("--format", help="json (interchange document) or csv (samples).")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a run: the JSON interchange document, or its samples as CSV."""
    from profiler.files.outputs import check_output, open_output
    from profiler.workflows.data import EXPORT_FORMATS, export_run, raw_pruned_until

    if fmt == "parquet":
        fail("--format parquet is not supported in this version; use json or csv", EXIT_USAGE)
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use json or csv", param_hint="--format")
    if output is not None:
        check_output(output)  # a directory or a link fails before the database is read
    settings = load_settings(db)
    with open_store(settings, read_only=True) as store:
        if store.runs.get(run_id) is None:
            fail(f"no run {run_id}; `finwatt runs` lists them", EXIT_USAGE)
        pruned_until = raw_pruned_until(store, run_id)
        if pruned_until is not None:
            print(
                f"finwatt: warning: run {run_id}'s raw samples before t={pruned_until:g}s were "
                "pruned by retention; the export holds only the raw samples that remain",
                file=sys.stderr,
            )
        try:
            if output is None:
                export_run(store, run_id, fmt, sys.stdout)
                return
            # a regular file is written beside and renamed over: a failed export leaves
            # the old file; a device or FIFO is written directly (profiler.files.outputs)
            with open_output(output) as stream:
                count = export_run(store, run_id, fmt, stream)
        except FinwattError:
            raise  # an output error says what it is (a FinwattInputError is a ValueError)
        except ValueError as err:
            fail(f"cannot export run {run_id}: {err}")
    if str(output) == "-":
        return
    err_console.print(
        f"wrote run {run_id} ({count} samples) to {output}", markup=False, soft_wrap=True
    )


@app.command("import")
def import_command(
    file: Annotated[str, typer.Argument(help="Interchange JSON document; - reads stdin.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the stored run the document repeats (same run id, or the same "
            "content under another id) instead of refusing it; one transaction.",
        ),
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a run from the JSON interchange format and print its id.

    A run already stored is refused (exit 2): importing it twice would count it twice.
    """
    from profiler.files.bounded_reads import DOCUMENT_MAX_BYTES, read_bounded_bytes
    from profiler.files.small_files import SmallFileError
    from profiler.workflows.data import import_document

    name = "stdin" if file == "-" else file
    try:  # bounded in size and idle time, type-checked (docs/decisions.md#hostile-input)
        path = None if file == "-" else Path(file)
        data = read_bounded_bytes(path, max_bytes=DOCUMENT_MAX_BYTES, starts_with=b"{")
    except SmallFileError as err:
        fail(
            f"cannot import {name}: {err}; give a finwatt export (JSON); nothing imported",
            EXIT_USAGE,
        )
    settings = load_settings(db)
    with open_store(settings) as store:
        run_id = import_document(store, data, source=name, replace=replace)
    if as_json:
        emit_json({"run": run_id}, doc="import")
    else:
        out.print(f"imported run {run_id} from {name}", markup=False, soft_wrap=True)


db_app = typer.Typer(
    help="Database housekeeping: sizes, retention.", no_args_is_help=True, add_completion=False
)


def _size(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 1024:,.1f} KiB"


@db_app.command("stats")
def db_stats_command(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the database's size, rows per table, and the time raw samples and rollups cover."""
    from profiler.workflows.data import database_stats

    settings = load_settings(db)
    if not settings.db_path.exists():
        fail(
            f"no database at {settings.db_path}; record a run first (finwatt run --quick)",
            EXIT_USAGE,
        )
    stats = database_stats(settings.db_path)
    if as_json:
        emit_json(stats.as_dict(), doc="db-stats")
        return
    out.print(
        f"{stats.path}: {_size(stats.file_bytes)} on disk, {_size(stats.free_bytes)} free "
        f"(schema {stats.schema_version})",
        markup=False,
    )
    table = Table("table", "rows", "size", box=None)
    for name, rows in stats.rows.items():
        size = stats.table_bytes.get(name) if stats.table_bytes is not None else None
        table.add_row(name, f"{rows:,}", _size(size))
    out.print(table)
    out.print(f"raw samples: {stats.raw_oldest or 'none'} .. {stats.raw_newest or 'none'}")
    out.print(f"rollups:     {stats.rollup_oldest or 'none'} .. {stats.rollup_newest or 'none'}")
    if stats.rollup_only_runs:
        out.print(f"runs whose oldest samples are rollups only: {len(stats.rollup_only_runs)}")


@db_app.command("prune")
def db_prune_command(
    keep_raw: Annotated[
        str, typer.Option("--keep-raw", help="Keep raw samples this long (e.g. 14d).")
    ] = "14d",
    keep_rollups: Annotated[
        str, typer.Option("--keep-rollups", help="Keep minute rollups this long (e.g. 400d).")
    ] = "400d",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete raw samples and rollups past their retention; runs, phases, findings stay."""
    from profiler.workflows.data import prune_database

    raw_s = parse_seconds(keep_raw, "--keep-raw")
    rollup_s = parse_seconds(keep_rollups, "--keep-rollups")
    if rollup_s < raw_s:
        fail(f"--keep-rollups {keep_rollups} is shorter than --keep-raw {keep_raw}", EXIT_USAGE)
    settings = load_settings(db)
    if not settings.db_path.exists():
        fail(f"no database at {settings.db_path}; nothing to prune", EXIT_USAGE)
    result = prune_database(settings.db_path, keep_raw_s=raw_s, keep_rollups_s=rollup_s)
    if as_json:
        emit_json(result.as_dict(), doc="db-prune")
        return
    out.print(
        f"deleted {result.raw_samples_deleted:,} raw samples before {result.raw_cutoff} and "
        f"{result.rollup_rows_deleted:,} minute rollups before {result.rollup_cutoff} "
        f"from {len(result.runs_pruned)} run(s)",
        markup=False,
    )


app.add_typer(db_app, name="db")
