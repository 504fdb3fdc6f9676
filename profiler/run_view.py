"""Terminal output of `finwatt run`: a rich progress display, then the summary tables."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from profiler.analysis.profile import LadderSummary
from profiler.store import PhaseRecord


class RunProgress:
    """Shows workload, device, level and time left while a profiling run goes on."""

    def __init__(self, console: Console, total_s: float) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID = self._progress.add_task("starting", total=total_s)
        self._stage_s = 0.0

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def stage(self, workload: str, device: str, what: str, seconds: float) -> None:
        """Advance past the previous stage and show the new one."""
        self._progress.advance(self._task, self._stage_s)
        self._stage_s = seconds
        self._progress.update(self._task, description=f"{workload} on {device}: {what}")

    def phase_done(self, phase: PhaseRecord) -> None:
        """Print one line per finished phase above the bar."""
        if phase.units is None:
            self._progress.console.print(
                f"{phase.workload} on {phase.device_id}: FAILED: {phase.details.get('error')}",
                markup=False,
            )


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def phase_table(phases: Sequence[PhaseRecord]) -> Table:
    """Return the per-phase table: load, throughput, energy, efficiency, validity."""
    table = Table(title="Phases")
    for column in (
        "workload",
        "device",
        "target",
        "achieved",
        "units/s",
        "power W",
        "units/J",
        "J/1000 units",
        "valid",
        "source",
    ):
        table.add_column(
            column, justify="left" if column in ("workload", "device", "source") else "right"
        )
    for p in phases:
        d = p.details
        table.add_row(
            p.workload,
            p.device_id,
            f"{p.target_load:.0%}",
            _fmt(p.achieved_load and p.achieved_load * 100, ".0f")
            + ("%" if p.achieved_load else ""),
            _fmt(d.get("units_per_s"), ",.0f"),
            _fmt(d.get("mean_power_w"), ".2f"),
            _fmt(d.get("units_per_j"), ",.1f"),
            _fmt(d.get("j_per_1000_units"), ".4g"),
            "yes"
            if p.valid
            else "NO: " + "; ".join(d.get("invalid_reasons") or [d.get("error", "")]),
            d.get("provenance") or "-",
        )
    return table


def summary_table(summaries: Sequence[LadderSummary], *, quick: bool) -> Table:
    """Return the per workload x device table: peak, overall units/J, IPR, EP."""
    title = "Summary" + (" (quick run: indicative only)" if quick else "")
    table = Table(title=title)
    for column in ("workload", "device", "peak units/s", "overall units/J", "IPR", "EP", "note"):
        table.add_column(
            column, justify="left" if column in ("workload", "device", "note") else "right"
        )
    for s in summaries:
        m = s.metrics
        table.add_row(
            s.workload,
            s.device,
            _fmt(s.peak_units_per_s, ",.0f") + (f" {s.unit}" if s.unit else ""),
            _fmt(m.overall_units_per_j if m else None, ",.1f"),
            _fmt(m.ipr if m else None, ".3f"),
            _fmt(m.ep if m else None, ".3f"),
            s.note or "",
        )
    return table
