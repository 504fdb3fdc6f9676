"""The `finwatt` command line: parses, calls the modules, prints. Nothing else lives here.

Exit codes (design.md): 0 success, 1 runtime failure, 2 bad usage or bad input, 130
interrupted (data kept). With `--json` a command prints exactly one JSON document on
stdout; messages go to stderr.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from profiler.model.durations import parse_duration
from profiler.model.errors import ConfigError
from profiler.model.provenance import is_estimate
from profiler.sensors.probe import SensorSet, probe_sensors
from profiler.settings.config import Settings, load_settings
from profiler.store.database import Store, StoreError

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
    from profiler.settings.config import use_config_file

    use_config_file(config)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print a one-line error to stderr and exit with `code`."""
    error_line(message)
    raise typer.Exit(code)


def error_line(message: str) -> None:
    """Print `message` as one `finwatt: error:` line on stderr."""
    # Plain write, not rich: an error must stay one line whatever the terminal width.
    print(f"finwatt: error: {' '.join(message.split())}", file=sys.stderr)


def cli_settings(db: Path | None) -> Settings:
    """Load this command's settings once; a bad setting exits 2 with its message."""
    try:
        return load_settings(db)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)


def open_store(settings: Settings) -> Store:
    """Open the database named by `settings`; an unusable one exits 2."""
    try:
        return Store(settings.db_path)
    except StoreError as err:
        fail(str(err), EXIT_USAGE)


def probe(settings: Settings) -> SensorSet:
    """Probe every sensor family with the settings' sysfs root and CPU model values."""
    return probe_sensors(
        sysfs_root=settings.sysfs_root,
        cpu_tdp_w=settings.cpu_tdp_w,
        cpu_idle_ratio=settings.cpu_idle_ratio,
    )


def emit_json(document: Any) -> None:
    """Print `document` as the command's one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    """Format `value` with `spec` and `suffix`; None shows as n/a."""
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def pct(fraction: float | None, spec: str) -> str:
    """Format a 0..1 fraction as a percentage; a real 0 shows as 0%, only None as n/a."""
    return fmt(None if fraction is None else fraction * 100, spec, "%")


def provenance_label(provenance: str | None) -> str:
    """Return a provenance for a table, marked ESTIMATE where it names a model."""
    if provenance is None:
        return "-"
    return f"{provenance} (ESTIMATE)" if is_estimate(provenance) else provenance


class StopSignal:
    """Turns SIGINT/SIGTERM into a stop request so the run is flushed and kept."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def parse_seconds(text: str, option: str) -> float:
    """Parse a duration option into seconds; a bad one is a usage error naming `option`."""
    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=option) from err


def site_options(
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
    from profiler.settings.carbon import SiteError, make_site

    defaults = cli_settings(None).site
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


def grid_code(settings: Settings) -> str | None:
    """Return the configured grid code (region, else country), if any."""
    return settings.site.region or settings.site.country


def start_exporter(devices: Any, host: str, port: int) -> tuple[Any, Any]:
    """Start serving `/metrics` for `devices`; return (collector, server). Fails in one line."""
    from profiler.prometheus.exporter import (
        FinwattCollector,
        MetricsServer,
        is_loopback,
        make_registry,
    )
    from profiler.store.database import finwatt_version

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


def take_run_lock(settings: Settings, sensors: SensorSet) -> Any:
    """Hold the database's run lock (profiler.capture.runlock), or fail naming its holder."""
    from profiler.capture.runlock import FileLock, LockHeldError, run_lock_path

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


def parse_levels(text: str) -> tuple[float, ...]:
    """Parse `--levels` into distinct loads, descending, active idle last."""
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


def resolve_devices(choice: str, sensors: SensorSet) -> tuple[str, ...]:
    """Turn `--device` into phase devices; an absent device is a usage error."""
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


def phase_json(p: Any) -> dict[str, Any]:
    """Return one phase of `finwatt run --json`."""
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
