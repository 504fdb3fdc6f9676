"""`finwatt analyze`, `finwatt report` and `finwatt trend`: findings and reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from profiler.cli.common import (
    NO_PROMETHEUS_FLAGS,
    NO_SITE_FLAGS,
    DbOption,
    JsonOption,
    PrometheusFlags,
    SiteFlags,
    app,
    emit_json,
    fail,
    fmt,
    out,
    parse_seconds,
    pct,
    provenance_label,
    site_options,
    with_prometheus_flags,
    with_site_flags,
)
from profiler.cli.reconcile_view import reconciliation_lines
from profiler.model.errors import EXIT_FAILURE, EXIT_USAGE
from profiler.model.text import printable
from profiler.model.units import J_PER_KWH
from profiler.settings.config import load_settings
from profiler.workflows.database import open_store

if TYPE_CHECKING:
    from profiler.analysis.thresholds import Thresholds
    from profiler.model.savings import Site


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


def _evidence_line(evidence: Mapping[str, object]) -> str:
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
    table = Table(title=f"Findings for {printable(label)}, ranked by savings")
    for column in ("rule", "device", "saves/yr", "confidence", "finding", "evidence"):
        table.add_column(column, overflow="fold")
    for f in document["findings"]:
        s = f["savings"]
        saves = "-"
        if s:
            saves = f"{s['facility_kwh_per_year']['point']:,.1f} kWh"
            saves += f", {s['co2e_kg_per_year']['point']:,.1f} kg CO2e"
            if s["cost_per_year"]:
                currency = f" {s['currency']}" if s.get("currency") else ""
                saves += f", {s['cost_per_year']['point']:,.2f}{currency}"
        cells = (f["rule"], f["device"], saves, f["confidence"], f["message"])
        # device is a Prometheus instance label for a fleet: outside text (hostile input)
        table.add_row(*map(printable, cells), printable(_evidence_line(f["evidence"])))
    out.print(table)
    if not document["findings"]:
        out.print("no findings", markup=False)
    if document["metrics"].get("reconciliation"):
        for line in reconciliation_lines(document["metrics"]["reconciliation"]):
            out.print(printable(line), markup=False)
    out.print("Assumptions:", markup=False)
    for line in assumptions:
        out.print(f"  - {printable(line)}", markup=False)


def _thresholds_from_options(
    mode: str, min_span: str | None, min_hours: float | None, sizes: str | None
) -> Thresholds:
    """Return the analyzer's thresholds with `--mode`, `--min-span`, `--min-hours`, `--sizes`."""
    from profiler.analysis.thresholds import Thresholds

    if mode not in ("production", "conservative"):
        fail(f"--mode {mode!r}: use production or conservative", EXIT_USAGE)
    if min_hours is not None and min_hours < 0:
        fail(f"--min-hours must be >= 0, got {min_hours:g}", EXIT_USAGE)
    thresholds = Thresholds(mode="conservative" if mode == "conservative" else "production")
    if min_span is not None:
        thresholds = dataclasses.replace(
            thresholds, min_span_s=parse_seconds(min_span, "--min-span")
        )
    if min_hours is not None:
        thresholds = dataclasses.replace(thresholds, min_valid_hours=min_hours)
    if sizes is not None:
        thresholds = dataclasses.replace(thresholds, cpu_sizes=_parse_sizes(sizes))
    return thresholds


@app.command()
@with_site_flags
@with_prometheus_flags()
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
    site_flags: SiteFlags = NO_SITE_FLAGS,
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
    prometheus_flags: PrometheusFlags = NO_PROMETHEUS_FLAGS,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find idle, oversized and inefficient capacity and what fixing it saves per year."""
    from profiler.workflows.analyze import store_findings as keep_findings
    from profiler.workflows.demand import settings_thresholds
    from profiler.workflows.embodied import analyzed

    if run_id is not None and since is not None:
        fail("RUN_ID and --since: give one or the other, not both", EXIT_USAGE)
    since_s = parse_seconds(since, "--since") if since is not None else None
    thresholds = _thresholds_from_options(mode, min_span, min_hours, sizes)
    settings = load_settings(db)
    thresholds = settings_thresholds(settings, thresholds)
    site = site_options(settings, site_flags)
    if (prometheus_flags.prometheus, prometheus_flags.step, prometheus_flags.match) != (None,) * 3:
        _analyze_prometheus(
            prometheus_flags,
            run_id,
            since_s,
            site,
            thresholds,
            as_json,
            tz=settings.tz,
            embodied=settings.embodied,
        )
        return
    with open_store(settings, read_only=True) as store:
        store.runs.mark_stale()
        result = analyzed(store, settings, site, thresholds, since_s, run_id, host)
        keep_findings(store, result)
    document = result.as_dict()
    if as_json:
        emit_json(document, doc="analyze")
    else:
        _print_findings(document, result.assessment.assumptions)


def _write_fleet_report(
    url: str,
    flags: PrometheusFlags,
    since_s: float | None,
    site: Site,
    output: Path | None,
    lang: str,
) -> Path:
    """`finwatt report --prometheus URL`: write the fleet report, return its path."""
    from profiler.analysis.thresholds import Thresholds
    from reports.renderers.fleet import FleetRenderer, FleetReport

    document, assumptions = _fleet_document(url, flags, since_s, site, Thresholds())
    from profiler.files.outputs import write_output

    target = output or Path.cwd() / "finwatt-fleet-report.html"
    html = FleetRenderer(site=site, lang=lang).render(FleetReport(url, document, assumptions))
    write_output(target, html)  # profiler.files.outputs: atomic, devices direct, no links
    return target


@app.command()
@with_site_flags
@with_prometheus_flags()
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
    pdf: Annotated[
        Path | None,
        typer.Option("--pdf", help="Also print the report to this PDF (needs Chromium)."),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Report language: en (default) or zh-CN.")
    ] = "en",
    prometheus_flags: PrometheusFlags = NO_PROMETHEUS_FLAGS,
    site_flags: SiteFlags = NO_SITE_FLAGS,
    db: DbOption = None,
) -> None:
    """Write a self-contained HTML efficiency report of a run and print its path."""
    from profiler.workflows.analyze import resolve_run
    from profiler.workflows.report import report_run, report_window
    from reports.i18n import language

    language(lang)  # an unknown --lang fails here, before any work (exit 2)
    _check_report_outputs(output, pdf)
    if run_id is not None and since is not None:
        fail("RUN_ID and --since: give one or the other, not both", EXIT_USAGE)
    since_s = parse_seconds(since, "--since") if since is not None else None
    settings = load_settings(db)
    site = site_options(settings, site_flags)
    if prometheus_flags.prometheus is not None:
        if run_id is not None:
            fail("RUN_ID and --prometheus: give one or the other, not both", EXIT_USAGE)
        target = _write_fleet_report(
            prometheus_flags.prometheus, prometheus_flags, since_s, site, output, lang
        )
        _print_written(target, pdf)
        return
    if prometheus_flags.step is not None or prometheus_flags.match is not None:
        fail("--step and --match apply to --prometheus URL only", EXIT_USAGE)
    if not settings.db_path.exists():
        fail(
            f"no database at {settings.db_path}; record a run first (finwatt run --quick)",
            EXIT_USAGE,
        )
    with open_store(settings, read_only=True) as store:
        store.runs.mark_stale()
        if since_s is not None:
            try:
                path = report_window(
                    store, since_s, site, output, host=host, lang=lang, tz=settings.tz
                )
            except OSError as err:
                fail(f"cannot write the report: {err}", EXIT_FAILURE)
        else:
            run = resolve_run(store, run_id)
            try:
                path = report_run(store, run, site, output, lang=lang, tz=settings.tz)
            except OSError as err:
                fail(f"cannot write the report: {err}", EXIT_FAILURE)
    _print_written(path, pdf)


def _check_report_outputs(output: Path | None, pdf: Path | None) -> None:
    """Fail before any work when `-o` or `--pdf` names a path the output policy refuses."""
    from profiler.files.outputs import check_output

    html = check_output(output) if output is not None else None
    if pdf is not None:
        check_output(pdf)
        if html is not None and not html.is_file:
            fail(f"--pdf prints the HTML report from a file; -o {output} is not one", EXIT_USAGE)


def _print_written(path: Path, pdf: Path | None) -> None:
    """Print where the report (and its PDF) went; nothing when it went to stdout (`-o -`)."""
    from profiler.workflows.report import print_pdf

    if str(path) != "-":
        print(path)
    if pdf is not None:
        print(print_pdf(path, pdf))


def _analyze_prometheus(
    flags: PrometheusFlags,
    run_id: str | None,
    since_s: float | None,
    site: Site,
    thresholds: Thresholds,
    as_json: bool,
    tz: str | None = None,
    embodied: dict[str, Any] | None = None,
) -> None:
    """`finwatt analyze --prometheus URL`: the fleet a Prometheus scrapes (`tz`: its zone).

    `embodied`: the `[embodied]` table; hosts a finding frees get their embodied carbon.
    """
    url = flags.prometheus
    if url is None:
        fail("--step and --match apply to --prometheus URL only", EXIT_USAGE)
    if run_id is not None:
        fail("RUN_ID and --prometheus: give one or the other, not both", EXIT_USAGE)
    document, assumptions = _fleet_document(
        url, flags, since_s, site, thresholds, tz=tz, embodied=embodied
    )
    if as_json:
        emit_json(document, doc="analyze-fleet")
    else:
        _print_findings(document, assumptions)


def _fleet_document(
    url: str,
    flags: PrometheusFlags,
    since_s: float | None,
    site: Site,
    thresholds: Thresholds,
    tz: str | None = None,
    embodied: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Read and assess the fleet a Prometheus scrapes (FleetError exits 1, FleetUsageError 2).

    `url` is `flags.prometheus`, given; `tz`: the site's zone, for the findings that see
    time (None: none of them); `embodied`: the `[embodied]` table, for the hosts freed.
    """
    step, match, client_config = flags.step, flags.match, flags.prometheus_config
    import time

    from profiler.model.units import epoch_to_iso
    from profiler.prometheus.api import ClientConfig, load_client_config
    from profiler.prometheus.query import (
        DEFAULT_MATCH,
        DEFAULT_SINCE_S,
        DEFAULT_STEP_S,
        FleetOptions,
    )
    from profiler.workflows.fleet import analyze_prometheus

    options = FleetOptions(
        url=url,
        since_s=since_s if since_s is not None else DEFAULT_SINCE_S,
        step_s=parse_seconds(step, "--step") if step is not None else DEFAULT_STEP_S,
        match=match if match is not None else DEFAULT_MATCH,
        client=load_client_config(client_config) if client_config else ClientConfig(),
    )
    result = analyze_prometheus(options, site, thresholds, now_s=time.time(), tz=tz)
    if embodied:
        from profiler.workflows.embodied import with_freed_embodied

        findings = with_freed_embodied(result.findings, embodied)
        result = dataclasses.replace(result, findings=findings)
    return result.as_dict(epoch_to_iso), result.assumptions


@app.command()
def trend(
    since: Annotated[str, typer.Option(help="Window, e.g. 30d.")] = "30d",
    host: Annotated[str | None, typer.Option(help="Only runs of this host.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Units/J per workload and device over time, daily energy, and regressions (> 10%)."""
    from profiler.workflows.trend import gather_trend

    since_s = parse_seconds(since, "--since")
    settings = load_settings(db)
    with open_store(settings, read_only=True) as store:
        result = gather_trend(store, since_s, host=host)
    if as_json:
        emit_json(result.as_dict(), doc="trend")
        return
    table = Table(
        title=f"Units per joule at 100% load, {result.window_start} to {result.window_end}"
    )
    columns = ("workload", "device", "size", "runs", "latest", "median before", "change", "")
    for column in (*columns, "power figures"):
        table.add_column(
            column, justify="left" if column in ("workload", "device", "power figures") else "right"
        )
    for s in result.series:
        p = s.latest
        table.add_row(
            s.workload,
            s.device,
            s.size,
            str(len(s.points)),
            f"{p.units_per_j:.4g}",
            fmt(p.baseline_units_per_j, ".4g"),
            pct(p.change, "+.1f"),
            "REGRESSION" if p.regression else "",
            provenance_label(p.provenance),
        )
    out.print(table)
    energy = Table(title="Daily energy (UTC days)")
    for column in ("day", "energy", "source"):
        energy.add_column(column)
    for d in result.daily_energy:
        energy.add_row(
            d.day, f"{d.energy_j / J_PER_KWH:.4f} kWh", "ESTIMATE" if d.estimated else "measured"
        )
    out.print(energy)
    for s, p in result.regressions:
        out.print(
            f"REGRESSION: {s.workload} on {s.device} ({s.size}) run {p.run_id}: "
            f"{p.units_per_j:.4g} units/J, {-(p.change or 0) * 100:.1f}% below the median "
            f"of {p.baseline_runs} earlier run(s)",
            markup=False,
        )
