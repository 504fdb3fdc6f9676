"""The core commands: doctor, monitor and runs (`finwatt run` is in `profiler.cli.run`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from profiler.cli.attribution_view import (
    DEFAULT_TOP,
    AttributeOption,
    TopOption,
    attribute_top_n,
    print_attribution,
)
from profiler.cli.common import (
    DbOption,
    JsonOption,
    LabelOption,
    app,
    emit_json,
    err_console,
    fmt,
    metrics_server_errors,
    out,
    parse_interval,
    parse_seconds,
    pct,
    provenance_label,
)
from profiler.model.errors import EXIT_INTERRUPTED
from profiler.model.provenance import is_estimate
from profiler.model.run import RunStatus
from profiler.model.samples import TickSink
from profiler.model.text import printable
from profiler.model.units import GIB
from profiler.settings.config import load_settings
from profiler.workflows.database import open_store

if TYPE_CHECKING:
    from profiler.model.attribution_rows import PartListener
    from profiler.model.device import DeviceInfo
    from profiler.model.run import RunRecord
    from profiler.workflows.monitor import MonitorOutcome


def _doctor_device(d: DeviceInfo) -> dict[str, Any]:
    """Return one `devices[]` object of `doctor --json`."""
    return {"device": d.device_id, **d.described(), "estimated": d.estimated, "details": d.details}


@app.command()
def doctor(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the sensors and devices found, their provenance, and how to get more."""
    from profiler.workflows.probe import diagnose
    from profiler.workflows.provisioned import provisioned_note

    settings = load_settings(db)
    diagnosis = diagnose(settings)
    families = [
        {"family": a.family, "state": a.state.value, "reason": a.reason, "fix": a.fix}
        for a in diagnosis.availability
    ]
    devices = diagnosis.devices
    if as_json:
        emit_json(
            {
                "db": str(settings.db_path),
                "provisioned": provisioned_note(devices),
                "virtualization": diagnosis.virtualization,
                "families": families,
                "devices": [_doctor_device(d) for d in devices],
            },
            doc="doctor",
        )
        return
    table = Table(title="Sensor families")
    for column in ("family", "state", "reason", "fix"):
        table.add_column(column, overflow="fold")
    for f in families:
        table.add_row(f["family"], f["state"], f["reason"], f["fix"] or "")
    out.print(table)
    dev_table = Table(title="Devices")
    for column in ("device", "model", "cores", "memory", "power limit", "power figures"):
        dev_table.add_column(column, overflow="fold")
    for d in devices:
        mem_gib = d.mem_total_bytes / GIB if d.mem_total_bytes is not None else None
        dev_table.add_row(
            d.device_id,
            d.model or "",
            fmt(d.logical_cores, "d"),
            fmt(mem_gib, ".1f", " GiB"),
            fmt(d.power_limit_w, ".1f", " W"),
            provenance_label(d.provenance),
        )
    out.print(dev_table)
    if (note := provisioned_note(devices)) is not None:
        out.print(f"container: {note}", markup=False)
    out.print(f"database: {settings.db_path}", markup=False)


@app.command()
def monitor(
    duration: Annotated[
        str | None,
        typer.Option(help="How long to record, e.g. 30s, 15m, 2h (default: until Ctrl-C)."),
    ] = None,
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "1s",
    label: LabelOption = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Also serve the readings to Prometheus (loopback).")
    ] = False,
    port: Annotated[int, typer.Option(help="With --serve: TCP port of /metrics.")] = 9464,
    attribute: AttributeOption = False,
    top: TopOption = DEFAULT_TOP,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record utilisation and power of every device until the duration ends or Ctrl-C."""
    from profiler.workflows.attribution import run_attribution
    from profiler.workflows.monitor import monitor as record_window
    from profiler.workflows.monitor import monitor_recording
    from profiler.workflows.probe import probe
    from profiler.workflows.serve import start_exporter
    from profiler.workflows.signals import stop_on_signals

    duration_s = parse_seconds(duration, "--duration") if duration is not None else None
    interval_s = parse_interval(interval)
    top_n = attribute_top_n(attribute, top)
    settings = load_settings(db)
    open_store(settings).close()
    sensors = probe(settings)
    config = {"command": "monitor", "duration_s": duration_s, "interval_s": interval_s}
    config |= {"attribute_top_n": top_n} if top_n else {}
    sinks: list[TickSink] = []
    listeners: list[PartListener] = []
    with ExitStack() as cleanup:
        if serve:
            with metrics_server_errors(port):
                exporter = start_exporter(sensors.devices, "127.0.0.1", port)
            cleanup.callback(exporter.close)
            sinks.append(exporter.collector.observe)
            listeners.append(exporter.collector.attributed.add)
        stop = cleanup.enter_context(stop_on_signals())
        recording = monitor_recording(
            settings,
            interval_s=interval_s,
            label=label,
            config=config,
            sensors=sensors,
            sinks=sinks,
            attribute_top_n=top_n,
            attribution_listeners=listeners,
        )
        said = None if as_json else _say_recording(interval_s, duration_s)
        outcome = record_window(recording, stop, duration_s, on_start=said)
    attribution = run_attribution(settings.db_path, outcome.run.id) if top_n else None
    if as_json:
        emit_json(
            {
                "run": outcome.run.id,
                "status": outcome.run.status,
                "seconds": outcome.seconds,
                "missed_ticks": outcome.run.missed_ticks,
                "devices": [s.as_dict() for s in outcome.devices],
                "reconciliation": (
                    outcome.reconciliation.as_dict() if outcome.reconciliation else None
                ),
                "attribution": attribution.as_dict() if attribution else None,
            },
            doc="monitor",
        )
    else:
        _print_summary(outcome)
        if attribution is not None:
            print_attribution(attribution)
    if stop.signalled:
        raise typer.Exit(EXIT_INTERRUPTED)


def _say_recording(interval_s: float, duration_s: float | None) -> Callable[[str], None]:
    def say(run_id: str) -> None:
        err_console.print(
            f"recording run {run_id} every {interval_s:g}s"
            + (f" for {duration_s:g}s" if duration_s else "")
            + "; Ctrl-C stops and keeps the data",
            markup=False,
        )

    return say


def _print_summary(outcome: MonitorOutcome) -> None:
    from profiler.cli.reconcile_view import reconciliation_lines

    run, summaries = outcome.run, outcome.devices
    table = Table(title=f"Run {run.id} ({run.status}, {outcome.seconds:.1f} s)")
    for column in ("device", "samples", "util mean", "util p95", "energy", "mean power", "source"):
        table.add_column(column, justify="left" if column in ("device", "source") else "right")
    for s in summaries:
        table.add_row(
            s.device,
            str(s.samples),
            pct(s.util_mean, ".1f"),
            pct(s.util_p95, ".1f"),
            fmt(s.energy_j, ".1f", " J"),
            fmt(s.mean_power_w, ".2f", " W"),
            provenance_label(s.provenance) + ("" if s.status == "ok" else f" [{s.status}]"),
        )
    out.print(table)
    if outcome.reconciliation is not None:
        for line in reconciliation_lines(outcome.reconciliation.as_dict()):
            out.print(line, markup=False)
    if any(is_estimate(s.provenance) for s in summaries):
        out.print(
            "ESTIMATE: figures marked estimated come from a power model, not a sensor; "
            "`finwatt doctor` says how to get measured ones.",
            markup=False,
        )


@app.command()
def runs(
    db: DbOption = None,
    as_json: JsonOption = False,
    diff: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--diff",
            metavar="A B",
            help="Instead: what changed between runs A and B (kernel, microcode, firmware, "
            "drivers, settings, command line).",
        ),
    ] = None,
) -> None:
    """List stored runs, newest first (or, with --diff A B, what changed between two)."""
    settings = load_settings(db)
    if diff is not None:
        from profiler.cli.inventory_view import print_inventory_diff

        print_inventory_diff(settings, *diff, as_json=as_json)
        return
    with open_store(settings, read_only=True) as store:
        store.runs.mark_stale()
        records = store.runs.all()
    if as_json:
        emit_json(
            {
                "runs": [
                    {
                        "id": r.id,
                        "kind": r.kind,
                        "label": r.label,
                        "status": r.status,
                        "started": r.started_iso,
                        "ended": r.ended_iso,
                        "status_reason": r.status_reason,
                    }
                    for r in records
                ]
            },
            doc="runs",
        )
        return
    table = Table(title=f"Runs in {settings.db_path}")
    reasons = {r.id: _reason_shown(r) for r in records}
    with_reasons = any(reasons.values())
    for column in ("id", "kind", "label", "status", "started", "ended"):
        table.add_column(column)
    if with_reasons:
        table.add_column("why it ended so", overflow="fold")
    for r in records:
        # the label may come from an imported document: escape it (docs/decisions.md#hostile-input)
        label = printable(r.label or "")
        row = [r.id, r.kind, label, r.status, r.started_iso, r.ended_iso or ""]
        table.add_row(*row, *([reasons[r.id] or ""] if with_reasons else []))
    out.print(table)


def _reason_shown(run: RunRecord) -> Text | None:
    """Why a `failed` or `interrupted` run ended so, escaped (it may be imported), or None.

    A `Text`, not a string: the reason is shown as written, never read as rich markup.
    """
    if run.status not in (RunStatus.FAILED, RunStatus.INTERRUPTED) or not run.status_reason:
        return None
    return Text(printable(run.status_reason))
