"""The `finwatt` command line: parses, calls the workflows, prints. Nothing else lives here.

Exit codes (docs/design.md#exit-codes): 0 success, 1 runtime failure, 2 bad usage or bad input, 130
interrupted (data kept). With `--json` a command prints exactly one JSON document on
stdout; messages go to stderr. Errors the workflows raise are `FinwattError`s carrying
their exit code; `profiler.cli.main` prints them, so a command calls `fail` only where
it adds something the error lacks (the option to change, a different exit code).
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from profiler.cli.lazy import LazyGroup
from profiler.cli.terminal_text import safe_console
from profiler.model.durations import check_interval, parse_duration
from profiler.model.errors import EXIT_FAILURE, EXIT_USAGE, FinwattRuntimeError
from profiler.model.provenance import is_estimate
from profiler.model.savings import Site
from profiler.model.text import printable
from profiler.settings.carbon import SiteNames, make_site
from profiler.settings.config import Settings, SiteDefaults

app = typer.Typer(
    name="finwatt",
    # commands' modules are imported when a command is looked up (profiler.cli.lazy)
    cls=LazyGroup,
    help="Energy profiler for financial compute: where capacity idles and burns power.",
    # `finwatt --install-completion` / `--show-completion` for bash, zsh, fish (README)
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # every command and sub-command inherits these from the root context
    context_settings={"help_option_names": ["-h", "--help"]},
)
LazyGroup.typer_app = app

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
PrometheusConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--prometheus-config",
        envvar="FINWATT_PROMETHEUS_CONFIG",
        help="With --prometheus: YAML naming the token/password files, CA bundle and "
        "client certificate (Prometheus's authorization/basic_auth/tls_config keys).",
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(help="Sub-national grid data instead of --country: CN-BJ, US-NY, SE3 ..."),
]
PriceOption = Annotated[float | None, typer.Option(help="Tariff per kWh, in your currency.")]
CurrencyOption = Annotated[
    str | None, typer.Option(help="The tariff's currency, an ISO 4217 code (GBP, EUR, CNY).")
]
LabelOption = Annotated[str | None, typer.Option(help="Label stored with the run.")]

SITE_OPTION_NAMES = SiteNames(
    country="--country",
    region="--region",
    carbon_intensity="--carbon-intensity",
    pue="--pue",
    price_per_kwh="--price-per-kwh",
    currency="--currency",
)
"""Site errors on the command line name the options, not the `[defaults]` keys."""

# typer 0.2x vendors click, so `click.UsageError` is not what its parser raises; the
# class is the `UsageError` base of typer's public BadParameter, on old and new typer.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)

out = safe_console()
err_console = safe_console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        from profiler.files.version import finwatt_version

        print(f"finwatt {finwatt_version()}")
        raise typer.Exit


@app.callback()
def _global_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Config file (default $XDG_CONFIG_HOME/finwatt/config.toml)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="stderr log lines: text, or json (one object a line: timestamp, level, "
            "event, run_id) for journald/Loki/Splunk.",
        ),
    ] = "text",
) -> None:
    """Energy profiler for financial compute: where capacity idles and burns power."""
    from profiler.cli.logs import LOG_FORMATS, configure_logging
    from profiler.settings.config import use_config_file

    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(f"{log_format!r}: use text or json", param_hint="--log-format")
    configure_logging("json" if log_format == "json" else "text")
    use_config_file(config)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print a one-line error to stderr and exit with `code`."""
    error_line(message)
    raise typer.Exit(code)


def error_line(message: str) -> None:
    """Print `message` as one `finwatt: error:` line on stderr."""
    # Plain write, not rich: an error must stay one line whatever the terminal width.
    print(f"finwatt: error: {printable(' '.join(message.split()))}", file=sys.stderr)


JSON_SCHEMA_VERSION = 1
"""The version in every `--json` document's `"schema": "finwatt.<doc>/1"`: raised when a
field is renamed or removed or changes meaning (adding a field keeps it)."""


def emit_json(document: object, doc: str | None = None) -> None:
    """Print `document` as the command's one JSON document on stdout (strict JSON).

    Args:
        document: the command's result, plain JSON values.
        doc: the document's name (`runs`, `schedule-list`): a dict then leads with
            `"schema": "finwatt.<doc>/1"`, so a consumer can tell what it reads and which
            version. Every command's `--json` gives one (tests/robustness/test_small_cases.py).

    Raises:
        FinwattRuntimeError: a figure is NaN or infinite, which JSON cannot carry; nothing
            is printed.
    """
    if doc is not None and isinstance(document, dict):
        document = {"schema": f"finwatt.{doc}/{JSON_SCHEMA_VERSION}", **document}
    try:
        text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as err:
        raise FinwattRuntimeError(
            f"--json: a figure is NaN or infinite, which JSON cannot carry ({err}); "
            "please report this with the run id"
        ) from err
    sys.stdout.write(text + "\n")


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


def parse_seconds(text: str, option: str) -> float:
    """Parse a duration option into seconds; a bad one is a usage error naming `option`."""
    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=option) from err


def parse_interval(text: str) -> float:
    """Parse `--interval` into seconds within the sampler's 0.05 s to 60 s."""
    interval_s = parse_seconds(text, "--interval")
    try:
        return check_interval(interval_s)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--interval") from err


SiteFlags = SiteDefaults
"""The site options as the command line gives them (None where left out; no carbon table)."""

NO_SITE_FLAGS = SiteFlags()
"""A command's `site_flags` default; `with_site_flags` replaces it with the six options."""

_SITE_FLAG_OPTIONS: dict[str, object] = {
    "country": CountryOption,
    "region": RegionOption,
    "carbon_intensity": IntensityOption,
    "pue": PueOption,
    "price_per_kwh": PriceOption,
    "currency": CurrencyOption,
}
"""The site options, in the order `--help` lists them."""


def _with_flags(
    param: str, record: Callable[..., object], options: dict[str, object]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Return a decorator giving a command `options` in place of its `param` parameter.

    Typer reads the decorated function's signature: the options stand where `param`
    stood (in `--help` too), and the command is called with them gathered into one
    `record(**options)`.
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name != param:
                parameters.append(parameter)
                continue
            parameters += [
                inspect.Parameter(name, parameter.kind, default=None, annotation=option)
                for name, option in options.items()
            ]

        @functools.wraps(command)
        def with_flags(**given: Any) -> None:
            command(**{param: record(**{name: given.pop(name) for name in options})}, **given)

        with_flags.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_flags.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_flags

    return decorate


with_site_flags = _with_flags("site_flags", SiteFlags, _SITE_FLAG_OPTIONS)
"""Give a command the six site options in place of its `site_flags: SiteFlags` parameter."""


@dataclass(frozen=True)
class PrometheusFlags:
    """The options that read a fleet from Prometheus; None where the command line leaves one out.

    Attributes:
        prometheus: `--prometheus`, the Prometheus (or VictoriaMetrics) base URL.
        step: `--step`, the resolution of the series (a duration).
        match: `--match`, the series selector.
        prometheus_config: `--prometheus-config`, the file naming credential and TLS files.
    """

    prometheus: str | None = None
    step: str | None = None
    match: str | None = None
    prometheus_config: Path | None = None


NO_PROMETHEUS_FLAGS = PrometheusFlags()
"""A command's `prometheus_flags` default; `with_prometheus_flags` replaces it."""


def with_prometheus_flags(
    *, step: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the Prometheus options in place of its `prometheus_flags` parameter.

    They are `--prometheus`, `--step` (unless `step` is False), `--match` and
    `--prometheus-config`, gathered into one `PrometheusFlags`.
    """
    options: dict[str, object] = {
        "prometheus": PrometheusOption,
        "step": StepOption,
        "match": MatchOption,
        "prometheus_config": PrometheusConfigOption,
    }
    if not step:
        del options["step"]
    return _with_flags("prometheus_flags", PrometheusFlags, options)


def site_options(settings: Settings, flags: SiteFlags) -> Site:
    """Resolve the site options; what the command line leaves out comes from `[defaults]`.

    The grid source (country, region or intensity) is taken as a whole: any one of them
    on the command line replaces the configured one. A bad value is a `SiteError`
    naming the option (exit 2).
    """
    defaults = settings.site
    hourly = None  # the configured grid's series; a grid named here replaces it with the rest
    country, region, carbon_intensity = flags.country, flags.region, flags.carbon_intensity
    if country is None and region is None and carbon_intensity is None:
        country, region = defaults.country, defaults.region
        carbon_intensity = defaults.carbon_intensity
        hourly = defaults.carbon_hourly
    return make_site(
        country=country,
        region=region,
        carbon_intensity=carbon_intensity,
        pue=defaults.pue if flags.pue is None else flags.pue,
        price_per_kwh=(
            defaults.price_per_kwh if flags.price_per_kwh is None else flags.price_per_kwh
        ),
        names=SITE_OPTION_NAMES,
        carbon_table=defaults.carbon_table,
        currency=defaults.currency if flags.currency is None else flags.currency,
        carbon_hourly=hourly,
        market=dict(defaults.market),
    )


def grid_code(settings: Settings, given: SiteFlags = NO_SITE_FLAGS) -> str | None:
    """Return the grid code given (region, else country), else the configured one, if any."""
    return given.region or given.country or settings.site.region or settings.site.country


def check_port(port: int) -> int:
    """Return `port` if it can be bound; another is bad usage naming `--port`."""
    if not 0 <= port <= 65535:
        fail(f"--port {port}: use 1 to 65535 (0 picks a free port)", EXIT_USAGE)
    return port


@contextmanager
def metrics_server_errors(port: int) -> Iterator[None]:
    """Check `--port`, and say how to fix a metrics server that cannot listen.

    Wraps the block that starts the server (`profiler.workflows.serve`).
    """
    from profiler.workflows.serve import ServeError

    check_port(port)
    try:
        yield
    except ServeError as err:
        fail(f"{err}; choose another --port/--host")


def warn_public(host: str, port: int) -> None:
    """Warn on stderr when the metrics server is reachable from other machines."""
    from profiler.prometheus.exporter import is_loopback

    if not is_loopback(host):
        print(
            f"finwatt: warning: serving metrics on {host}:{port}, reachable from other "
            "machines; the default --host 127.0.0.1 keeps them on this one",
            file=sys.stderr,
        )


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
