"""One frame of the live view for a terminal of a given size (pure: state in, text out).

When the frame would be taller than the terminal, the view drops, in order: blank lines,
the legend, the detail lines, the extra notes, and finally device rows past what fits
(with a line saying how many).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from profiler.live.device_rows import Columns, device_lines
from profiler.live.lines import heading, line
from profiler.live.panels import header, totals, waste
from profiler.live.profile_panel import profile_lines
from profiler.live.state import IDLE_UTIL, LiveState
from profiler.live.wall_line import wall_lines

MIN_WIDTH = 20
"""Narrower terminals are drawn as if this wide (and cut by the terminal)."""

_ONCE_HEIGHT = 10_000


def render(state: LiveState, width: int, height: int | None) -> RenderableType:
    """Return one frame of the view, at most `width` columns and `height` lines.

    At 120 columns and more, temperature, clock and memory are table columns; below,
    they go on a line under their device. When the frame would be taller than `height`,
    the detail lines go first, then live notes, then device rows past what fits (with a
    line saying how many). `height=None` means no limit (`--once`).
    """
    with state.lock:
        return Group(*frame(state, max(MIN_WIDTH, width), height or _ONCE_HEIGHT))


def frame(state: LiveState, width: int, height: int) -> list[Text]:
    """Return the frame's lines, dropping detail level by level until `height` fits."""
    cols = Columns.for_width(width)
    column_heads = cols.heads(width)
    head = header(state, width)
    totals_panel = [heading("Totals", width), *totals(state, width), *wall_lines(state, width)]
    profile = (
        [heading("Profiling run", width), *profile_lines(state.profile, width)]
        if state.profile is not None
        else []
    )
    legend = line(
        width,
        ("ESTIMATED", "bold yellow"),
        " = from a power model, not a sensor; `finwatt doctor` says why",
    )
    waste_title = f"Waste: below {IDLE_UTIL:.0%} utilisation since the view started"
    views = list(state.devices.values())

    def assemble(level: int, max_rows: int) -> list[Text]:
        """Level 0 has everything; each level drops more to fit a short terminal."""
        gap = [Text()] if level == 0 else []
        rows: list[Text] = []
        for view in views[:max_rows]:
            rows += device_lines(view, state.last_t, cols, width, detail_line=level <= 2)
        if max_rows < len(views):
            more = f"… {len(views) - max_rows} more devices: enlarge the terminal"
            rows.append(line(width, (more, "dim")))
        waste_panel = [heading(waste_title, width), *waste(state, width, 3 if level <= 3 else 1)]
        lines = [*head, *gap, column_heads, *rows, *gap, *totals_panel, *gap, *waste_panel]
        if profile:
            lines += [*gap, *profile]
        if level <= 1:
            lines += [*gap, legend]
        return lines

    lines = assemble(0, len(views))
    for level in (1, 2, 3, 4):
        if len(lines) <= height:
            break
        lines = assemble(level, len(views))
    if len(lines) > height:
        spare = height - len(assemble(4, 0))
        lines = assemble(4, max(0, spare))
    return lines[:height]
