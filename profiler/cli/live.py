"""`finwatt live` and `finwatt serve`: views of the sensors as they are read."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from profiler.capture.recording import Recording
from profiler.capture.sampler import check_interval
from profiler.cli.common import (
    CountryOption,
    DbOption,
    IntensityOption,
    PriceOption,
    PueOption,
    RegionOption,
    StopSignal,
    app,
    cli_settings,
    grid_code,
    out,
    parse_seconds,
    probe,
    site_options,
    start_exporter,
)


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
    from profiler.capture.sampler import Sampler
    from profiler.live.view import LiveState, Rates, run_live, show_once
    from profiler.workflows.profile_watch import ProfileWatch

    interval_s = parse_seconds(interval, "--interval")
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    site = site_options(country, carbon_intensity, pue, price_per_kwh, region)
    rates = Rates.from_site(site, code=region or country or grid_code(cli_settings(db)))
    settings = cli_settings(db)
    sensors = probe(settings)
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
    from profiler.capture.sampler import Sampler

    interval_s = parse_seconds(interval, "--interval")
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err
    settings = cli_settings(db)
    sensors = probe(settings)
    try:
        with StopSignal() as stop:
            collector, server = start_exporter(sensors.devices, host, port)
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
