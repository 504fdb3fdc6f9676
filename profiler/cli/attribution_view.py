"""`finwatt monitor --attribute`'s options and its table of top consumers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from profiler.cli.common import fmt, out
from profiler.model.attribution_rows import DEFAULT_TOP_N, MAX_TOP_N, check_top_n
from profiler.model.errors import FinwattInputError

if TYPE_CHECKING:
    from profiler.workflows.attribution import GroupTotal, RunAttribution

AttributeOption = Annotated[
    bool,
    typer.Option(
        "--attribute",
        help="Also record which processes and cgroups (containers, pods, units, Slurm "
        "jobs) used the CPU energy, per minute.",
    ),
]
TopOption = Annotated[
    int,
    typer.Option(
        "--top", help=f"With --attribute: groups kept per minute, 1 to {MAX_TOP_N}; rest: other."
    ),
]
DEFAULT_TOP = DEFAULT_TOP_N
SHOWN = 10
"""Rows of each table printed after the run (the JSON has every stored group)."""


class TopError(FinwattInputError):
    """`--top` is out of range."""


def top_n_of(top: int) -> int:
    """Return `--top` checked, or raise `TopError` (exit 2) saying the range."""
    try:
        return check_top_n(top)
    except ValueError as err:
        raise TopError(str(err)) from err


def attribute_top_n(attribute: bool, top: int) -> int | None:
    """Return `--top` checked when `--attribute` is on, else None.

    Raises:
        TopError: `--top` out of range, or given (not the default) without `--attribute`.
    """
    if not attribute:
        if top != DEFAULT_TOP:
            raise TopError(f"--top {top} needs --attribute; add --attribute or drop --top")
        return None
    return top_n_of(top)


def _table(title: str, groups: list[GroupTotal]) -> Table:
    table = Table(title=title)
    for column in ("group", "owner", "CPU time", "energy", "dynamic", "idle share", "source"):
        table.add_column(
            column, justify="left" if column in ("group", "owner", "source") else "right"
        )
    for g in groups[:SHOWN]:
        table.add_row(
            g.group,
            g.owner or "",
            fmt(g.cpu_s, ".1f", " s"),
            fmt(g.energy_j, ".1f", " J"),
            fmt(g.dynamic_j, ".1f", " J"),
            fmt(g.idle_j, ".1f", " J"),
            g.provenance or "",
        )
    return table


def print_attribution(attribution: RunAttribution) -> None:
    """Print the top processes and cgroups of a run and the idle energy charged to none."""
    if not attribution.minutes:
        out.print("attribution: no minute was recorded", markup=False)
        return
    out.print(_table("Top processes by CPU energy", attribution.processes))
    out.print(_table("Top cgroups by CPU energy", attribution.cgroups))
    if attribution.idle is not None:
        out.print(
            f"idle: {attribution.idle.energy_j:.1f} J charged to no group "
            f"({attribution.idle.provenance or 'no power source'}); "
            "energy shared by CPU time, see docs/attribution.md",
            markup=False,
        )
