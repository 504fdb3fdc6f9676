"""Figures as the live view prints them: watts, joules, durations, rates, sparklines.

Pure functions from numbers to strings; an unknown figure is "n/a", never 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from profiler.live.state import HISTORY_S
from profiler.model.units import J_PER_KWH

SPARK_CHARS = "▁▂▃▄▅▆▇█"
"""Sparkline levels, lowest first; a slice without readings is a space instead."""


def fmt_power(power_w: float | None) -> str:
    """Format watts: "n/a", "3.25 W", "62.0 W", "1,234 W"."""
    if power_w is None:
        return "n/a"
    if abs(power_w) < 10:
        return f"{power_w:.2f} W"
    if abs(power_w) < 1000:
        return f"{power_w:.1f} W"
    return f"{power_w:,.0f} W"


def fmt_energy(energy_j: float | None) -> str:
    """Format joules as J, kJ, then kWh from 0.1 kWh (360 kJ) up; "n/a" when unknown."""
    if energy_j is None:
        return "n/a"
    if abs(energy_j) < 1000:
        return f"{energy_j:.1f} J"
    if abs(energy_j) < 0.1 * J_PER_KWH:
        return f"{energy_j / 1000:.2f} kJ"
    return f"{energy_j / J_PER_KWH:.3f} kWh"


def fmt_duration(seconds: float) -> str:
    """Format seconds compactly: "45s", "4m05s", "2h03m"."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def fmt_idle(seconds: float) -> str:
    """Format an idle streak for a note: "4 min", "1 h 05 min"."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def fmt_rate(value: float) -> str:
    """Format a per-hour or so-far figure (g CO2e, money): "0", "<0.001", "0.0333", "1,234"."""
    if value == 0:
        return "0"
    if abs(value) < 0.001:
        return "<0.001"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def fmt_gib(used_bytes: int | None, total_bytes: int | None) -> str:
    """Format memory in GiB as "used/total GiB"; either side "n/a" when unknown."""
    if used_bytes is None:
        return "n/a" if total_bytes is None else f"n/a/{total_bytes / 2**30:.1f} GiB"
    if total_bytes is None:
        return f"{used_bytes / 2**30:.1f} GiB"
    return f"{used_bytes / 2**30:.1f}/{total_bytes / 2**30:.1f} GiB"


def sparkline(
    history: Sequence[tuple[float, float]],
    now_t: float,
    width: int,
    scale_w: float | None,
    window_s: float = HISTORY_S,
) -> str:
    """Return `width` block characters of power over (now_t - window_s, now_t].

    Each character is the mean power of its slice of the window, scaled to `scale_w`
    (the device's power limit; the window's maximum when unknown); a slice without
    readings is a space, never a zero-height bar.
    """
    if width <= 0:
        return ""
    start = now_t - window_s
    sums = [0.0] * width
    counts = [0] * width
    for t, power_w in history:
        if t <= start:
            continue
        i = min(width - 1, int((t - start) / window_s * width))
        sums[i] += power_w
        counts[i] += 1
    top = scale_w if scale_w else max((p for _, p in history), default=0.0)
    chars = []
    for total, n in zip(sums, counts, strict=True):
        if n == 0:
            chars.append(" ")
            continue
        level = 0 if top <= 0 else round(total / n / top * (len(SPARK_CHARS) - 1))
        chars.append(SPARK_CHARS[min(len(SPARK_CHARS) - 1, max(0, level))])
    return "".join(chars)
