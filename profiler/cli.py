"""The `finwatt` command line: parses, calls the modules, prints. Nothing else lives here.

Exit codes (design.md): 0 success, 1 runtime failure, 2 bad usage or bad input, 130
interrupted (data kept). With `--json` a command prints exactly one JSON document on
stdout; messages go to stderr.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from profiler.analysis.summary import DeviceSummary, summarise_run
from profiler.config import ConfigError, Settings, load_settings
from profiler.durations import parse_duration
from profiler.recording import Recording
from profiler.sampler import check_interval
from profiler.sensors.base import is_estimate
from profiler.sensors.probe import SensorSet, probe_sensors
from profiler.store import Store, StoreError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="finwatt",
    help="Energy profiler for financial compute: where capacity idles and burns power.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="SQLite database (default $FINWATT_DB, else XDG data dir)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
CountryOption = Annotated[
    str | None, typer.Option(help="Site country, ISO 3166 alpha-3 (e.g. GBR), for CO2e.")
]
IntensityOption = Annotated[
    float | None, typer.Option(help="Grid intensity in g CO2e/kWh (instead of --country).")
]
PueOption = Annotated[float | None, typer.Option(help="Site PUE (default 1.0).")]
PrometheusOption = Annotated[
    str | None,
    typer.Option(help="The fleet a Prometheus scrapes, e.g. http://prom:9090 (--since 14d)."),
]
StepOption = Annotated[
    str | None, typer.Option(help="With --prometheus: resolution of the series (5m).")
]
MatchOption = Annotated[
    str | None, typer.Option(help='With --prometheus: series selector ({job="finwatt"}).')
]
RegionOption = Annotated[
    str | None,
    typer.Option(help="Sub-national grid data instead of --country: CN-BJ, US-NY, SE3 ..."),
]
PriceOption = Annotated[float | None, typer.Option(help="Tariff per kWh, in your currency.")]

# typer 0.2x vendors click, so `click.UsageError` is not what its parser raises; the
# class is the `UsageError` base of typer's public BadParameter, on old and new typer.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)

out = Console()
err_console = Console(stderr=True)


@app.callback()
def _global_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Config file (default $XDG_CONFIG_HOME/finwatt/config.toml)."
        ),
    ] = None,
) -> None:
    """Energy profiler for financial compute: where capacity idles and burns power."""
    from profiler.config import use_config_file

    use_config_file(config)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print a one-line error to stderr and exit with `code`."""
    _error_line(message)
    raise typer.Exit(code)


def _error_line(message: str) -> None:
    # Plain write, not rich: an error must stay one line whatever the terminal width.
    print(f"finwatt: error: {' '.join(message.split())}", file=sys.stderr)


def _settings(db: Path | None) -> Settings:
    try:
        return load_settings(db)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)


def _open_store(settings: Settings) -> Store:
    try:
        return Store(settings.db_path)
    except StoreError as err:
        fail(str(err), EXIT_USAGE)


def _probe(settings: Settings) -> SensorSet:
    return probe_sensors(
        sysfs_root=settings.sysfs_root,
        cpu_tdp_w=settings.cpu_tdp_w,
        cpu_idle_ratio=settings.cpu_idle_ratio,
    )


def _emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def _pct(fraction: float | None, spec: str) -> str:
    """Format a 0..1 fraction as a percentage; a real 0 shows as 0%, only None as n/a."""
    return _fmt(None if fraction is None else fraction * 100, spec, "%")


def _provenance_label(provenance: str | None) -> str:
    if provenance is None:
        return "-"
    return f"{provenance} (ESTIMATE)" if is_estimate(provenance) else provenance


@app.command()
def doctor(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the sensors and devices found, their provenance, and how to get more."""
    settings = _settings(db)
    sensors = _probe(settings)
    try:
        families = [
            {"family": a.family, "state": a.state.value, "reason": a.reason, "fix": a.fix}
            for a in sensors.availability
        ]
        devices = list(sensors.devices)
    finally:
        sensors.close()
    if as_json:
        _emit_json(
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
        mem_gib = d.mem_total_bytes / 2**30 if d.mem_total_bytes is not None else None
        dev_table.add_row(
            d.device_id,
            d.model or "",
            _fmt(d.logical_cores, "d"),
            _fmt(mem_gib, ".1f", " GiB"),
            _fmt(d.power_limit_w, ".1f", " W"),
            _provenance_label(d.provenance),
        )
    out.print(dev_table)
    out.print(f"database: {settings.db_path}", markup=False)


class _StopSignal:
    """Turns SIGINT/SIGTERM into a stop request so the run is flushed and kept."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignal:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _parse_seconds(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=option) from err


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
    duration_s = _parse_seconds(duration, "--duration") if duration is not None else None
    interval_s = _parse_seconds(interval, "--interval")
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    settings = _settings(db)
    _open_store(settings).close()
    sensors = _probe(settings)
    config = {"command": "monitor", "duration_s": duration_s, "interval_s": interval_s}
    exporter = _start_exporter(sensors.devices, "127.0.0.1", port) if serve else None
    with _StopSignal() as stop:
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
        _emit_json(
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
            _pct(s.util_mean, ".1f"),
            _pct(s.util_p95, ".1f"),
            _fmt(s.energy_j, ".1f", " J"),
            _fmt(s.mean_power_w, ".2f", " W"),
            _provenance_label(s.provenance) + ("" if s.status == "ok" else f" [{s.status}]"),
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
    settings = _settings(db)
    with _open_store(settings) as store:
        store.mark_stale_runs()
        records = store.list_runs()
    if as_json:
        _emit_json(
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


def _site(
    country: str | None,
    carbon_intensity: float | None,
    pue: float | None,
    price_per_kwh: float | None,
    region: str | None = None,
) -> Any:
    """Resolve the site options; what the command line leaves out comes from `[defaults]`.

    The grid source (country, region or intensity) is taken as a whole: any one of them
    on the command line replaces the configured one.
    """
    from profiler.carbon import SiteError, make_site

    defaults = _settings(None).site
    if country is None and region is None and carbon_intensity is None:
        country, region = defaults.country, defaults.region
        carbon_intensity = defaults.carbon_intensity
    try:
        return make_site(
            country=country,
            region=region,
            carbon_intensity=carbon_intensity,
            pue=defaults.pue if pue is None else pue,
            price_per_kwh=defaults.price_per_kwh if price_per_kwh is None else price_per_kwh,
        )
    except SiteError as err:
        fail(str(err), EXIT_USAGE)


def _grid_code(settings: Settings) -> str | None:
    return settings.site.region or settings.site.country


def _start_exporter(devices: Any, host: str, port: int) -> tuple[Any, Any]:
    """Start serving `/metrics` for `devices`; return (collector, server). Fails in one line."""
    from profiler.exporter import FinwattCollector, MetricsServer, is_loopback, make_registry
    from profiler.store import finwatt_version

    if not 0 <= port <= 65535:
        fail(f"--port {port}: use 1 to 65535 (0 picks a free port)", EXIT_USAGE)
    collector = FinwattCollector(devices, finwatt_version())
    try:
        server = MetricsServer(make_registry(collector), host, port)
    except OSError as err:
        reason = err.strerror or str(err)
        fail(f"cannot serve metrics on {host}:{port}: {reason}; choose another --port/--host")
    if not is_loopback(host):
        print(
            f"finwatt: warning: serving metrics on {host}:{server.port}, reachable from other "
            "machines; the default --host 127.0.0.1 keeps them on this one",
            file=sys.stderr,
        )
    return collector, server


RUN_LOCK_WAIT_S = 10.0
"""How long `finwatt run` waits for another run (or the scheduler's) to finish."""


def _take_run_lock(settings: Settings, sensors: SensorSet) -> Any:
    """Hold the database's run lock (profiler.runlock), or fail naming its holder."""
    from profiler.runlock import FileLock, LockHeldError, run_lock_path

    lock = FileLock(run_lock_path(settings.db_path), "finwatt run")
    try:
        lock.acquire(
            wait_s=RUN_LOCK_WAIT_S,
            on_wait=lambda holder: err_console.print(
                f"waiting up to {RUN_LOCK_WAIT_S:g}s for {holder}", markup=False
            ),
        )
    except LockHeldError as err:
        sensors.close()
        fail(f"cannot start the run: {err}", EXIT_FAILURE)
    return lock


def _parse_levels(text: str) -> tuple[float, ...]:
    try:
        levels = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise typer.BadParameter(
            f"{text!r} is not a list of loads: use e.g. 1,0.5,0", param_hint="--levels"
        ) from err
    bad = [level for level in levels if not 0.0 <= level <= 1.0]
    if not levels or bad:
        raise typer.BadParameter(
            f"loads must be between 0 and 1 (got {text!r})", param_hint="--levels"
        )
    # descending, active idle (0) last, each level once
    return tuple(sorted(set(levels), reverse=True))


def _resolve_devices(choice: str, sensors: SensorSet) -> tuple[str, ...]:
    gpus = [d.device_id for d in sensors.devices if d.kind == "gpu"]
    nvml = next((a for a in sensors.availability if a.family == "nvml"), None)
    why = f"{nvml.reason}" + (f"; {nvml.fix}" if nvml and nvml.fix else "") if nvml else ""
    if choice == "cpu":
        return ("cpu",)
    if choice == "all":
        return ("cpu", *gpus)
    if choice == "gpu":
        if not gpus:
            raise typer.BadParameter(f"no GPU available: {why}", param_hint="--device")
        return tuple(gpus)
    if choice.startswith("gpu:"):
        if choice not in gpus:
            found = ", ".join(gpus) or f"none ({why})"
            raise typer.BadParameter(f"no {choice}; GPUs found: {found}", param_hint="--device")
        return (choice,)
    raise typer.BadParameter(
        f"{choice!r} is not a device: use cpu, gpu, all or gpu:N", param_hint="--device"
    )


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
    from profiler.run_view import RunProgress, phase_table, summary_table
    from profiler.runner import DEFAULT_LEVELS, QUICK_LEVELS, RunPlan, run_profile
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
    level_list = _parse_levels(levels) if levels else (QUICK_LEVELS if quick else DEFAULT_LEVELS)
    phase_s = (
        _parse_seconds(phase_seconds, "--phase-seconds")
        if phase_seconds
        else (4.0 if quick else 60.0)
    )
    interval_s = _parse_seconds(interval, "--interval") if interval else (0.25 if quick else 1.0)
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    site = _site(country, carbon_intensity, pue, price_per_kwh, region)
    settings = _settings(db)
    sensors = _probe(settings)
    try:
        devices = _resolve_devices(device, sensors)
        _open_store(settings).close()
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
    run_lock = _take_run_lock(settings, sensors)
    live_state = None
    if live_view:
        from profiler.live import LiveState, Rates

        live_state = LiveState(
            sensors.devices,
            interval_s=interval_s,
            families=sensors.family_devices,
            rates=Rates.from_site(site, code=region or country or _grid_code(settings)),
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
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if live_state is not None:
            from profiler.live import live_display
            from profiler.profile_watch import ProfileWatch

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
        from profiler.reporting import report_run

        try:
            with Store(settings.db_path) as store:
                report_path = str(report_run(store, run, site, report))  # site set above
        except OSError as err:
            fail(f"the run is stored ({run.id}) but the report could not be written: {err}")
    if as_json:
        _emit_json(
            {
                "run": run.id,
                "status": run.status,
                "quick": quick,
                "phases": [_phase_json(p) for p in phases],
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


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _phase_json(p: Any) -> dict[str, Any]:
    d = p.details
    return {
        "workload": p.workload,
        "device": p.device_id,
        "target_load": p.target_load,
        "achieved_load": p.achieved_load,
        "valid": p.valid,
        "seconds": d.get("seconds"),
        "units": p.units,
        "unit": p.unit,
        "units_per_s": d.get("units_per_s"),
        "energy_j": d.get("energy_j"),
        "mean_power_w": d.get("mean_power_w"),
        "units_per_j": d.get("units_per_j"),
        "j_per_1000_units": d.get("j_per_1000_units"),
        "cpu_share": d.get("cpu_share"),
        "coverage": d.get("coverage"),
        "provenance": d.get("provenance"),
        "host_cpu_energy_j": d.get("host_cpu_energy_j"),
        "units_per_j_incl_host": d.get("units_per_j_incl_host"),
        "invalid_reasons": d.get("invalid_reasons"),
        "error": d.get("error"),
    }


# The command groups live in their own modules; importing them registers their commands
# on `app` (they import the shared options and helpers above from this module).
from profiler import cli_analysis, cli_data, cli_live, cli_schedule  # noqa: E402, F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `finwatt` console script: one-line errors, design exit codes."""
    logging.basicConfig(format="finwatt: warning: %(message)s", level=logging.WARNING)
    try:
        code = app(args=argv, standalone_mode=False)
    except UsageError as err:
        _error_line(str(err.format_message()))  # type: ignore[attr-defined]
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except StoreError as err:
        _error_line(str(err))
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
