"""The device table: one row per device (utilisation bar, power, source, energy, sparkline).

From `WIDE_MIN_WIDTH` columns on, temperature, clock and memory are table columns;
below, they go on a detail line under their device, shown only when it has one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from profiler.live.format import fmt_energy, fmt_gib, fmt_power, sparkline
from profiler.live.lines import Part, line
from profiler.live.state import IDLE_UTIL, DeviceView
from profiler.model.device import DeviceStatus

WIDE_MIN_WIDTH = 120
"""From this many columns, temperature, clock and memory are table columns."""

_BAR_FULL = "█"
_BAR_EMPTY = "░"


@dataclass(frozen=True)
class Columns:
    """Character widths of the device table."""

    name: int
    bar: int
    power: int
    energy: int
    spark: int
    detail: bool  # temperature, clock, memory as columns (wide) or a line below (compact)
    temp: int = 6
    clock: int = 8
    mem: int = 14

    @classmethod
    def for_width(cls, width: int) -> Columns:
        """Return the column widths for a terminal `width` characters wide."""
        wide = width >= WIDE_MIN_WIDTH
        name, bar, power, energy = 7, (10 if wide else 6), 18, 10
        used = name + (bar + 5) + power + energy + 4  # four single-space gaps
        if wide:
            used += 6 + 8 + 14 + 3
        return cls(name, bar, power, energy, max(0, width - used - 1), wide)

    def heads(self, width: int) -> Text:
        """Return the table's column headings."""
        detail_heads = (
            "temp".rjust(self.temp)
            + " "
            + "clock".rjust(self.clock)
            + " "
            + "memory".rjust(self.mem)
        )
        return line(
            width,
            (
                "device".ljust(self.name + 1)
                + "util".ljust(self.bar + 6)
                + "power".rjust(self.power - 10)
                + " source".ljust(11)
                + "energy".rjust(self.energy)
                + " "
                + (detail_heads + " " if self.detail else "")
                + "power, last 2 min",
                "bold",
            ),
        )


def util_bar(util: float | None, width: int) -> Text:
    """Return a utilisation bar `width` blocks long and the percentage; "n/a" when unknown."""
    if util is None:
        return Text("n/a".rjust(width + 5), style="dim")
    filled = round(util * width)
    style = "red" if util >= 0.8 else "yellow" if util >= 0.5 else "green"
    if util < IDLE_UTIL:
        style = "dim"
    return Text.assemble(
        (_BAR_FULL * filled, style),
        (_BAR_EMPTY * (width - filled), "dim"),
        f" {util * 100:3.0f}%",
    )


def _applicable(kind: str) -> tuple[bool, bool, bool]:
    """Which of temperature, clock, memory a device kind can have."""
    return (kind in ("cpu", "gpu"), kind in ("cpu", "gpu"), kind in ("gpu", "host"))


def _badge(view: DeviceView) -> tuple[str, str]:
    if not view.has_power:
        return ("", "")
    if view.estimated:
        return ("ESTIMATED", "bold yellow")
    return ("measured", "green")


def device_lines(
    view: DeviceView, now_t: float | None, cols: Columns, width: int, *, detail_line: bool
) -> list[Text]:
    """Return a device's row, and its detail line when compact and `detail_line` asks."""
    r = view.reading
    power = fmt_power(r.power_w if r else None)
    badge, badge_style = _badge(view)
    energy = fmt_energy(view.energy_j) if view.has_power else "n/a"
    status = r.status if r is not None else DeviceStatus.OK
    spark = sparkline(list(view.history), now_t or 0.0, cols.spark, view.info.power_limit_w)
    if status is not DeviceStatus.OK:
        spark = f"{status.value.upper()} " + spark
    temp_ok, clock_ok, mem_ok = _applicable(view.info.kind)
    temp = ("n/a" if r is None or r.temperature_c is None else f"{r.temperature_c:.0f} °C") * (
        temp_ok
    )
    clock = ("n/a" if r is None or r.clock_mhz is None else f"{r.clock_mhz:.0f} MHz") * clock_ok
    mem = fmt_gib(r.mem_used_bytes if r else None, view.info.mem_total_bytes) * mem_ok
    parts: list[Part] = [
        view.info.device_id.ljust(cols.name)[: cols.name],
        " ",
        util_bar(r.util if r else None, cols.bar),
        " ",
        (power.rjust(cols.power - 10), "dim" if power == "n/a" else ""),
        " ",
        (badge.ljust(9), badge_style),
        " ",
        energy.rjust(cols.energy),
        " ",
    ]
    if cols.detail:
        parts += [
            temp.rjust(cols.temp),
            " ",
            clock.rjust(cols.clock),
            " ",
            mem.rjust(cols.mem),
            " ",
        ]
    parts.append((spark, "cyan"))
    lines = [line(width, *parts)]
    if not cols.detail and detail_line:
        bits = [
            f"{name} {b}"
            for name, b, ok in (("temp", temp, temp_ok), ("clock", clock, clock_ok))
            if ok
        ]
        if mem_ok:
            bits.append(f"mem {mem}")
        if r is not None and any(
            v is not None
            for v, ok in (
                (r.temperature_c, temp_ok),
                (r.clock_mhz, clock_ok),
                (r.mem_used_bytes, mem_ok),
            )
            if ok
        ):
            lines.append(line(width, " " * (cols.name + 1), (" · ".join(bits), "dim")))
    return lines
