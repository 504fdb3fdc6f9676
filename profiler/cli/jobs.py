"""`finwatt exec` (run and charge a user's own command), `finwatt chargeback` (docs/attribution.md).

`exec` prints its summary on stderr, like `time(1)`, so the job's own stdout stays the
job's; `--json` prints one JSON document on stdout after the job's output. It exits with
the job's status (128 + N for signal N).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from profiler.analysis.attribution import DEFAULT_IDLE_POLICY, IDLE_POLICIES, IdlePolicy
from profiler.analysis.chargeback import Chargeback, parse_group_by
from profiler.cli.analysis import PrometheusConfigOption
from profiler.cli.common import (
    DbOption,
    JsonOption,
    LabelOption,
    app,
    emit_json,
    err_console,
    fmt,
    out,
    parse_interval,
    parse_seconds,
    provenance_label,
)
from profiler.model.job import JobRecord, parse_tag
from profiler.model.savings import Site
from profiler.model.text import has_control, printable
from profiler.model.units import J_PER_KWH
from profiler.settings.config import load_settings, site_from_defaults
from profiler.workflows.database import open_store

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
    as_json: JsonOption = False,
) -> None:
    """Run COMMAND (no shell), follow its process tree and charge it its energy.

    Write `finwatt exec [OPTIONS] -- COMMAND [ARGS...]`.
    """
    from profiler.workflows.job import MAX_UNITS, JobSpec, run_job
    from profiler.workflows.slurm import slurm_tags

    if units is not None and not 0 <= units <= MAX_UNITS:  # NaN and inf too (hostile input)
        raise typer.BadParameter(
            f"{units:g}: units must be a finite number >= 0 and at most {MAX_UNITS:g}",
            param_hint="--units",
        )
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

    outcome = run_job(settings, spec, on_start=said)
    figures = job_figures(outcome.job, site)
    if as_json:
        emit_json({**figures, "notes": list(outcome.notes)}, doc="exec")
    else:
        for line in job_lines(figures):
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        for note in outcome.notes:
            err_console.print(f"note: {note}", markup=False)
    raise typer.Exit(outcome.job.exit_status or 0)


def job_figures(job: JobRecord, site: Site) -> dict[str, Any]:
    """Return the job's figures for people and JSON (kWh, CO2e and cost at the site)."""
    energy_j = job.energy_j
    kwh = None if energy_j is None else energy_j / J_PER_KWH
    facility_kwh = None if kwh is None else kwh * site.pue
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
        "co2e_g": None if facility_kwh is None else facility_kwh * site.grid_g_per_kwh,
        "cost": (
            None
            if facility_kwh is None or site.price_per_kwh is None
            else facility_kwh * site.price_per_kwh
        ),
        "currency": site.currency,
        "site": {"pue": site.pue, "grid": site.grid_label, "price_per_kwh": site.price_per_kwh},
        "accounting": job.accounting,
    }


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
        f"{f['site']['pue']:g})   CO2e {fmt(f['co2e_g'], '.3f', ' g')} ({f['site']['grid']})"
        f"   cost {fmt(f['cost'], '.6f')}{_code(f['currency'], f['cost'])}",
    ]


def _code(currency: str | None, amount: float | None) -> str:
    """Return " GBP" after an amount of money, "" without a currency or an amount."""
    return f" {currency}" if currency and amount is not None else ""


@app.command()
def chargeback(
    since: Annotated[str, typer.Option(help="Window: jobs started this long ago, e.g. 30d.")] = (
        "30d"
    ),
    by: Annotated[str, typer.Option(help="Group by tag:KEY, unit, command, cgroup or account.")] = (
        "command"
    ),
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
    from rich.table import Table

    table = Table(title=f"Chargeback (host {host_energy_j:.1f} J)")
    cost = f"cost ({currency})" if currency else "cost"
    for column in ("group", "jobs", "energy", "kWh", "CO2e", cost, "source"):
        table.add_column(column, justify="left" if column in ("group", "source") else "right")
    for r in rows:
        table.add_row(
            r["group"],
            str(r["jobs"]),
            fmt(r["energy_j"], ".1f", " J"),
            fmt(r["kwh"], ".6f"),
            fmt(r["co2e_g"], ".3f", " g"),
            fmt(r["cost"], ".6f"),
            provenance_label(r["provenance"]),
        )
    out.print(table)
