"""`finwatt schedule`: scheduled profiling and monitoring runs."""

from __future__ import annotations

import logging
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from profiler.cli.common import (
    DbOption,
    JsonOption,
    app,
    emit_json,
    fail,
    metrics_server_errors,
    out,
    parse_levels,
)
from profiler.cli.logs import TimedTextFormatter, formatter, log_format
from profiler.model.errors import EXIT_FAILURE, EXIT_USAGE
from profiler.model.run import RunStatus
from profiler.model.text import printable
from profiler.model.units import iso_z, parse_iso
from profiler.settings.config import Settings, load_settings
from profiler.workflows.database import open_store

if TYPE_CHECKING:
    from profiler.schedule.timing import FireResult
    from profiler.settings.schedule_entries import ScheduleEntry

schedule_app = typer.Typer(
    help="Scheduled profiling and monitoring runs ([[schedule]] in config.toml).",
    no_args_is_help=True,
)
app.add_typer(schedule_app, name="schedule")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file (default $XDG_CONFIG_HOME/finwatt/config.toml)."),
]


def _schedule_settings(config: Path | None, db: Path | None) -> Settings:
    """Load the settings; an invalid [[schedule]] entry is set aside (hostile input)."""
    from profiler.settings.config import use_config_file

    if config is not None:
        use_config_file(config)
    return load_settings(db, skip_invalid_schedules=True)


def _zone_text(entry: ScheduleEntry) -> str:
    """Return a cron entry's zone for the table: `Europe/London` or `UTC (host's)`."""
    return f"{entry.tz} (host's)" if entry.tz_from_host else entry.tz


def _local(moment: datetime, entry: ScheduleEntry) -> datetime:
    """Return a fire time in the entry's zone (a cron's `tz`; UTC for `every`)."""
    from profiler.settings.time_zones import zone

    return moment.astimezone(zone(entry.tz) if entry.cron is not None else UTC)


@schedule_app.command("list")
def schedule_list(
    config: ConfigOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Show each entry with its time zone, next three fire times, last run and status.

    A cron entry's times are in its zone (`tz`, else the host's, marked "(host's)");
    `--json` gives them in UTC (`next`) and with the zone's offset (`next_local`). An
    invalid entry is listed as INVALID with its problem (`invalid` in `--json`); the
    daemon skips it and runs the others.
    """
    settings = _schedule_settings(config, db)
    rows, broken = _list_rows(settings)
    invalid = [e.as_dict() for e in settings.invalid_schedules] + broken
    if as_json:
        emit_json(
            {
                "config": str(settings.config_file),
                "db": str(settings.db_path),
                "entries": rows,
                "invalid": invalid,
            },
            doc="schedule-list",
        )
        return
    table = Table(title=printable(f"Schedule in {settings.config_file}"))
    for column in ("name", "trigger", "action", "next fire times", "last run"):
        # fire times stay whole, one a line
        table.add_column(
            column,
            overflow="fold",
            no_wrap=column == "next fire times",
            min_width=19 if column == "trigger" else None,  # "Europe/London" stays whole
        )
    entries = {e.name: e for e in settings.schedules}
    for row in rows:
        _add_row(table, row, entries[row["name"]])
    if rows:
        out.print(table)
    for bad in invalid:
        out.print(f"INVALID (skipped by the daemon): {printable(bad['problem'])}", soft_wrap=True)
    if not rows and not invalid:
        out.print("no [[schedule]] entries; add one with `finwatt schedule add`")


def _list_rows(settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return a row per valid entry, and the entries whose fire times cannot be computed."""
    from profiler.schedule.state import StateFile, state_path
    from profiler.schedule.timing import ENTRY_ERRORS, upcoming

    book = StateFile(state_path(settings.db_path))
    states = book.states()
    now = datetime.now(UTC)
    rows, broken = [], []
    for index, entry in enumerate(settings.schedules):
        record = book.entry(entry.name)
        try:
            next_times = upcoming(entry, states.get(entry.name), now)
        except ENTRY_ERRORS as err:
            problem = f"{settings.config_file}: [[schedule]] {entry.name!r}: fire times: {err}"
            broken.append({"index": index + 1, "name": entry.name, "problem": problem})
            continue
        rows.append(
            {
                **entry.as_dict(),
                "trigger": entry.trigger,
                "next": [iso_z(t) for t in next_times],
                "next_local": [_local(t, entry).isoformat(timespec="seconds") for t in next_times],
                "last_run": record.get("last_run"),
                "last_fire": record.get("last_fire"),
                "skipped_total": record.get("skipped_total", 0),
            }
        )
    return rows, broken


def _add_row(table: Table, row: dict[str, Any], entry: ScheduleEntry) -> None:
    """Add one entry's row to the `schedule list` table."""
    times = [_local(parse_iso(t), entry).strftime("%a %d %b %H:%M %Z") for t in row["next"]]
    last = row["last_run"]
    last_text = "never" if not last else f"{last['status']} {last['run'] or ''}".strip()
    if row["skipped_total"]:
        last_text += f"\n{row['skipped_total']} skipped"
    table.add_row(
        row["name"],
        f"cron {entry.cron}\n{_zone_text(entry)}" if entry.cron else row["trigger"],
        row["action"],
        "\n".join(times),
        printable(last_text, keep_newlines=True),
    )


@schedule_app.command("add")
def schedule_add(
    name: Annotated[str, typer.Argument(help="Entry name (letters, digits, _ . -).")],
    action: Annotated[str, typer.Option(help="run (profiling) or monitor.")],
    cron: Annotated[
        str | None, typer.Option(help="5-field cron in --tz, e.g. '30 18 * * 1-5'.")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(help="IANA time zone of --cron, e.g. Europe/London (default: the host's)."),
    ] = None,
    every: Annotated[str | None, typer.Option(help="Period, e.g. 15m, 24h.")] = None,
    workload: Annotated[
        list[str] | None, typer.Option(help="Workload of a run action (repeat; default all).")
    ] = None,
    levels: Annotated[str | None, typer.Option(help="Loads of a run action, e.g. 1,0.5,0.")] = None,
    phase_seconds: Annotated[str | None, typer.Option(help="Length of each level.")] = None,
    size: Annotated[str | None, typer.Option(help="small, standard or large.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, gpu, all or gpu:N.")] = None,
    duration: Annotated[str | None, typer.Option(help="How long a monitor records.")] = None,
    interval: Annotated[str | None, typer.Option(help="Sampling interval.")] = None,
    report: Annotated[
        str | None, typer.Option(help="HTML report path, e.g. reports/{name}-{date}.html.")
    ] = None,
    analyze: Annotated[bool, typer.Option(help="Analyse each run and keep findings.")] = False,
    attribute: Annotated[
        bool, typer.Option(help="A monitor action records its top consumers (docs/attribution.md).")
    ] = False,
    grace_period: Annotated[
        str | None, typer.Option(help="How late a missed fire may still run (default 1h).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Add a [[schedule]] entry to the config file, keeping its comments and layout."""
    from profiler.settings.config import config_path, use_config_file
    from profiler.settings.config_edit import add_entry

    if config is not None:
        use_config_file(config)
    table: dict[str, Any] = {
        "name": name,
        "cron": cron,
        "tz": tz,
        "every": every,
        "action": action,
        "workloads": list(workload) if workload else None,
        "levels": list(parse_levels(levels)) if levels is not None else None,
        "phase_seconds": phase_seconds,
        "size": size,
        "device": device,
        "duration": duration,
        "interval": interval,
        "report": report,
        "analyze": True if analyze else None,
        "attribute": True if attribute else None,
        "grace_period": grace_period,
    }
    path = config_path()
    entry = add_entry(path, table)
    print(printable(f"added {entry.name} ({entry.trigger}, {entry.action}) to {path}"))


@schedule_app.command("remove")
def schedule_remove(
    name: Annotated[str, typer.Argument(help="Entry to remove.")], config: ConfigOption = None
) -> None:
    """Remove a [[schedule]] entry from the config file, keeping the rest as it was."""
    from profiler.settings.config import config_path, use_config_file
    from profiler.settings.config_edit import remove_entry

    if config is not None:
        use_config_file(config)
    path = config_path()
    remove_entry(path, name)
    print(printable(f"removed {name} from {path}"))


def _scheduler(settings: Settings, *, once: bool) -> list[FireResult]:
    """Run the schedule with its log on stderr; SchedulerBusyError and the like exit 1."""
    from profiler.workflows.scheduler import run_scheduler

    invalid = settings.invalid_schedules
    if not settings.schedules and invalid:
        more = f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else ""
        fail(f"no valid [[schedule]] entry; {invalid[0].problem}{more}", EXIT_USAGE)
    if not settings.schedules:
        fail(
            f"{settings.config_file}: no [[schedule]] entries; add one with `finwatt schedule add`",
            EXIT_USAGE,
        )
    open_store(settings).close()
    handler = logging.StreamHandler(sys.stderr)
    if log_format() == "json":
        handler.setFormatter(formatter("json"))
    else:
        handler.setFormatter(TimedTextFormatter())
    logger = logging.getLogger("profiler")
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for bad in settings.invalid_schedules:
        logging.getLogger("profiler.schedule").warning(
            "%s; this entry is skipped, the others run",
            bad.problem,
            extra={"event": "entry_invalid", "entry": bad.name},
        )
    try:
        return run_scheduler(settings, once=once)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


@schedule_app.command("daemon")
def schedule_daemon(
    config: ConfigOption = None,
    db: DbOption = None,
    serve_metrics: Annotated[
        bool, typer.Option("--serve", help="Also serve live readings to Prometheus.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of /metrics with --serve (loopback).")] = 9464,
) -> None:
    """Run the schedule in the foreground until SIGTERM or Ctrl-C (then exit 0).

    Logs to stderr. A second daemon (or run-due) on the same database exits 1 naming
    the holder of the lock. With --serve, an exporter samples on its own (1 s) and serves
    /metrics on 127.0.0.1 for as long as the daemon runs.
    """
    from profiler.workflows.serve import serving

    settings = _schedule_settings(config, db)
    if not serve_metrics:
        _scheduler(settings, once=False)
        return
    with ExitStack() as cleanup:
        with metrics_server_errors(port):
            cleanup.enter_context(serving(settings, "127.0.0.1", port, interval_s=1.0))
        _scheduler(settings, once=False)


@schedule_app.command("run-due")
def schedule_run_due(
    config: ConfigOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Run whatever is due now, once, and exit (for cron and systemd timers).

    Exit 1 when an action failed or another scheduler holds the database.
    """
    results = _scheduler(_schedule_settings(config, db), once=True)
    if as_json:
        emit_json(
            {
                "results": [
                    {
                        "name": r.name,
                        "fire_time": iso_z(r.fire_time),
                        "status": r.status,
                        "run": r.run_id,
                        "message": r.message,
                    }
                    for r in results
                ]
            },
            doc="schedule-run-due",
        )
    if any(r.status == RunStatus.FAILED for r in results):
        raise typer.Exit(EXIT_FAILURE)
