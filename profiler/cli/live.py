"""`finwatt live` and `finwatt serve`: views of the sensors as they are read."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from profiler.cli.common import (
    NO_SITE_FLAGS,
    DbOption,
    SiteFlags,
    app,
    fail,
    grid_code,
    metrics_server_errors,
    out,
    parse_interval,
    site_options,
    warn_public,
    with_site_flags,
)
from profiler.model.errors import EXIT_USAGE
from profiler.settings.config import load_settings
from profiler.workflows.probe import probe

if TYPE_CHECKING:
    from profiler.live import TickSource
from profiler.workflows.signals import stop_on_signals


@app.command()
@with_site_flags
def live(
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "1s",
    once: Annotated[
        bool, typer.Option(help="Print one frame to stdout after two reads, then exit.")
    ] = False,
    record: Annotated[
        bool, typer.Option(help="Also store a monitor run while the view shows.")
    ] = False,
    site_flags: SiteFlags = NO_SITE_FLAGS,
    db: DbOption = None,
) -> None:
    """Full-screen live view of every device's power, utilisation, energy and waste.

    Needs a terminal; without one (a pipe, a file, cron) it exits 2 pointing to `--once`.
    """
    from profiler.live import LiveState, Rates, run_live, show_once
    from profiler.workflows.monitor import monitor_recording, unrecorded_source
    from profiler.workflows.profile_watch import ProfileWatch

    interval_s = parse_interval(interval)
    if not once and not _is_terminal(sys.stdout):
        fail(
            "live is a full-screen view and standard output is not a terminal; use "
            "`finwatt live --once` for one plain frame, or `finwatt monitor` to record",
            EXIT_USAGE,
        )
    settings = load_settings(db)
    site = site_options(settings, site_flags)
    rates = Rates.from_site(site, code=grid_code(settings, site_flags))
    sensors = probe(settings)
    state = LiveState(
        sensors.devices, interval_s=interval_s, families=sensors.family_devices, rates=rates
    )
    source: TickSource
    try:
        if record:
            recording = monitor_recording(
                settings,
                interval_s=interval_s,
                config={"command": "live", "interval_s": interval_s},
                sensors=sensors,
                sinks=[state.consume],
            )
            state.recording_run_id = recording.run_id
            source = recording
        else:
            source = unrecorded_source(sensors, interval_s, [state.consume])
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


def _is_terminal(stream: TextIO) -> bool:
    """True when `stream` is a terminal (a pipe, a file or a closed stream is not)."""
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback by default; others warn).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of /metrics.")] = 9464,
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "1s",
    web_config: Annotated[
        Path | None,
        typer.Option(
            "--web-config",
            help="TLS and basic auth: a web-config file in Prometheus's format "
            "(tls_server_config, basic_auth_users with bcrypt hashes).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve live sensor readings to Prometheus at /metrics until Ctrl-C or SIGTERM.

    Stopping a server is its normal end, so Ctrl-C and SIGTERM exit 0 (nothing is stored,
    nothing is lost). `--db` only locates the settings; use `finwatt monitor --serve` to
    record while serving.
    """
    from profiler.prometheus.webconfig import load_web_config
    from profiler.workflows.serve import serving

    interval_s = parse_interval(interval)
    web = load_web_config(web_config) if web_config is not None else None
    settings = load_settings(db)
    with ExitStack() as cleanup:
        stop = cleanup.enter_context(stop_on_signals())
        with metrics_server_errors(port):
            exporter = cleanup.enter_context(serving(settings, host, port, interval_s, web))
        warn_public(host, exporter.port)
        print(
            f"finwatt: serving {exporter.server.scheme}://{host}:{exporter.port}/metrics, "
            f"sampling every {interval_s:g}s; Ctrl-C stops",
            file=sys.stderr,
        )
        stop.event.wait()
