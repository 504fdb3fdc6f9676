"""The live view's wall-power line: the BMC's wall power split into its measured parts.

Shown only where a `node` device reports power: "wall 250 W = cpu 150 W + dram 25 W +
unexplained 75 W (30 %)", from the latest readings (the BMC averages over its own
window, so the split of one tick is indicative; the monitor summary and the report
reconcile over intervals, `profiler.analysis.reconcile`).
"""

from __future__ import annotations

from rich.text import Text

from profiler.analysis.reconcile import COMPONENT_KINDS, WALL_KINDS
from profiler.live.format import fmt_power
from profiler.live.lines import line
from profiler.live.state import LiveState


def wall_lines(state: LiveState, width: int) -> list[Text]:
    """Return the wall-power line, or nothing without a wall reading."""
    views = list(state.devices.values())
    wall = next(
        (
            v
            for v in views
            if v.info.kind in WALL_KINDS and v.reading is not None and v.reading.power_w is not None
        ),
        None,
    )
    if wall is None or wall.reading is None or wall.reading.power_w is None:
        return []
    wall_w = wall.reading.power_w
    parts: dict[str, float] = {}
    for view in views:
        if view.info.kind in COMPONENT_KINDS and view.reading and view.reading.power_w is not None:
            parts[view.info.kind] = parts.get(view.info.kind, 0.0) + view.reading.power_w
    remainder_w = wall_w - sum(parts.values())
    share = f" ({100 * remainder_w / wall_w:.0f} %)" if wall_w > 0 else ""
    split = " + ".join(f"{kind} {fmt_power(w)}" for kind, w in parts.items())
    estimated = any(v.estimated for v in views if v.info.kind in COMPONENT_KINDS)
    return [
        line(
            width,
            ("wall ", "bold"),
            f"{fmt_power(wall_w)} = {split + ' + ' if split else ''}unexplained "
            f"{fmt_power(remainder_w)}{share}",
            (" ESTIMATED", "bold yellow") if estimated else "",
        )
    ]
