"""The core commands: doctor, monitor, runs and run (profiling)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from profiler.analysis.summary import DeviceSummary, summarise_run
from profiler.capture.recording import Recording
from profiler.capture.sampler import check_interval
from profiler.cli.common import (
    EXIT_INTERRUPTED,
    CountryOption,
    DbOption,
    IntensityOption,
    JsonOption,
    PriceOption,
    PueOption,
    RegionOption,
    StopSignal,
    app,
    cli_settings,
    emit_json,
    err_console,
    fail,
    fmt,
    grid_code,
    open_store,
    out,
    parse_levels,
    parse_seconds,
    pct,
    phase_json,
    probe,
    provenance_label,
    resolve_devices,
    site_options,
    start_exporter,
    take_run_lock,
)
from profiler.model.provenance import is_estimate
from profiler.model.units import GIB
from profiler.store.database import Store


@app.command()
def doctor(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the sensors and devices found, their provenance, and how to get more."""
    settings = cli_settings(db)
    sensors = probe(settings)
    try:
        families = [
            {"family": a.family, "state": a.state.value, "reason": a.reason, "fix": a.fix}
            for a in sensors.availability
        ]
        devices = list(sensors.devices)
    finally:
        sensors.close()
    if as_json:
        emit_json(
            {
                "db": str(settings.db_path),
                "families": families,
                "devices": [
                    {
                        "device": d.device_id,
                        "kind": d.kind,
                        "model": d.model,
                        "logical_cores": d.logical_cores,
                        "mem_total_bytes": d.mem_total_bytes,
                        "power_limit_w": d.power_limit_w,
                        "provenance": d.provenance,
                        "estimated": is_estimate(d.provenance),
                        "details": d.details,
                    }
                    for d in devices
                ],
            }
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
    out.print(f"database: {settings.db_path}", markup=False)


@app.command()
def monitor(
    duration: Annotated[
        str | None,
        typer.Option(help="How long to record, e.g. 30s, 15m, 2h (default: until Ctrl-C)."),
    ] = None,
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "1s",
    label: Annotated[str | None, typer.Option(help="Label stored with the run.")] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Also serve the readings to Prometheus (loopback).")
    ] = False,
    port: Annotated[int, typer.Option(help="With --serve: TCP port of /metrics.")] = 9464,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record utilisation and power of every device until the duration ends or Ctrl-C."""
    duration_s = parse_seconds(duration, "--duration") if duration is not None else None
    interval_s = parse_seconds(interval, "--interval")
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    settings = cli_settings(db)
    open_store(settings).close()
    sensors = probe(settings)
    config = {"command": "monitor", "duration_s": duration_s, "interval_s": interval_s}
    exporter = start_exporter(sensors.devices, "127.0.0.1", port) if serve else None
    with StopSignal() as stop:
        recording = Recording(
            settings.db_path,
            sensors,
            kind="monitor",
            interval_s=interval_s,
            label=label,
            config=config,
            sinks=[exporter[0].observe] if exporter else [],
        )
        if not as_json:
            err_console.print(
                f"recording run {recording.run_id} every {interval_s:g}s"
                + (f" for {duration_s:g}s" if duration_s else "")
                + "; Ctrl-C stops and keeps the data",
                markup=False,
            )
        recording.start()
        try:
            stop.event.wait(duration_s)
        finally:
            recording.stop("interrupted" if stop.signum is not None else "complete")
            if exporter:
                exporter[1].close()
    with Store(settings.db_path) as store:
        run = store.get_run(recording.run_id)
        summaries = summarise_run(store.devices(recording.run_id), store.samples(recording.run_id))
    assert run is not None
    seconds = max((s.seconds or 0.0 for s in summaries), default=0.0)
    if as_json:
        emit_json(
            {
                "run": run.id,
                "status": run.status,
                "seconds": seconds,
                "missed_ticks": run.missed_ticks,
                "devices": [s.as_dict() for s in summaries],
            }
        )
    else:
        _print_summary(run.id, run.status, seconds, summaries)
    if stop.signum is not None:
        raise typer.Exit(EXIT_INTERRUPTED)


def _print_summary(
    run_id: str, status: str, seconds: float, summaries: list[DeviceSummary]
) -> None:
    table = Table(title=f"Run {run_id} ({status}, {seconds:.1f} s)")
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
    if any(is_estimate(s.provenance) for s in summaries):
        out.print(
            "ESTIMATE: figures marked estimated come from a power model, not a sensor; "
            "`finwatt doctor` says how to get measured ones.",
            markup=False,
        )


@app.command()
def runs(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List stored runs, newest first."""
    settings = cli_settings(db)
    with open_store(settings) as store:
        store.mark_stale_runs()
        records = store.list_runs()
    if as_json:
        emit_json(
            {
                "runs": [
                    {
                        "id": r.id,
                        "kind": r.kind,
                        "label": r.label,
                        "status": r.status,
                        "started": r.started,
                        "ended": r.ended,
                    }
                    for r in records
                ]
            }
        )
        return
    table = Table(title=f"Runs in {settings.db_path}")
    for column in ("id", "kind", "label", "status", "started", "ended"):
        table.add_column(column)
    for r in records:
        table.add_row(r.id, r.kind, r.label or "", r.status, r.started, r.ended or "")
    out.print(table)


@app.command("run")
def run_command(
    workload: Annotated[
        list[str] | None, typer.Argument(help="Workloads: risk, inference, ledger (default all).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, gpu, all or gpu:N.")] = "all",
    levels: Annotated[
        str | None, typer.Option(help="Target loads, e.g. 1,0.9,...,0.1,0 (0 = active idle).")
    ] = None,
    phase_seconds: Annotated[
        str | None, typer.Option(help="Length of each load level (default 60s; quick 4s).")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Levels 100%, 50%, idle of a few seconds: indicative.")
    ] = False,
    size: Annotated[str, typer.Option(help="Workload size: small, standard, large.")] = "standard",
    interval: Annotated[
        str | None, typer.Option(help="Sampling interval (default 1s; quick 0.25s).")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label stored with the run.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    live_view: Annotated[
        bool, typer.Option("--live", help="Show the live view while the run goes on.")
    ] = False,
    country: CountryOption = None,
    region: RegionOption = None,
    carbon_intensity: IntensityOption = None,
    pue: PueOption = None,
    price_per_kwh: PriceOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Profile workloads on every device: calibrate, load ladder, energy per unit of work."""
    from profiler.analysis.profile import summarise_ladders
    from profiler.capture.runner import DEFAULT_LEVELS, QUICK_LEVELS, RunPlan, run_profile
    from profiler.cli.run_view import RunProgress, phase_table, summary_table
    from workloads import WORKLOADS
    from workloads.base import WorkloadError, parse_size

    names = tuple(workload or WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise typer.BadParameter(
            f"unknown workload {unknown[0]!r}: choose from {', '.join(WORKLOADS)}",
            param_hint="WORKLOAD",
        )
    try:
        size_value = parse_size(size).value
    except WorkloadError as err:
        raise typer.BadParameter(str(err), param_hint="--size") from err
    level_list = parse_levels(levels) if levels else (QUICK_LEVELS if quick else DEFAULT_LEVELS)
    phase_s = (
        parse_seconds(phase_seconds, "--phase-seconds")
        if phase_seconds
        else (4.0 if quick else 60.0)
    )
    interval_s = parse_seconds(interval, "--interval") if interval else (0.25 if quick else 1.0)
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    site = site_options(country, carbon_intensity, pue, price_per_kwh, region)
    settings = cli_settings(db)
    sensors = probe(settings)
    try:
        devices = resolve_devices(device, sensors)
        open_store(settings).close()
    except (typer.BadParameter, typer.Exit):
        sensors.close()
        raise
    plan = RunPlan(
        workloads=names,
        devices=devices,
        levels=level_list,
        phase_seconds=phase_s,
        calibration_interval_s=1.0 if quick else min(10.0, phase_s),
        size=size_value,
        interval_s=interval_s,
        quick=quick,
    )
    cpu_devices = [d.device_id for d in sensors.devices if d.kind == "cpu"]
    run_lock = take_run_lock(settings, sensors)
    live_state = None
    if live_view:
        from profiler.live.view import LiveState, Rates

        live_state = LiveState(
            sensors.devices,
            interval_s=interval_s,
            families=sensors.family_devices,
            rates=Rates.from_site(site, code=region or country or grid_code(settings)),
        )
    recording = Recording(
        settings.db_path,
        sensors,
        kind="profile",
        interval_s=interval_s,
        label=label,
        config=plan.as_config(),
        sinks=[live_state.consume] if live_state is not None else [],
    )
    per_pair_s = 3 * plan.calibration_interval_s + len(plan.levels) * plan.phase_seconds
    total_s = per_pair_s * len(plan.workloads) * len(plan.devices)
    interrupted = False
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        if live_state is not None:
            from profiler.live.view import live_display
            from profiler.workflows.profile_watch import ProfileWatch

            with live_display(live_state, err_console, ProfileWatch(settings.db_path)):
                run_profile(recording, plan, cpu_devices=cpu_devices)
        elif as_json:
            run_profile(recording, plan, cpu_devices=cpu_devices)
        else:
            err_console.print(
                f"profiling run {recording.run_id}: {', '.join(plan.workloads)} on "
                f"{', '.join(plan.devices)}, levels {', '.join(f'{x:.0%}' for x in plan.levels)}, "
                f"{plan.phase_seconds:g}s each",
                markup=False,
            )
            with RunProgress(err_console, total_s) as view:
                run_profile(recording, plan, cpu_devices=cpu_devices, progress=view)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        run_lock.release()
    with Store(settings.db_path) as store:
        run = store.get_run(recording.run_id)
        phases = store.phases(recording.run_id)
    assert run is not None
    summaries = summarise_ladders(phases)
    report_path = None
    if report is not None:
        from profiler.workflows.report import report_run

        try:
            with Store(settings.db_path) as store:
                report_path = str(report_run(store, run, site, report))  # site set above
        except OSError as err:
            fail(f"the run is stored ({run.id}) but the report could not be written: {err}")
    if as_json:
        emit_json(
            {
                "run": run.id,
                "status": run.status,
                "quick": quick,
                "phases": [phase_json(p) for p in phases],
                "summary": [s.as_dict() for s in summaries],
                "report": report_path,
            }
        )
    else:
        out.print(phase_table(phases))
        out.print(summary_table(summaries, quick=quick))
        out.print(f"run {run.id}: {run.status}", markup=False)
        if report_path:
            out.print(f"report: {report_path}", markup=False)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt so the run unwinds and is kept."""
    raise KeyboardInterrupt
