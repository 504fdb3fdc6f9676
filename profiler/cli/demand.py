"""`finwatt demand`: when is the capacity used, by local weekday x hour, and what may be off.

The terminal view is drawn from the same `finwatt.demand/1` document `--json` prints
(`profiler.workflows.demand.DemandResult.as_dict`): per device a weekday x hour grid
(rows Monday to Sunday, 24 columns, each cell shaded by its mean use), its legend, the
load-duration figures, busy hours per week, peak-to-mean, regularity, weeks of history
and the proposed schedule. Outside text (host names, Prometheus instance labels) goes
through `printable`, and the console escapes whatever is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from profiler.cli.common import (
    NO_PROMETHEUS_FLAGS,
    DbOption,
    JsonOption,
    PrometheusFlags,
    app,
    emit_json,
    fail,
    out,
    parse_seconds,
    with_prometheus_flags,
)
from profiler.model.errors import EXIT_USAGE
from profiler.model.text import printable
from profiler.settings.config import load_settings

SHADES = (("░", 0.0), ("▒", 0.25), ("▓", 0.5), ("█", 0.75))
"""(block, lowest mean use it shows); below the device's busy level a cell is `░`."""
UNSEEN = "·"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LOAD_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)
"""The loads whose time share the summary prints."""


def shade(value: float | None, busy_level: float | None) -> str:
    """Return a cell's two-character block: `··` unobserved, `  ` idle, else by mean use."""
    if value is None:
        return UNSEEN * 2
    if busy_level is not None and value < busy_level:
        return "  "
    block = SHADES[0][0]
    for char, lowest in SHADES:
        if value >= lowest:
            block = char
    return block * 2


def legend(busy_level: float | None) -> str:
    """Return the grid's legend line."""
    idle = f"'  ' idle (< {busy_level:.0%})  " if busy_level is not None else ""
    bands = [f"{char * 2} >= {lowest:.0%}" for char, lowest in SHADES[1:]]
    first = f"{SHADES[0][0] * 2} < {SHADES[1][1]:.0%}"
    return f"{idle}{first}  {'  '.join(bands)}  {UNSEEN * 2} not observed"


def grid_lines(grid: Sequence[Sequence[float | None]], busy_level: float | None) -> list[str]:
    """Return the weekday x hour grid: an hour header, then Mon..Sun, 24 cells each."""
    header = "    " + "".join(f"{h:02d}    " for h in range(0, 24, 3)).rstrip()
    rows = [f"{DAYS[d]} " + "".join(shade(v, busy_level) for v in grid[d]) for d in range(7)]
    return [header, *rows]


def _share(device: Mapping[str, Any], level: float) -> float:
    curve = device["load_duration"]
    levels: list[float] = curve["levels"]
    index = min(range(len(levels)), key=lambda i: abs(levels[i] - level))
    return float(curve["share_at_or_above"][index])


def _figure(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def summary_lines(device: Mapping[str, Any]) -> list[str]:
    """Return the figures under a device's grid: load duration, busy hours, regularity."""
    curve = device["load_duration"]
    shares = ", ".join(f">= {lv:.0%}: {_share(device, lv):.1%}" for lv in LOAD_LEVELS)
    lines = [f"  time at load {shares}"]
    memory = device["kind"] == "memory"
    if curve["provisioned"] is not None:
        unit, scale = {"memory": (" GiB", 2**30), "gpu": (" GPU", 1)}.get(
            device["kind"], (" cores", 1)
        )
        needed = None if curve["needed"] is None else curve["needed"] / scale
        lines.append(
            f"  provisioned {curve['provisioned'] / scale:g}{unit}, the peak (P99.5) needs "
            f"{_figure(needed, '.3g', unit)}"
        )
    busy = "" if memory else f"busy {_figure(device['busy_hours_per_week'], '.1f')} h/week; "
    lines.append(
        f"  {busy}peak-to-mean {_figure(device['peak_to_mean_util'], '.1f')}; "
        f"{device['weeks_observed']:.1f} weeks of history"
    )
    windows = [w["label"] for w in device["recurring_windows"]]
    if device["kind"] != "memory":
        lines.append(
            f"  recurring busy windows: {', '.join(windows) if windows else 'none'}; "
            f"{device['regular_weeks']} of {device['observed_weeks']} weeks show them"
        )
    return lines


def schedule_lines(device: Mapping[str, Any], tz: str) -> list[str]:
    """Return the proposed schedule: each off span and its wake time, or why none."""
    schedule = device["schedule"]
    if device["kind"] not in ("host", "gpu"):
        return []
    if schedule is None:
        return ["  schedule: none (no hour of the week is known idle in enough weeks)"]
    rule = f" ({device['rule']})" if device["rule"] else " (pattern not regular or short enough)"
    spans = ", ".join(f"{s['off_at']}->{s['wake_at']}" for s in schedule["off_spans"])
    return [
        f"  schedule{rule}, {tz}: off {schedule['off_hours_per_week']:.1f} h/week, "
        f"wake {schedule['wake_margin_s'] / 60:g} min before each window",
        f"  off->wake: {spans}",
    ]


def _say(text: str) -> None:
    out.print(printable(text), markup=False, soft_wrap=True)


def print_demand(document: Mapping[str, Any]) -> None:
    """Print a `finwatt.demand/1` document as grids and figures."""
    window = document["window"]
    _say(f"Demand by local weekday x hour ({document['tz']}), {window['start']} to {window['end']}")
    for host in document["hosts"]:
        _say("")
        _say(f"== {host['host']}")
        for device in host["devices"]:
            level = device["busy_level"]
            _say("")
            _say(f"{device['device']} ({device['kind']}, {device['measure']})")
            for line in [*grid_lines(device["util_mean"], level), "    " + legend(level)]:
                _say(line)
            for line in [*summary_lines(device), *schedule_lines(device, document["tz"])]:
                _say(line)
    if not document["hosts"]:
        _say("no devices with utilisation in the window")


@app.command()
@with_prometheus_flags(step=False)
def demand(
    since: Annotated[
        str, typer.Option(help="Window ending now, e.g. 30d (weeks of history: 4 or more).")
    ] = "30d",
    host: Annotated[
        str | None, typer.Option(help="Host whose monitoring runs to read (default: this one).")
    ] = None,
    prometheus_flags: PrometheusFlags = NO_PROMETHEUS_FLAGS,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show when capacity is used, by local weekday x hour, and the schedule that fits it."""
    from profiler.workflows.demand import demand_prometheus, demand_since

    prometheus, match = prometheus_flags.prometheus, prometheus_flags.match
    if host is not None and prometheus is not None:
        fail("--host and --prometheus: give one or the other, not both", EXIT_USAGE)
    if match is not None and prometheus is None:
        fail("--match needs --prometheus URL", EXIT_USAGE)
    since_s = parse_seconds(since, "--since")
    settings = load_settings(db)
    if prometheus is not None:
        result = demand_prometheus(
            prometheus,
            since_s,
            settings,
            match=match,
            client_config=prometheus_flags.prometheus_config,
        )
    else:
        result = demand_since(settings, since_s, host=host)
    document = result.as_dict()
    if as_json:
        emit_json(document, doc="demand")
    else:
        print_demand(document)
