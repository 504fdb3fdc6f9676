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
            _fmt(s.util_mean and s.util_mean * 100, ".1f", "%"),
            _fmt(s.util_p95 and s.util_p95 * 100, ".1f", "%"),
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


@app.command()
def live(
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "1s",
    once: Annotated[
        bool, typer.Option(help="Print one frame to stdout after two reads, then exit.")
    ] = False,
    record: Annotated[
        bool, typer.Option(help="Also store a monitor run while the view shows.")
    ] = False,
    country: CountryOption = None,
    region: RegionOption = None,
    carbon_intensity: IntensityOption = None,
    pue: PueOption = None,
    price_per_kwh: PriceOption = None,
    db: DbOption = None,
) -> None:
    """Full-screen live view of every device's power, utilisation, energy and waste."""
    from profiler.live import LiveState, Rates, run_live, show_once
    from profiler.profile_watch import ProfileWatch
    from profiler.sampler import Sampler

    interval_s = _parse_seconds(interval, "--interval")
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    site = _site(country, carbon_intensity, pue, price_per_kwh, region)
    rates = Rates.from_site(site, code=region or country or _grid_code(_settings(db)))
    settings = _settings(db)
    sensors = _probe(settings)
    state = LiveState(
        sensors.devices, interval_s=interval_s, families=sensors.family_devices, rates=rates
    )
    source: Recording | Sampler
    try:
        if record:
            config = {"command": "live", "interval_s": interval_s}
            source = Recording(
                settings.db_path,
                sensors,
                kind="monitor",
                interval_s=interval_s,
                config=config,
                sinks=[state.consume],
            )
            state.recording_run_id = source.run_id
        else:
            source = Sampler(sensors.families, sensors.family_devices, interval_s, [state.consume])
        watch = ProfileWatch(settings.db_path)
        code = (
            show_once(state, source, out, profile=watch)
            if once
            else run_live(state, source, console=out, profile=watch)
        )
    finally:
        if not record:
            sensors.close()
    if code:
        raise typer.Exit(code)


EXPORT_FORMATS = ("json", "csv")


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
    import os
    import tempfile

    from profiler.interchange import write_csv, write_json

    if fmt == "parquet":
        fail("--format parquet is not supported in this version; use json or csv", EXIT_USAGE)
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use json or csv", param_hint="--format")
    writer = write_json if fmt == "json" else write_csv
    settings = _settings(db)
    with _open_store(settings) as store:
        if store.get_run(run_id) is None:
            fail(f"no run {run_id}; `finwatt runs` lists them", EXIT_USAGE)
        first_minute_t, _ = store.minute_span(run_id)
        first_raw = store.first_sample_t(run_id)
        if first_minute_t is not None and (first_raw is None or first_raw > first_minute_t + 60):
            print(
                f"finwatt: warning: run {run_id}'s raw samples before t={first_raw or 0:g}s were "
                "pruned by retention; the export holds only the raw samples that remain",
                file=sys.stderr,
            )
        try:
            if output is None:
                writer(store, run_id, sys.stdout)
                return
            # Write beside the target and rename: a failed export leaves no partial file.
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
            except OSError as err:
                fail(f"cannot write {output}: {err.strerror}", EXIT_USAGE)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                    count = writer(store, run_id, stream)
                umask = os.umask(0o022)
                os.umask(umask)
                Path(tmp).chmod(0o666 & ~umask)
                Path(tmp).replace(output)
            finally:
                Path(tmp).unlink(missing_ok=True)
        except ValueError as err:
            fail(f"cannot export run {run_id}: {err}")
    err_console.print(
        f"wrote run {run_id} ({count} samples) to {output}", markup=False, soft_wrap=True
    )


@app.command("import")
def import_command(
    file: Annotated[str, typer.Argument(help="Interchange JSON document; - reads stdin.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a run from the JSON interchange format and print its id."""
    from profiler.interchange import InterchangeError, import_run, parse_document

    name = "stdin" if file == "-" else file
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as err:
        fail(f"cannot read {file}: {err.strerror}", EXIT_USAGE)
    settings = _settings(db)
    with _open_store(settings) as store:
        try:
            run_id = import_run(store, parse_document(data), source=name)
        except InterchangeError as err:
            fail(f"{name}: {err}; nothing imported", EXIT_USAGE)
    if as_json:
        _emit_json({"run": run_id})
    else:
        out.print(f"imported run {run_id} from {name}", markup=False, soft_wrap=True)


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as err:
        raise typer.BadParameter(
            f"{text!r} is not a list of core counts: use e.g. 8,16,32,64", param_hint="--sizes"
        ) from err
    if not sizes or sizes[0] <= 0:
        raise typer.BadParameter(
            f"core counts must be positive (got {text!r})", param_hint="--sizes"
        )
    return sizes


def _evidence_line(evidence: dict[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        parts.append(f"{key}={value:.4g}")
        if len(parts) == 3:
            break
    return ", ".join(parts)


def _print_findings(document: dict[str, Any], assumptions: list[str]) -> None:
    window = document["metrics"]["window"]
    label = document["run"] or f"window {window['start']} to {window['end']}"
    table = Table(title=f"Findings for {label}, ranked by savings")
    for column in ("rule", "device", "saves/yr", "confidence", "finding", "evidence"):
        table.add_column(column, overflow="fold")
    for f in document["findings"]:
        s = f["savings"]
        saves = "-"
        if s:
            saves = f"{s['facility_kwh_per_year']['point']:,.1f} kWh"
            saves += f", {s['co2e_kg_per_year']['point']:,.1f} kg CO2e"
            if s["cost_per_year"]:
                saves += f", {s['cost_per_year']['point']:,.2f}"
        table.add_row(
            f["rule"],
            f["device"],
            saves,
            f["confidence"],
            f["message"],
            _evidence_line(f["evidence"]),
        )
    out.print(table)
    if not document["findings"]:
        out.print("no findings", markup=False)
    out.print("Assumptions:", markup=False)
    for line in assumptions:
        out.print(f"  - {line}", markup=False)


@app.command()
def analyze(
    run_id: Annotated[
        str | None, typer.Argument(help="Run to analyse (default: the newest run).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Analyse all monitoring runs of this host in the window, e.g. 7d."),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Host whose runs --since covers (default: this machine).")
    ] = None,
    country: CountryOption = None,
    region: RegionOption = None,
    carbon_intensity: IntensityOption = None,
    pue: PueOption = None,
    price_per_kwh: PriceOption = None,
    mode: Annotated[
        str, typer.Option(help="Right-sizing mode: production (P95/0.65) or conservative.")
    ] = "production",
    min_span: Annotated[
        str | None, typer.Option(help="Shortest span for idle/right-sizing findings (7d).")
    ] = None,
    min_hours: Annotated[
        float | None, typer.Option(help="Fewest hours of valid data for them (30).")
    ] = None,
    sizes: Annotated[
        str | None, typer.Option(help="CPU size catalogue in cores, e.g. 8,16,32,64.")
    ] = None,
    prometheus: PrometheusOption = None,
    step: StepOption = None,
    match: MatchOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find idle, oversized and inefficient capacity and what fixing it saves per year."""
    import dataclasses

    from profiler.analysis.thresholds import Thresholds
    from profiler.analyze import AnalyzeError, analyze_run, analyze_since, resolve_run
    from profiler.analyze import store_findings as keep_findings

    if run_id is not None and since is not None:
        fail("RUN_ID and --since: give one or the other, not both", EXIT_USAGE)
    if mode not in ("production", "conservative"):
        fail(f"--mode {mode!r}: use production or conservative", EXIT_USAGE)
    if min_hours is not None and min_hours < 0:
        fail(f"--min-hours must be >= 0, got {min_hours:g}", EXIT_USAGE)
    since_s = _parse_seconds(since, "--since") if since is not None else None
    thresholds = Thresholds(mode="conservative" if mode == "conservative" else "production")
    if min_span is not None:
        thresholds = dataclasses.replace(
            thresholds, min_span_s=_parse_seconds(min_span, "--min-span")
        )
    if min_hours is not None:
        thresholds = dataclasses.replace(thresholds, min_valid_hours=min_hours)
    if sizes is not None:
        thresholds = dataclasses.replace(thresholds, cpu_sizes=_parse_sizes(sizes))
    site = _site(country, carbon_intensity, pue, price_per_kwh, region)
    if prometheus is not None or step is not None or match is not None:
        _analyze_prometheus(prometheus, run_id, since_s, step, match, site, thresholds, as_json)
        return
    settings = _settings(db)
    with _open_store(settings) as store:
        store.mark_stale_runs()
        try:
            if since_s is not None:
                result = analyze_since(store, since_s, site, thresholds, host=host)
            else:
                result = analyze_run(store, resolve_run(store, run_id), site, thresholds)
        except AnalyzeError as err:
            fail(str(err), EXIT_USAGE)
        keep_findings(store, result)
    document = result.as_dict()
    if as_json:
        _emit_json(document)
    else:
        _print_findings(document, result.assessment.assumptions)


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


@app.command()
def report(
    run_id: Annotated[str | None, typer.Argument(help="Run to report (default: newest).")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Report a window across runs instead, e.g. 30d: findings, trend."),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Host whose runs --since covers (default: this one).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="HTML file (default finwatt-report-<run>.html)."),
    ] = None,
    prometheus: PrometheusOption = None,
    step: StepOption = None,
    match: MatchOption = None,
    country: CountryOption = None,
    region: RegionOption = None,
    carbon_intensity: IntensityOption = None,
    pue: PueOption = None,
    price_per_kwh: PriceOption = None,
    db: DbOption = None,
) -> None:
    """Write a self-contained HTML efficiency report of a run and print its path."""
    from profiler.analyze import AnalyzeError, resolve_run
    from profiler.reporting import report_run, report_window

    if run_id is not None and since is not None:
        fail("RUN_ID and --since: give one or the other, not both", EXIT_USAGE)
    since_s = _parse_seconds(since, "--since") if since is not None else None
    site = _site(country, carbon_intensity, pue, price_per_kwh, region)
    if prometheus is not None:
        if run_id is not None:
            fail("RUN_ID and --prometheus: give one or the other, not both", EXIT_USAGE)
        from profiler.analysis.thresholds import Thresholds
        from reports.render import render_fleet_html

        document, assumptions = _fleet_document(
            prometheus, since_s, step, match, site, Thresholds()
        )
        target = output or Path.cwd() / "finwatt-fleet-report.html"
        html = render_fleet_html(
            source=prometheus, document=document, assumptions=assumptions, site=site
        )
        try:
            target.write_text(html, encoding="utf-8")
        except OSError as err:
            fail(f"cannot write the report: {err}", EXIT_FAILURE)
        print(target)
        return
    if step is not None or match is not None:
        fail("--step and --match apply to --prometheus URL only", EXIT_USAGE)
    settings = _settings(db)
    if not settings.db_path.exists():
        fail(f"no database at {settings.db_path}; record a run first (finwatt run --quick)", 2)
    with _open_store(settings) as store:
        store.mark_stale_runs()
        if since_s is not None:
            try:
                print(report_window(store, since_s, site, output, host=host))
            except OSError as err:
                fail(f"cannot write the report: {err}", EXIT_FAILURE)
            return
        try:
            run = resolve_run(store, run_id)
        except AnalyzeError as err:
            fail(str(err), EXIT_USAGE)
        try:
            path = report_run(store, run, site, output)
        except OSError as err:
            fail(f"cannot write the report: {err}", EXIT_FAILURE)
    print(path)


def _analyze_prometheus(
    url: str | None,
    run_id: str | None,
    since_s: float | None,
    step: str | None,
    match: str | None,
    site: Any,
    thresholds: Any,
    as_json: bool,
) -> None:
    """`finwatt analyze --prometheus URL`: the fleet a Prometheus scrapes (profiler.fleet)."""
    if url is None:
        fail("--step and --match apply to --prometheus URL only", EXIT_USAGE)
    if run_id is not None:
        fail("RUN_ID and --prometheus: give one or the other, not both", EXIT_USAGE)
    document, assumptions = _fleet_document(url, since_s, step, match, site, thresholds)
    if as_json:
        _emit_json(document)
    else:
        _print_findings(document, assumptions)


def _fleet_document(
    url: str,
    since_s: float | None,
    step: str | None,
    match: str | None,
    site: Any,
    thresholds: Any,
) -> tuple[dict[str, Any], list[str]]:
    """Read and assess the fleet a Prometheus scrapes; one-line errors (1, or 2 for usage)."""
    import time

    from profiler.analyze import iso_utc
    from profiler.fleet import (
        DEFAULT_MATCH,
        FleetError,
        FleetOptions,
        FleetUsageError,
        analyze_prometheus,
    )

    options = FleetOptions(
        url=url,
        since_s=since_s if since_s is not None else 14 * 86_400.0,
        step_s=_parse_seconds(step, "--step") if step is not None else 300.0,
        match=match if match is not None else DEFAULT_MATCH,
    )
    try:
        result = analyze_prometheus(options, site, thresholds, now_s=time.time())
    except FleetUsageError as err:
        fail(str(err), EXIT_USAGE)
    except FleetError as err:
        fail(str(err), EXIT_FAILURE)
    return result.as_dict(iso_utc), result.assumptions


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


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback by default; others warn).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of /metrics.")] = 9464,
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "1s",
    db: DbOption = None,
) -> None:
    """Serve live sensor readings to Prometheus at /metrics until Ctrl-C or SIGTERM.

    Stopping a server is its normal end, so Ctrl-C and SIGTERM exit 0 (nothing is stored,
    nothing is lost). `--db` only locates the settings; use `finwatt monitor --serve` to
    record while serving.
    """
    from profiler.sampler import Sampler

    interval_s = _parse_seconds(interval, "--interval")
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    settings = _settings(db)
    sensors = _probe(settings)
    try:
        with _StopSignal() as stop:
            collector, server = _start_exporter(sensors.devices, host, port)
            sampler = Sampler(
                sensors.families, sensors.family_devices, interval_s, [collector.observe]
            )
            sampler.start()
            print(
                f"finwatt: serving http://{host}:{server.port}/metrics, sampling every "
                f"{interval_s:g}s; Ctrl-C stops",
                file=sys.stderr,
            )
            try:
                stop.event.wait()
            finally:
                sampler.stop()
                server.close()
    finally:
        sensors.close()


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
    from profiler.config import use_config_file

    if config is not None:
        use_config_file(config)
    return _settings(db)


def _iso_z(moment: Any) -> str:
    return str(moment.isoformat(timespec="seconds")).replace("+00:00", "Z")


@schedule_app.command("list")
def schedule_list(
    config: ConfigOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Show each entry with its next three fire times, last run and status."""
    from datetime import UTC, datetime

    from profiler.schedule import upcoming
    from profiler.schedule_state import ScheduleStateError, StateFile, state_path

    settings = _schedule_settings(config, db)
    try:
        book = StateFile(state_path(settings.db_path))
    except ScheduleStateError as err:
        fail(str(err), EXIT_FAILURE)
    states = book.states()
    now = datetime.now(UTC)
    rows = []
    for entry in settings.schedules:
        record = book.entry(entry.name)
        rows.append(
            {
                **entry.as_dict(),
                "trigger": entry.trigger,
                "next": [_iso_z(t) for t in upcoming(entry, states.get(entry.name), now)],
                "last_run": record.get("last_run"),
                "last_fire": record.get("last_fire"),
                "skipped_total": record.get("skipped_total", 0),
            }
        )
    if as_json:
        _emit_json(
            {"config": str(settings.config_file), "db": str(settings.db_path), "entries": rows}
        )
        return
    table = Table(title=f"Schedule in {settings.config_file}")
    for column in ("name", "trigger", "action", "next fire times (UTC)", "last run", "skipped"):
        table.add_column(column, overflow="fold")
    for row in rows:
        last = row["last_run"]
        last_text = "never" if not last else f"{last['status']} {last['run'] or ''}".strip()
        table.add_row(
            row["name"],
            row["trigger"],
            row["action"],
            "\n".join(row["next"]),
            last_text,
            str(row["skipped_total"]),
        )
    out.print(table)
    if not rows:
        out.print("no [[schedule]] entries; add one with `finwatt schedule add`", markup=False)


@schedule_app.command("add")
def schedule_add(
    name: Annotated[str, typer.Argument(help="Entry name (letters, digits, _ . -).")],
    action: Annotated[str, typer.Option(help="run (profiling) or monitor.")],
    cron: Annotated[str | None, typer.Option(help="5-field cron, UTC, e.g. '0 2 * * *'.")] = None,
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
    grace_period: Annotated[
        str | None, typer.Option(help="How late a missed fire may still run (default 1h).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Add a [[schedule]] entry to the config file, keeping its comments and layout."""
    from profiler.config import config_path, use_config_file
    from profiler.schedule_edit import add_entry

    if config is not None:
        use_config_file(config)
    table: dict[str, Any] = {
        "name": name,
        "cron": cron,
        "every": every,
        "action": action,
        "workloads": list(workload) if workload else None,
        "levels": list(_parse_levels(levels)) if levels else None,
        "phase_seconds": phase_seconds,
        "size": size,
        "device": device,
        "duration": duration,
        "interval": interval,
        "report": report,
        "analyze": True if analyze else None,
        "grace_period": grace_period,
    }
    path = config_path()
    try:
        entry = add_entry(path, table)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    print(f"added {entry.name} ({entry.trigger}, {entry.action}) to {path}")


@schedule_app.command("remove")
def schedule_remove(
    name: Annotated[str, typer.Argument(help="Entry to remove.")], config: ConfigOption = None
) -> None:
    """Remove a [[schedule]] entry from the config file, keeping the rest as it was."""
    from profiler.config import config_path, use_config_file
    from profiler.schedule_edit import remove_entry

    if config is not None:
        use_config_file(config)
    path = config_path()
    try:
        remove_entry(path, name)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    print(f"removed {name} from {path}")


def _scheduler(settings: Settings, *, once: bool) -> list[Any]:
    from profiler.schedule_actions import SchedulerBusyError, run_scheduler
    from profiler.schedule_state import ScheduleStateError

    if not settings.schedules:
        fail(
            f"{settings.config_file}: no [[schedule]] entries; add one with `finwatt schedule add`",
            EXIT_USAGE,
        )
    _open_store(settings).close()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s finwatt %(levelname)s: %(message)s"))
    logger = logging.getLogger("profiler")
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        return run_scheduler(settings, once=once)
    except (SchedulerBusyError, ScheduleStateError) as err:
        fail(str(err), EXIT_FAILURE)
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
    settings = _schedule_settings(config, db)
    if not serve_metrics:
        _scheduler(settings, once=False)
        return
    from profiler.sampler import Sampler

    sensors = _probe(settings)
    collector, server = _start_exporter(sensors.devices, "127.0.0.1", port)
    sampler = Sampler(sensors.families, sensors.family_devices, 1.0, [collector.observe])
    sampler.start()
    try:
        _scheduler(settings, once=False)
    finally:
        sampler.stop()
        server.close()
        sensors.close()


@schedule_app.command("run-due")
def schedule_run_due(
    config: ConfigOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Run whatever is due now, once, and exit (for cron and systemd timers).

    Exit 1 when an action failed or another scheduler holds the database.
    """
    results = _scheduler(_schedule_settings(config, db), once=True)
    if as_json:
        _emit_json(
            {
                "results": [
                    {
                        "name": r.name,
                        "fire_time": _iso_z(r.fire_time),
                        "status": r.status,
                        "run": r.run_id,
                        "message": r.message,
                    }
                    for r in results
                ]
            }
        )
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def trend(
    since: Annotated[str, typer.Option(help="Window, e.g. 30d.")] = "30d",
    host: Annotated[str | None, typer.Option(help="Only runs of this host.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Units/J per workload and device over time, daily energy, and regressions (> 10%)."""
    from profiler.trend import gather_trend

    since_s = _parse_seconds(since, "--since")
    settings = _settings(db)
    with _open_store(settings) as store:
        result = gather_trend(store, since_s, host=host)
    if as_json:
        _emit_json(result.as_dict())
        return
    table = Table(
        title=f"Units per joule at 100% load, {result.window_start} to {result.window_end}"
    )
    for column in ("workload", "device", "size", "runs", "latest", "median before", "change", ""):
        table.add_column(column, justify="left" if column in ("workload", "device") else "right")
    for s in result.series:
        p = s.latest
        table.add_row(
            s.workload,
            s.device,
            s.size,
            str(len(s.points)),
            f"{p.units_per_j:.4g}",
            _fmt(p.baseline_units_per_j, ".4g"),
            _fmt(p.change and p.change * 100, "+.1f", "%"),
            "REGRESSION" if p.regression else "",
        )
    out.print(table)
    energy = Table(title="Daily energy (UTC days)")
    for column in ("day", "energy", "source"):
        energy.add_column(column)
    for d in result.daily_energy:
        energy.add_row(
            d.day, f"{d.energy_j / 3_600_000:.4f} kWh", "ESTIMATE" if d.estimated else "measured"
        )
    out.print(energy)
    for s, p in result.regressions:
        out.print(
            f"REGRESSION: {s.workload} on {s.device} ({s.size}) run {p.run_id}: "
            f"{p.units_per_j:.4g} units/J, {-(p.change or 0) * 100:.1f}% below the median "
            f"of {p.baseline_runs} earlier run(s)",
            markup=False,
        )


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
    from profiler.retention import db_stats

    settings = _settings(db)
    if not settings.db_path.exists():
        fail(f"no database at {settings.db_path}; record a run first (finwatt run --quick)", 2)
    try:
        stats = db_stats(settings.db_path)
    except StoreError as err:
        fail(str(err), EXIT_USAGE)
    if as_json:
        _emit_json(stats.as_dict())
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
    from profiler.retention import prune

    raw_s = _parse_seconds(keep_raw, "--keep-raw")
    rollup_s = _parse_seconds(keep_rollups, "--keep-rollups")
    if rollup_s < raw_s:
        fail(f"--keep-rollups {keep_rollups} is shorter than --keep-raw {keep_raw}", EXIT_USAGE)
    settings = _settings(db)
    if not settings.db_path.exists():
        fail(f"no database at {settings.db_path}; nothing to prune", EXIT_USAGE)
    try:
        result = prune(
            settings.db_path, keep_raw_days=raw_s / 86_400, keep_rollup_days=rollup_s / 86_400
        )
    except StoreError as err:
        fail(str(err), EXIT_USAGE)
    if as_json:
        _emit_json(result.as_dict())
        return
    out.print(
        f"deleted {result.raw_samples_deleted:,} raw samples before {result.raw_cutoff} and "
        f"{result.rollup_rows_deleted:,} minute rollups before {result.rollup_cutoff} "
        f"from {len(result.runs_pruned)} run(s)",
        markup=False,
    )


app.add_typer(db_app, name="db")


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
