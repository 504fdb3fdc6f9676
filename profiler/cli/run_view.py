"""Terminal output of `finwatt run`: a rich progress display, then the summary tables."""

from __future__ import annotations

from collections.abc import Sequence

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

from profiler.analysis.phases import workload_figures
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

    def __exit__(self, *exc: object) -> None:
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


SHARED_MARK = "*"
"""Marks a figure that is the workload's own share by CPU time on a shared host."""


def _own_figures(p: PhaseRecord) -> tuple[str, str]:
    """The W and J/1k cells: the workload's figures (`workload_figures`), marked if shared."""
    own = workload_figures(p)
    mark = SHARED_MARK if own.shared else ""
    watts = _fmt(own.mean_power_w, ".2f") + (mark if own.mean_power_w is not None else "")
    per_1k = _fmt(own.j_per_1000_units, ".3g") + (mark if own.j_per_1000_units else "")
    return watts, per_1k


def phase_table(phases: Sequence[PhaseRecord]) -> Group:
    """Return the per-phase table, then one note per invalid phase and the power sources.

    Fits 80 columns: the reasons and provenance go below the table, not in it. On a
    shared host a disturbed phase's W and J/1k units are the workload's own share by CPU
    time (marked `*`; docs/methodology.md#ladder-and-validity), the host's power beside
    them in its note.
    """
    table = Table(title="Phases", expand=False)
    for column in ("workload", "device", "target", "achieved", "units/s", "W", "J/1k units", "ok"):
        table.add_column(column, justify="left" if column in ("workload", "device") else "right")
    notes: list[str] = []
    for p in phases:
        d = p.metrics
        mark = "yes"
        if not p.valid:
            host_w = (
                f"; host {_fmt(d.mean_power_w, '.2f')} W"
                if d.shared_host and d.attributed_energy_j is not None
                else ""
            )
            notes.append(
                f"[{len(notes) + 1}] {p.workload} {p.device_id} {p.target_load:.0%}: "
                + ("; ".join(d.invalid_reasons or ()) or str(d.error))
                + host_w
            )
            mark = f"no[{len(notes)}]"
        achieved = p.achieved_load * 100 if p.achieved_load is not None else None
        watts, per_1k = _own_figures(p)
        table.add_row(
            p.workload,
            p.device_id,
            f"{p.target_load:.0%}",
            _fmt(achieved, ".0f") + ("%" if achieved is not None else ""),
            _fmt(d.units_per_s, ",.0f"),
            watts,
            per_1k,
            mark,
        )
    sources = sorted({p.metrics.provenance for p in phases if p.metrics.provenance})
    lines = [Text(printable(n)) for n in notes]
    shared = sorted(
        {p.metrics.attributed_provenance or "" for p in phases if p.metrics.shared_host}
    )
    if shared:
        lines.append(
            Text(
                printable(
                    f"{SHARED_MARK} shared host: the workload's own share by CPU time "
                    f"({', '.join(s for s in shared if s) or 'attributed:cpu-time'}), "
                    "not the host's"
                )
            )
        )
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
        lines = [line for line in (s.note, s.shared_host) if line]
        if lines:
            mark = f"[{sum(1 for n in notes if n.startswith('[')) + 1}]"
            notes.append(f"{mark} {s.workload} {s.device}: {lines[0]}")
            notes.extend(f"    {line}" for line in lines[1:])  # the same note, continued
        units_per_j = _fmt(m.overall_units_per_j if m else None, ",.0f")
        if m is None and s.attributed_units_per_j is not None:
            units_per_j = _fmt(s.attributed_units_per_j, ",.0f") + SHARED_MARK
        table.add_row(
            s.workload,
            s.device,
            _fmt(s.peak_units_per_s, ",.0f"),
            s.unit or "",
            units_per_j,
            _fmt(m.ipr if m else None, ".3f"),
            _fmt(m.ep if m else None, ".3f"),
            mark,
        )
    texts = [Text(printable(n)) for n in notes]
    if any(s.metrics is None and s.attributed_units_per_j is not None for s in summaries):
        texts.append(
            Text(f"{SHARED_MARK} units/J of the workload's own energy by CPU time (shared host)")
        )
    return Group(table, *texts)
