"""Terminal output of `finwatt run`: a rich progress display, then the summary tables."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from profiler.analysis.profile import LadderSummary
from profiler.model.provenance import is_estimate
from profiler.model.run import PhaseRecord
from profiler.model.text import printable


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
        text = printable(f"{workload} on {device}: {what}")
        # the column reads markup ("[bold]{task.description}"): escape the text's own
        self._progress.update(self._task, description=escape(text))

    def phase_done(self, phase: PhaseRecord) -> None:
        """Print one line per finished phase above the bar."""
        if phase.units is None:
            self._progress.console.print(
                printable(f"{phase.workload} on {phase.device_id}: FAILED: {phase.metrics.error}"),
                markup=False,
            )


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def phase_table(phases: Sequence[PhaseRecord]) -> Group:
    """Return the per-phase table, then one note per invalid phase and the power sources.

    Fits 80 columns: the reasons and provenance go below the table, not in it.
    """
    table = Table(title="Phases", expand=False)
    for column in ("workload", "device", "target", "achieved", "units/s", "W", "J/1k units", "ok"):
        table.add_column(column, justify="left" if column in ("workload", "device") else "right")
    notes: list[str] = []
    for p in phases:
        d = p.metrics
        mark = "yes"
        if not p.valid:
            notes.append(
                f"[{len(notes) + 1}] {p.workload} {p.device_id} {p.target_load:.0%}: "
                + ("; ".join(d.invalid_reasons or ()) or str(d.error))
            )
            mark = f"no[{len(notes)}]"
        achieved = p.achieved_load * 100 if p.achieved_load is not None else None
        table.add_row(
            p.workload,
            p.device_id,
            f"{p.target_load:.0%}",
            _fmt(achieved, ".0f") + ("%" if achieved is not None else ""),
            _fmt(d.units_per_s, ",.0f"),
            _fmt(d.mean_power_w, ".2f"),
            _fmt(d.j_per_1000_units, ".3g"),
            mark,
        )
    sources = sorted({p.metrics.provenance for p in phases if p.metrics.provenance})
    lines = [Text(printable(n)) for n in notes]
    for source in sources:
        estimate = is_estimate(source)
        lines.append(
            Text(
                f"power source: {source}"
                + (" (ESTIMATE from a power model, not a measurement)" if estimate else "")
            )
        )
    return Group(table, *lines)


def summary_table(summaries: Sequence[LadderSummary], *, quick: bool) -> Group:
    """Return the per workload x device table (peak, overall units/J, IPR, EP) and notes."""
    title = "Summary" + (" (quick run: indicative only)" if quick else "")
    table = Table(title=title)
    for column in ("workload", "device", "peak units/s", "unit", "units/J", "IPR", "EP", "note"):
        table.add_column(
            column, justify="left" if column in ("workload", "device", "unit") else "right"
        )
    notes: list[str] = []
    for s in summaries:
        m = s.metrics
        mark = ""
        if s.note:
            notes.append(f"[{len(notes) + 1}] {s.workload} {s.device}: {s.note}")
            mark = f"[{len(notes)}]"
        table.add_row(
            s.workload,
            s.device,
            _fmt(s.peak_units_per_s, ",.0f"),
            s.unit or "",
            _fmt(m.overall_units_per_j if m else None, ",.0f"),
            _fmt(m.ipr if m else None, ".3f"),
            _fmt(m.ep if m else None, ".3f"),
            mark,
        )
    return Group(table, *(Text(printable(n)) for n in notes))
