"""`finwatt exec` (run and charge a user's own command), `finwatt chargeback` (docs/attribution.md).

`exec` prints its summary on stderr, like `time(1)`, so the job's own stdout stays the
job's; `--json` prints one JSON document on stderr after the job ends, `--json-file PATH`
writes it to a file no job writes to. It exits with the job's status (128 + N for signal
N), or 128 + N when signal N came before the job started (the job is then not started).
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from profiler.analysis.attribution import DEFAULT_IDLE_POLICY, IDLE_POLICIES, IdlePolicy
from profiler.analysis.chargeback import Chargeback, parse_group_by
from profiler.cli.common import (
    DbOption,
    JsonOption,
    LabelOption,
    PrometheusConfigOption,
    app,
    emit_json,
    err_console,
    fmt,
    out,
    parse_interval,
    parse_seconds,
    provenance_label,
)
from profiler.model.carbon import NO_MARKET, Co2eFigure, co2e_of_spans, market_of
from profiler.model.job import JobRecord, parse_tag
from profiler.model.run import RunRecord
from profiler.model.savings import Site
from profiler.model.text import has_control, printable
from profiler.model.units import J_PER_KWH
from profiler.settings.config import load_settings, site_from_defaults
from profiler.workflows.database import open_store

if TYPE_CHECKING:
    from profiler.workflows.signals import StopRequest

MIB = 2**20

TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", help="KEY=VALUE stored with the job (repeat for more)."),
]


def csv_cell(value: Any) -> Any:
    """Return a CSV cell safe to open in a spreadsheet and to print on a terminal.

    Group names come from jobs (commands, tags): control characters are shown escaped, and
    a text cell that a spreadsheet would run as a formula (it starts with =, +, -, @, tab
    or CR: OWASP "CSV injection") gets a leading apostrophe. Numbers pass unchanged.
    """
    if not isinstance(value, str):
        return value
    text = printable(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def parse_tags(values: list[str] | None) -> dict[str, str]:
    """Parse `--tag KEY=VALUE` options; a malformed one is a usage error (hostile input).

    Refused: no `=` or no key, an empty value (`--tag desk=$DESK` with DESK unset), a key
    given twice (which value would win?) and control characters (they would reach the
    terminal through `chargeback --csv`).
    """
    tags: dict[str, str] = {}
    for value in values or []:
        try:
            key, text = parse_tag(value)
        except ValueError as err:
            raise typer.BadParameter(f"{value!r}: {err}", param_hint="--tag") from None
        if key in tags:
            raise typer.BadParameter(
                f"key {key!r} given twice ({tags[key]!r} and {text!r}); give each key once",
                param_hint="--tag",
            )
        tags[key] = text
    return tags


def _unit_name(unit: str | None) -> str | None:
    if unit is not None and (not unit.strip() or has_control(unit)):
        raise typer.BadParameter(
            f"{unit!r}: name the unit in plain text, e.g. trades", param_hint="--unit"
        )
    return unit


def _idle_policy(text: str) -> IdlePolicy:
    if text not in IDLE_POLICIES:
        raise typer.BadParameter(
            f"{text!r}: use {', '.join(IDLE_POLICIES)}", param_hint="--idle-share"
        )
    return text  # type: ignore[return-value]


@app.command(
    "exec",
    context_settings={"allow_interspersed_args": False},
)
def exec_command(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
    label: LabelOption = None,
    units: Annotated[
        float | None, typer.Option(help="Units of work done (or write them to FINWATT_UNITS_FILE).")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="The unit's name, e.g. trades.")] = None,
    tag: TagOption = None,
    interval: Annotated[str, typer.Option(help="Sampling interval, 0.05s to 60s.")] = "0.5s",
    idle_share: Annotated[
        str,
        typer.Option(help="Idle energy charged to the job: none, cpu-time or cores."),
    ] = DEFAULT_IDLE_POLICY,
    db: DbOption = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the JSON document on stderr (stdout is the job's)."),
    ] = False,
    json_file: Annotated[
        Path | None,
        typer.Option(help="Write the JSON document to this file; the summary stays on stderr."),
    ] = None,
) -> None:
    """Run COMMAND (no shell), follow its process tree and charge it its energy.

    Write `finwatt exec [OPTIONS] -- COMMAND [ARGS...]`.
    """
    from profiler.workflows.signals import stop_on_signals

    with stop_on_signals() as stop:  # a signal from here on starts nothing (exec_signals)
        _exec(command, label, units, unit, tag, interval, idle_share, db, as_json, json_file, stop)


def _exec(
    command: list[str],
    label: str | None,
    units: float | None,
    unit: str | None,
    tag: list[str] | None,
    interval: str,
    idle_share: str,
    db: Path | None,
    as_json: bool,
    json_file: Path | None,
    stop: StopRequest,
) -> NoReturn:
    from profiler.files.outputs import STDOUT, check_output, open_output
    from profiler.workflows.job import MAX_UNITS, JobSpec, run_job
    from profiler.workflows.slurm import slurm_tags

    if units is not None and not 0 <= units <= MAX_UNITS:  # NaN and inf too (hostile input)
        raise typer.BadParameter(
            f"{units:g}: units must be a finite number >= 0 and at most {MAX_UNITS:g}",
            param_hint="--units",
        )
    if json_file is not None and (as_json or str(json_file) == STDOUT):
        raise typer.BadParameter(
            "give --json (stderr) or --json-file PATH (not -: stdout is the job's)",
            param_hint="--json-file",
        )
    if json_file is not None:
        check_output(json_file)  # a directory or a link fails before the job starts
    spec = JobSpec(
        command=command,
        label=label,
        units=None if units is None else units + 0.0,  # -0 is 0
        unit=_unit_name(unit),
        tags={**slurm_tags(os.environ), **parse_tags(tag)},
        interval_s=parse_interval(interval),
        idle_share=_idle_policy(idle_share),
    )
    settings = load_settings(db)
    open_store(settings).close()
    site = site_from_defaults(settings.site)

    def said(run_id: str) -> None:
        if not as_json:
            err_console.print(f"finwatt: job run {run_id}", markup=False)

    outcome = run_job(settings, spec, on_start=said, stop=stop)
    run = outcome.monitor.run
    figures = job_figures(outcome.job, site, run.started.timestamp(), _end_s(run, outcome.job))
    document = {**figures, "notes": list(outcome.notes)}
    if as_json or json_file is not None:  # stdout is the job's alone (docs/design.md#cli-contract)
        to: contextlib.AbstractContextManager[TextIO] = (
            contextlib.nullcontext(sys.stderr) if json_file is None else open_output(json_file)
        )
        with to as stream, contextlib.redirect_stdout(stream):
            emit_json(document, doc="exec")
    if not as_json:
        for line in job_lines(document):
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        for note in outcome.notes:
            err_console.print(f"note: {note}", markup=False)
    raise typer.Exit(outcome.job.exit_status or 0)


def _end_s(run: RunRecord, job: JobRecord) -> float:
    """The job's end, epoch seconds (its start + its seconds while the run has no end)."""
    if run.ended is not None:
        return run.ended.timestamp()
    return run.started.timestamp() + (job.seconds or 0.0)


def job_figures(job: JobRecord, site: Site, start_s: float, end_s: float) -> dict[str, Any]:
    """Return the job's figures for people and JSON (kWh, CO2e and cost at the site).

    With the site's hourly grid series the job's energy is spread over [start_s, end_s)
    at its mean power and each hour takes its own factor (`model.carbon.co2e_of_spans`).
    """
    energy_j = job.energy_j
    kwh = None if energy_j is None else energy_j / J_PER_KWH
    facility_kwh = None if kwh is None else kwh * site.pue
    co2e = None if energy_j is None else co2e_of_spans(site, [(start_s, end_s, energy_j)])
    return {
        "run": job.run_id,
        "command": job.command,
        "exit_status": job.exit_status,
        "seconds": job.seconds,
        "energy_j": energy_j,
        "dynamic_j": job.dynamic_j,
        "idle_j": job.idle_j,
        "idle_share": job.idle_share,
        "idle_unallocated_j": job.idle_unallocated_j,
        "host_energy_j": job.host_energy_j,
        "mean_power_w": energy_j / job.seconds if energy_j is not None and job.seconds else None,
        "provenance": job.provenance,
        "cpu_s": job.cpu_s,
        "gpu_s": job.gpu_s,
        "peak_rss_bytes": job.peak_rss_bytes,
        "units": job.units,
        "unit": job.unit,
        "j_per_unit": job.j_per_unit,
        "tags": job.tags,
        "kwh": kwh,
        "facility_kwh": facility_kwh,
        "co2e_g": (
            None
            if facility_kwh is None or co2e is None
            else facility_kwh * site.grid_g_per_kwh
            if site.hourly is None
            else co2e.grams
        ),
        **_labels(co2e, site, facility_kwh),
        "cost": (
            None
            if facility_kwh is None or site.price_per_kwh is None
            else facility_kwh * site.price_per_kwh
        ),
        "currency": site.currency,
        "site": {"pue": site.pue, "grid": site.grid_label, "price_per_kwh": site.price_per_kwh},
        "accounting": job.accounting,
    }


def _labels(co2e: Co2eFigure | None, site: Site, facility_kwh: float | None) -> dict[str, Any]:
    """The basis and source beside a job's location-based `co2e_g`, and its market-based one.

    `co2e_basis`, `co2e_source`, `co2e_annual_share`; `co2e_market_g` and
    `co2e_market_source` (null without the site's contractual instruments).
    """
    if co2e is None or facility_kwh is None:
        return {"co2e_basis": None, "co2e_source": None, "co2e_annual_share": None, **NO_MARKET}
    market = market_of(site, facility_kwh)
    return {**co2e.as_dict(), **(NO_MARKET if market is None else market.as_dict())}


def job_lines(f: dict[str, Any]) -> list[str]:
    """Return the exec summary lines (stderr)."""
    unit = f["unit"] or "unit"
    rss = f["peak_rss_bytes"]
    return [
        f"finwatt: job {f['run']} exit {f['exit_status']} after {fmt(f['seconds'], '.1f', ' s')}"
        f" ({f['accounting']} accounting)",
        f"  energy      {fmt(f['energy_j'], '.1f', ' J')} = dynamic "
        f"{fmt(f['dynamic_j'], '.1f', ' J')} + idle share {fmt(f['idle_j'], '.1f', ' J')} "
        f"(--idle-share {f['idle_share']}; idle not charged {fmt(f['idle_unallocated_j'], '.1f')}"
        f" J; host {fmt(f['host_energy_j'], '.1f', ' J')})",
        f"  source      {provenance_label(f['provenance'])}",
        f"  mean power  {fmt(f['mean_power_w'], '.2f', ' W')}",
        f"  CPU time    {fmt(f['cpu_s'], '.2f', ' s')}   GPU time {fmt(f['gpu_s'], '.2f', ' s')}"
        f"   peak RSS {fmt(None if rss is None else rss / MIB, '.1f', ' MiB')}",
        f"  per unit    {fmt(f['j_per_unit'], '.3g', f' J/{unit}')} "
        f"({fmt(f['units'], 'g', ' ' + unit)})",
        f"  kWh         {fmt(f['kwh'], '.6f')} (facility {fmt(f['facility_kwh'], '.6f')} at PUE "
        f"{f['site']['pue']:g})   CO2e {fmt(f['co2e_g'], '.3f', ' g')} ({_basis_text(f)})"
        f"   cost {fmt(f['cost'], '.6f')}{_code(f['currency'], f['cost'])}",
        *(
            [f"  market CO2e {fmt(f['co2e_market_g'], '.3f', ' g')} ({f['co2e_market_source']})"]
            if f["co2e_market_g"] is not None
            else []
        ),
    ]


def _basis_text(f: dict[str, Any]) -> str:
    """The exec line's factor text: the annual grid label, or the hourly basis and source."""
    if f["co2e_basis"] in (None, "annual"):
        return str(f["site"]["grid"])
    return f"{f['co2e_basis']} factors: {f['co2e_source']}"


def _code(currency: str | None, amount: float | None) -> str:
    """Return " GBP" after an amount of money, "" without a currency or an amount."""
    return f" {currency}" if currency and amount is not None else ""


@app.command()
def chargeback(
    since: Annotated[str, typer.Option(help="Window: jobs started this long ago, e.g. 30d.")] = (
        "30d"
    ),
    by: Annotated[
        str,
        typer.Option(
            help="Group by tag:KEY, unit, command, cgroup, account, namespace, pod or label:KEY."
        ),
    ] = ("command"),
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV rows.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
    prometheus: Annotated[
        str | None,
        typer.Option(
            help="The whole fleet from this Prometheus: --by host, account, user, "
            "namespace or tag:KEY (docs/fleet.md#fleet-chargeback)."
        ),
    ] = None,
    prometheus_config: PrometheusConfigOption = None,
) -> None:
    """Energy, kWh, CO2e and cost per group of jobs, with `idle` and `unattributed` rows."""
    from profiler.workflows.chargeback import chargeback as charge_window
    from profiler.workflows.chargeback import since_epoch_s

    if as_json and as_csv:
        raise typer.BadParameter("give --json or --csv, not both", param_hint="--csv")
    window_s = parse_seconds(since, "--since")
    settings = load_settings(db)
    site = site_from_defaults(settings.site)
    if prometheus is not None:
        result = _fleet_charge(prometheus, prometheus_config, window_s, by)
    else:
        try:
            kind, key = parse_group_by(by)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--by") from err
        with open_store(settings, read_only=True) as store:
            result = charge_window(store, since_epoch_s(window_s), kind, key)
    rows = [r.as_dict(site) for r in result.rows]
    if as_json:
        emit_json(
            {
                "since_s": window_s,
                "by": by,
                "host_energy_j": result.host_energy_j,
                "host_sources": result.host_sources,
                "currency": site.currency,
                "rows": rows,
            },
            doc="chargeback",
        )
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    else:
        _print_rows(rows, result.host_energy_j, site.currency)


def _fleet_charge(url: str, config: Path | None, window_s: float, by: str) -> Chargeback:
    """Return the fleet's chargeback from Prometheus (`profiler.prometheus.chargeback`)."""
    import time

    from profiler.prometheus.api import ClientConfig, PrometheusApi, load_client_config
    from profiler.prometheus.chargeback import fleet_chargeback

    client = load_client_config(config) if config else ClientConfig()
    api = PrometheusApi(url, config=client, deadline_s=120.0)
    return fleet_chargeback(api, window_s, time.time(), by)


def _print_rows(rows: list[dict[str, Any]], host_energy_j: float, currency: str | None) -> None:
    """Print the chargeback table; with contractual instruments, market-based beside location."""
    from rich.table import Table

    market = rows[0]["co2e_market_g"] is not None
    table = Table(title=f"Chargeback (host {host_energy_j:.1f} J)")
    cost = f"cost ({currency})" if currency else "cost"
    co2e = ["CO2e (location)", "CO2e (market)"] if market else ["CO2e"]
    for column in ("group", "jobs", "energy", "kWh", *co2e, cost, "source"):
        table.add_column(column, justify="left" if column in ("group", "source") else "right")
    for r in rows:
        table.add_row(
            r["group"],
            str(r["jobs"]),
            fmt(r["energy_j"], ".1f", " J"),
            fmt(r["kwh"], ".6f"),
            fmt(r["co2e_g"], ".3f", " g"),
            *([fmt(r["co2e_market_g"], ".3f", " g")] if market else []),
            fmt(r["cost"], ".6f"),
            provenance_label(r["provenance"]),
        )
    out.print(table)
    sources = dict.fromkeys(r["co2e_source"] for r in rows if r["co2e_source"])
    for text in sources:
        out.print(f"location-based CO2e: {text}", markup=False, highlight=False, soft_wrap=True)
    if market:
        line = f"market-based CO2e: {rows[0]['co2e_market_source']}"
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def pods(
    since: Annotated[str, typer.Option(help="Window, e.g. 30d.")] = "30d",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pod containers' CPU requests against measured use, and what the unused part costs."""
    from profiler.workflows.chargeback import pod_requests, since_epoch_s

    window_s = parse_seconds(since, "--since")
    settings = load_settings(db)
    with open_store(settings, read_only=True) as store:
        rows, cores = pod_requests(store, since_epoch_s(window_s))
    documents = [r.as_dict() for r in rows]
    if as_json:
        emit_json({"since_s": window_s, "node_cores": cores, "rows": documents}, doc="pods")
        return
    _print_pods(documents, cores)


def _print_pods(rows: list[dict[str, Any]], cores: int | None) -> None:
    from rich.table import Table

    table = Table(title=f"Requests against use (node {cores or '?'} cores)")
    for column in ("pod container", "used", "request", "limit", "unused", "energy", "unused costs"):
        table.add_column(column, justify="left" if column == "pod container" else "right")
    for r in rows:
        table.add_row(
            printable(r["group"]),
            fmt(r["used_cores"], ".2f", " cores"),
            fmt(r["cpu_request"], ".2f"),
            fmt(r["cpu_limit"], ".2f"),
            fmt(r["excess_cores"], ".2f"),
            fmt(r["attributed_j"], ".1f", " J (attributed)"),
            fmt(r["excess_j"], ".1f", " J (estimated)"),
        )
    out.print(table)
    out.print("memory use is not measured per pod: memory requests and limits are in --json")
