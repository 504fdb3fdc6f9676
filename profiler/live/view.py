"""Terminal live view (`finwatt live`): every device's power, utilisation and energy now.

Data flows one way: the sampler hands each `Tick` to `LiveState.consume` (on the sampler
thread), `render` turns a state into a rich renderable of a given size, and `run_live`
shows it full-screen, re-rendering from a thread that waits on an `Event` (rich's own
`Live` refreshes the same way) at most `MAX_REFRESH_HZ` times a second. The view reads
no sensors itself and stores nothing; the CLI wires the sampler (or a `Recording` when
`--record` asks for a stored monitor run).

What it shows and where each figure comes from:

- energy since the view started: the device's cumulative `energy_j` (the sampler starts
  with the view, so its counters start there too); "n/a" when the device has none.
- waste: energy spent in intervals whose utilisation was below `IDLE_UTIL` (5%), the
  interval (t_prev, t] charged to the utilisation read at t (psutil and NVML both report
  utilisation over the interval that just ended).
- CO2e and cost rates: facility power (IT power x PUE) times carbon intensity (g/kWh,
  default 475, the world average of `DEFAULT_CARBON_G_PER_KWH`) and tariff.
- the profiling-run panel: a `running` run of kind `profile` in the store, its finished
  phases (throughput = units / phase seconds, J per 1,000 units from the stored samples)
  and the step the run's plan puts next.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import termios
import threading
import time
import tty
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import IO, Any, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from profiler.analysis.savings import Site
from profiler.capture.recording import Recording
from profiler.model.device import DeviceInfo, DeviceStatus
from profiler.model.provenance import is_estimate
from profiler.model.samples import Reading, Tick
from profiler.model.units import J_PER_KWH
from profiler.settings.carbon import make_site
from profiler.workflows.profile_watch import ProfileStatus, ProfileWatch

IDLE_UTIL = 0.05
"""Below 5% utilisation a device counts as idle for the waste panel (issue 7)."""

IDLE_NOTE_AFTER_S = 60.0
"""A device idle this long gets a live note; one minute is no longer a scheduling gap."""

HISTORY_S = 120.0
"""The sparkline shows the last two minutes of power."""

MAX_REFRESH_HZ = 4.0
"""The screen is redrawn at most this often (issue 7: refresh <= 4 Hz)."""

IDLE_REDRAW_S = 2.0
"""Redraw (and re-read the store for a profiling run) at least this often."""

DEFAULT_CARBON_G_PER_KWH = 475.0
"""World-average grid carbon intensity, g CO2e/kWh: codecarbon's world average (IEA 2019),
methodology section 6; the screen says "default" when it is used."""

DEFAULT_PUE = 1.0
"""Power usage effectiveness when none is given: IT power only."""

EXIT_OK = 0
EXIT_INTERRUPTED = 130

_SPARK = "▁▂▃▄▅▆▇█"
_BAR_FULL = "█"
_BAR_EMPTY = "░"
_WIDE_MIN_WIDTH = 120
_ONCE_HEIGHT = 10_000


# --- inputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """Conversion factors for the totals panel.

    Attributes:
        carbon_g_per_kwh: grid carbon intensity, g CO2e per kWh.
        carbon_source: shown beside the intensity: "default" (world average), an ISO3
            country code, or None when the user gave the figure.
        pue: power usage effectiveness (facility power / IT power), >= 1.
        pue_given: False when `pue` is the default (the screen says so).
        price_per_kwh: tariff in the user's currency per kWh; None when not given.

    """

    carbon_g_per_kwh: float = DEFAULT_CARBON_G_PER_KWH
    carbon_source: str | None = "default"
    pue: float = DEFAULT_PUE
    pue_given: bool = False
    price_per_kwh: float | None = None

    @classmethod
    def from_options(
        cls,
        carbon_intensity: float | None = None,
        pue: float | None = None,
        price_per_kwh: float | None = None,
        *,
        country: str | None = None,
        region: str | None = None,
    ) -> Rates:
        """Build rates from CLI options (None = default), validated as `analyze` does.

        Raises:
            ValueError: a bad option (`profiler.carbon.SiteError`, naming it).
        """
        site = make_site(
            country=country,
            region=region,
            carbon_intensity=carbon_intensity,
            pue=pue,
            price_per_kwh=price_per_kwh,
        )
        return cls.from_site(site, code=region or country)

    @classmethod
    def from_site(cls, site: Site, *, code: str | None = None) -> Rates:
        """Build rates from resolved site factors; `code` is the country or region shown."""
        source = "default" if site.grid_defaulted else (code or "").strip().upper() or None
        return cls(
            carbon_g_per_kwh=site.grid_g_per_kwh,
            carbon_source=source,
            pue=site.pue,
            pue_given=site.pue_given,
            price_per_kwh=site.price_per_kwh,
        )


# --- state --------------------------------------------------------------------------


@dataclass
class DeviceView:
    """What the view keeps for one device; energies in joules, times in seconds."""

    info: DeviceInfo
    reading: Reading | None = None
    energy_j: float | None = None
    energy_t: float | None = None
    below_s: float = 0.0
    below_energy_j: float | None = None
    idle_since_t: float | None = None
    history: deque[tuple[float, float]] = field(default_factory=deque)

    @property
    def has_power(self) -> bool:
        """True when some sensor or model gives this device power figures."""
        return self.info.provenance is not None

    @property
    def estimated(self) -> bool:
        """True when its power figures come from a model."""
        return is_estimate(self.info.provenance)


class LiveState:
    """Everything the view shows, updated by `consume` on the sampler thread.

    Args:
        devices: the devices to show, in display order.
        interval_s: the sampling interval.
        families: sensor family name -> device ids it reports on (for the header).
        rates: carbon intensity, PUE and tariff.
        host: host name shown in the header (default: this machine's).
        wall_start: wall-clock time of the sampler's start; a tick at t is shown as
            `wall_start + t` (tests pass a fixed time).
        recording_run_id: the run being stored, when `--record` is on.

    """

    def __init__(
        self,
        devices: Sequence[DeviceInfo],
        *,
        interval_s: float,
        families: Mapping[str, Sequence[str]] | None = None,
        rates: Rates | None = None,
        host: str | None = None,
        wall_start: datetime | None = None,
        recording_run_id: str | None = None,
    ) -> None:
        self.devices = {d.device_id: DeviceView(d) for d in devices}
        self.interval_s = interval_s
        self.families = {name: list(ids) for name, ids in (families or {}).items()}
        self.rates = rates or Rates()
        self.host = host or socket.gethostname()
        self.wall_start = wall_start or datetime.now().astimezone()
        self.recording_run_id = recording_run_id
        self.ticks = 0
        self.last_t: float | None = None
        self.missed_ticks = 0
        self.profile: ProfileStatus | None = None
        self.lock = threading.RLock()
        self._ticked = threading.Condition(self.lock)
        #: Set on every change; the refresh thread waits on it.
        self.changed = threading.Event()

    def consume(self, tick: Tick) -> None:
        """Take one sampler tick (a `TickSink`): update energy, waste and history."""
        with self.lock:
            prev_t = self.last_t if self.last_t is not None else 0.0
            for device_id, reading in tick.readings.items():
                view = self.devices.get(device_id)
                if view is None:
                    view = self.devices[device_id] = DeviceView(DeviceInfo(device_id, "unknown"))
                _update_device(view, reading, prev_t, tick.t)
            self.ticks += 1
            self.last_t = tick.t
            self.missed_ticks = tick.missed_ticks
            self._ticked.notify_all()
        self.changed.set()

    def set_profile(self, profile: ProfileStatus | None) -> None:
        """Replace the profiling-run panel's contents."""
        with self.lock:
            changed = profile != self.profile
            self.profile = profile
        if changed:
            self.changed.set()

    def wait_ticks(self, n: int, timeout_s: float) -> bool:
        """Block until `n` ticks were consumed or `timeout_s` passed; True when they were."""
        with self._ticked:
            return self._ticked.wait_for(lambda: self.ticks >= n, timeout_s)


def _update_device(view: DeviceView, reading: Reading, prev_t: float, t: float) -> None:
    had_energy_at_prev = view.energy_t == prev_t or (view.energy_t is None and view.has_power)
    before_j = view.energy_j if view.energy_j is not None else 0.0
    delta_j: float | None = None
    if reading.energy_j is not None:
        if had_energy_at_prev:
            delta_j = reading.energy_j - before_j
        view.energy_j = reading.energy_j
        view.energy_t = t
    util = reading.util
    if util is not None and util < IDLE_UTIL:
        view.below_s += t - prev_t
        if view.idle_since_t is None:
            view.idle_since_t = prev_t
        if delta_j is not None:
            view.below_energy_j = (view.below_energy_j or 0.0) + delta_j
    else:
        view.idle_since_t = None
    if delta_j is not None and view.below_energy_j is None:
        view.below_energy_j = 0.0
    if reading.power_w is not None:
        view.history.append((t, reading.power_w))
    while view.history and view.history[0][0] < t - HISTORY_S:
        view.history.popleft()
    view.reading = reading


# --- formatting ---------------------------------------------------------------------


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


def _fmt_rate(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 0.001:
        return "<0.001"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _fmt_gib(used: int | None, total: int | None) -> str:
    if used is None:
        return "n/a" if total is None else f"n/a/{total / 2**30:.1f} GiB"
    if total is None:
        return f"{used / 2**30:.1f} GiB"
    return f"{used / 2**30:.1f}/{total / 2**30:.1f} GiB"


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
        level = 0 if top <= 0 else round(total / n / top * (len(_SPARK) - 1))
        chars.append(_SPARK[min(len(_SPARK) - 1, max(0, level))])
    return "".join(chars)


def _util_bar(util: float | None, width: int) -> Text:
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


# --- layout -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
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


def _columns(width: int) -> _Columns:
    wide = width >= _WIDE_MIN_WIDTH
    name, bar, power, energy = 7, (10 if wide else 6), 18, 10
    used = name + (bar + 5) + power + energy + 4  # four single-space gaps
    if wide:
        used += 6 + 8 + 14 + 3
    return _Columns(name, bar, power, energy, max(0, width - used - 1), wide)


def _line(width: int, *parts: str | tuple[str, str] | Text) -> Text:
    text = Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
    text.truncate(width, overflow="ellipsis")
    return text


def _heading(title: str, width: int) -> Text:
    label = f"── {title} "
    return _line(width, (label + "─" * max(0, width - len(label)), "bold"))


def _applicable(kind: str) -> tuple[bool, bool, bool]:
    """Which of temperature, clock, memory a device kind can have."""
    return (kind in ("cpu", "gpu"), kind in ("cpu", "gpu"), kind in ("gpu", "host"))


def _badge(view: DeviceView) -> tuple[str, str]:
    if not view.has_power:
        return ("", "")
    if view.estimated:
        return ("ESTIMATED", "bold yellow")
    return ("measured", "green")


def _device_lines(
    view: DeviceView, now_t: float | None, cols: _Columns, width: int, *, detail_line: bool
) -> list[Text]:
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
    mem = _fmt_gib(r.mem_used_bytes if r else None, view.info.mem_total_bytes) * mem_ok
    parts: list[str | tuple[str, str] | Text] = [
        view.info.device_id.ljust(cols.name)[: cols.name],
        " ",
        _util_bar(r.util if r else None, cols.bar),
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
    lines = [_line(width, *parts)]
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
            lines.append(_line(width, " " * (cols.name + 1), (" · ".join(bits), "dim")))
    return lines


def _header(state: LiveState, width: int) -> list[Text]:
    """Title line, then the sensors in use packed into at most two lines."""
    shown_at = state.wall_start + timedelta(seconds=state.last_t or 0.0)
    bits = [state.host, shown_at.strftime("%H:%M:%S %Z").strip(), f"every {state.interval_s:g}s"]
    bits.append("no reading yet" if state.last_t is None else f"up {fmt_duration(state.last_t)}")
    if state.missed_ticks:
        bits.append(f"{state.missed_ticks} ticks missed")
    title = _line(width, ("finwatt live", "bold"), " (q quits) · " + " · ".join(bits))
    by_provenance: dict[str, list[str]] = {}
    for view in state.devices.values():
        if view.info.provenance:
            by_provenance.setdefault(view.info.provenance, []).append(view.info.device_id)
    segments = [f"sensors: {', '.join(state.families) or 'none'}"]
    segments += [f"{','.join(ids)} {p}" for p, ids in sorted(by_provenance.items())]
    if state.recording_run_id:
        segments.append(f"recording run {state.recording_run_id}")
    lines = [segments[0]]
    for segment in segments[1:]:
        if len(lines[-1]) + 3 + len(segment) <= width or len(lines) == 2:
            lines[-1] += " · " + segment
        else:
            lines.append("  " + segment)
    return [title, *(_line(width, line) for line in lines)]


def _totals(state: LiveState, width: int) -> list[Text]:
    powered = [v for v in state.devices.values() if v.has_power]
    now_w = [v.reading.power_w for v in powered if v.reading and v.reading.power_w is not None]
    missing = [v.info.device_id for v in powered if v.reading is None or v.reading.power_w is None]
    energies = [v.energy_j for v in powered if v.energy_j is not None]
    power_w = sum(now_w) if now_w else None
    energy_j = sum(energies) if energies else None
    rates = state.rates
    notes = []
    if any(v.estimated for v in powered):
        notes.append("includes ESTIMATED")
    if missing and now_w:
        notes.append(f"without {','.join(missing)}")
    power_txt = fmt_power(power_w) + (f" ({'; '.join(notes)})" if notes else "")
    pue = f"PUE {rates.pue:.2f}" + ("" if rates.pue_given else " (default)")
    first = _line(width, "power now ", (power_txt, "bold"), f" · energy {fmt_energy(energy_j)}")
    facility_kw = None if power_w is None else power_w * rates.pue / 1000
    facility_kwh = None if energy_j is None else energy_j / J_PER_KWH * rates.pue
    carbon = rates.carbon_g_per_kwh
    co2 = (
        "CO2e n/a"
        if facility_kw is None
        else f"CO2e {_fmt_rate(facility_kw * carbon)} g/h"
        + ("" if facility_kwh is None else f", {_fmt_rate(facility_kwh * carbon)} g so far")
    )
    source = f" ({rates.carbon_source})" if rates.carbon_source else ""
    intensity = f" at {carbon:.4g} g/kWh{source}"
    price = rates.price_per_kwh
    if price is None:
        cost = "cost n/a (no tariff)"
    elif facility_kw is None:
        cost = "cost n/a"
    else:
        cost = f"cost {_fmt_rate(facility_kw * price)}/h" + (
            "" if facility_kwh is None else f", {_fmt_rate(facility_kwh * price)} so far"
        )
    facility = "IT power only" if rates.pue == 1.0 else "facility = IT x PUE"
    return [first, _line(width, co2, intensity), _line(width, f"{pue}, {facility} · {cost}")]


def _waste(state: LiveState, width: int, max_notes: int) -> list[Text]:
    tracked = [v for v in state.devices.values() if v.below_energy_j is not None]
    if not tracked:
        return [_line(width, ("no device with both utilisation and energy yet", "dim"))]
    below_j = sum(v.below_energy_j or 0.0 for v in tracked)
    total_j = sum(v.energy_j or 0.0 for v in tracked)
    share = f" ({below_j / total_j:.0%})" if total_j > 0 else ""
    per_device = [
        f"{v.info.device_id} {fmt_duration(v.below_s)} {fmt_energy(v.below_energy_j)}"
        for v in tracked
        if v.below_s > 0
    ]
    summary = _line(
        width,
        f"below {IDLE_UTIL:.0%} util: ",
        (fmt_energy(below_j), "bold"),
        f" of {fmt_energy(total_j)}{share}",
        (" · " + " · ".join(per_device)) if per_device else "",
    )
    notes = live_notes(state)
    lines = [summary]
    shown = notes if len(notes) <= max_notes else notes[: max(0, max_notes - 1)]
    lines += [_line(width, ("! ", "bold red"), note) for note in shown]
    if len(shown) < len(notes):
        lines.append(_line(width, (f"  and {len(notes) - len(shown)} more idle devices", "dim")))
    return lines


def live_notes(state: LiveState) -> list[str]:
    """Return notes for devices idle (below 5%) for a minute or more while drawing power."""
    notes = []
    for view in state.devices.values():
        r = view.reading
        if (
            view.idle_since_t is None
            or state.last_t is None
            or r is None
            or r.power_w is None
            or state.last_t - view.idle_since_t < IDLE_NOTE_AFTER_S
        ):
            continue
        estimate = " (ESTIMATED)" if view.estimated else ""
        notes.append(
            f"{view.info.device_id} idle {fmt_idle(state.last_t - view.idle_since_t)}, "
            f"drawing {r.power_w:.0f} W{estimate}"
        )
    return notes


def _profile(profile: ProfileStatus, width: int) -> list[Text]:
    if profile.error:
        return [_line(width, ("profiling run: ", "bold"), profile.error)]
    planned = f" of {profile.phases_planned}" if profile.phases_planned is not None else ""
    label = f" '{profile.label}'" if profile.label else ""
    lines = [
        _line(
            width,
            ("run ", "bold"),
            f"{profile.run_id}{label} · {', '.join(profile.workloads) or 'n/a'} on "
            f"{', '.join(profile.devices) or 'n/a'} · {profile.phases_done}{planned} phases done",
        )
    ]
    if profile.now is not None:
        workload, device, level = profile.now
        lines.append(_line(width, f"now (per plan): {workload} on {device} at {level:.0%} load"))
    last = profile.last
    if last is None:
        lines.append(_line(width, ("no phase finished yet (calibrating or first level)", "dim")))
    elif last.error is not None:
        lines.append(
            _line(width, f"last: {last.workload} on {last.device_id} FAILED: {last.error}")
        )
    else:
        unit = last.unit or "units"
        achieved = "n/a" if last.achieved_load is None else f"{last.achieved_load:.0%}"
        rate = "n/a" if last.units_per_s is None else f"{last.units_per_s:,.0f} {unit}/s"
        per_k = "n/a" if last.j_per_1000_units is None else f"{last.j_per_1000_units:.3g} J"
        lines.append(
            _line(
                width,
                f"last: {last.workload} on {last.device_id} at {last.target_load:.0%} load "
                f"(achieved {achieved})",
            )
        )
        lines.append(_line(width, "      ", (rate, "bold"), f" · {per_k} per 1,000 {unit}"))
    return lines


def render(state: LiveState, width: int, height: int | None) -> RenderableType:
    """Return one frame of the view, at most `width` columns and `height` lines.

    At 120 columns and more, temperature, clock and memory are table columns; below,
    they go on a line under their device. When the frame would be taller than `height`,
    the detail lines go first, then live notes, then device rows past what fits (with a
    line saying how many). `height=None` means no limit (`--once`).
    """
    with state.lock:
        return Group(*_frame(state, max(20, width), height or _ONCE_HEIGHT))


def _frame(state: LiveState, width: int, height: int) -> list[Text]:
    cols = _columns(width)
    detail_heads = (
        "temp".rjust(cols.temp) + " " + "clock".rjust(cols.clock) + " " + "memory".rjust(cols.mem)
    )
    column_heads = _line(
        width,
        (
            "device".ljust(cols.name + 1)
            + "util".ljust(cols.bar + 6)
            + "power".rjust(cols.power - 10)
            + " source".ljust(11)
            + "energy".rjust(cols.energy)
            + " "
            + (detail_heads + " " if cols.detail else "")
            + "power, last 2 min",
            "bold",
        ),
    )
    header = _header(state, width)
    totals = [_heading("Totals", width), *_totals(state, width)]
    profile = (
        [_heading("Profiling run", width), *_profile(state.profile, width)]
        if state.profile is not None
        else []
    )
    legend = _line(
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
            rows += _device_lines(view, state.last_t, cols, width, detail_line=level <= 2)
        if max_rows < len(views):
            more = f"… {len(views) - max_rows} more devices: enlarge the terminal"
            rows.append(_line(width, (more, "dim")))
        waste = [_heading(waste_title, width), *_waste(state, width, 3 if level <= 3 else 1)]
        frame = [*header, *gap, column_heads, *rows, *gap, *totals, *gap, *waste]
        if profile:
            frame += [*gap, *profile]
        if level <= 1:
            frame += [*gap, legend]
        return frame

    frame = assemble(0, len(views))
    for level in (1, 2, 3, 4):
        if len(frame) <= height:
            break
        frame = assemble(level, len(views))
    if len(frame) > height:
        spare = height - len(assemble(4, 0))
        frame = assemble(4, max(0, spare))
    return frame[:height]


# --- running it ---------------------------------------------------------------------


class TickSource(Protocol):
    """What feeds the view: a `Sampler` (view only) or a `Recording` (`--record`)."""

    def start(self) -> object:
        """Start sampling on a background thread."""
        ...

    def stop(self) -> None:
        """Stop sampling (a final tick is taken)."""
        ...


class _KeyReader:
    """Reads single keys from a TTY in cbreak mode; restores the terminal on exit.

    Cbreak (not raw) mode keeps ISIG, so Ctrl-C still raises SIGINT.
    """

    def __init__(self, stream: IO[str]) -> None:
        try:
            self._fd: int | None = stream.fileno() if stream.isatty() else None
        except (OSError, ValueError):
            self._fd = None
        self._saved: list[Any] | None = None

    @property
    def active(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> _KeyReader:
        if self._fd is not None:
            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def read(self, timeout_s: float) -> str:
        """Return the keys typed within `timeout_s` ("" when none)."""
        assert self._fd is not None
        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        if not ready:
            return ""
        data = os.read(self._fd, 64)
        return data.decode(errors="replace") if data else "q"  # EOF: the terminal is gone


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into `stop.set()`; yields the signals received."""
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_source(source: TickSource, interrupted: bool) -> None:
    if isinstance(source, Recording):
        source.stop("interrupted" if interrupted else "complete")
    else:
        source.stop()


def show_once(
    state: LiveState,
    source: TickSource,
    console: Console,
    *,
    profile: ProfileWatch | None = None,
) -> int:
    """Sample twice (baseline, then one interval), print one frame, stop; returns 0."""
    source.start()
    try:
        state.wait_ticks(1, state.interval_s * 2 + 10)
        if profile is not None:
            state.set_profile(profile.poll())
        console.print(render(state, console.width, None))
    finally:
        _stop_source(source, interrupted=False)
    return EXIT_OK


def run_live(
    state: LiveState,
    source: TickSource,
    *,
    console: Console | None = None,
    profile: ProfileWatch | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Show the view full-screen until `q`, Ctrl-C or SIGTERM; returns the exit code.

    The main thread reads keys (cbreak mode, when stdin is a TTY) and watches the
    terminal size; a refresh thread redraws when a tick arrives, the size changes or
    `IDLE_REDRAW_S` passes, at most `MAX_REFRESH_HZ` times a second.
    """
    console = console or Console()
    stop = threading.Event()
    keys = _KeyReader(stdin or sys.stdin)
    live = Live(console=console, screen=True, auto_refresh=False, transient=True)
    with _stop_on_signals(stop) as received, keys:
        source.start()
        try:
            with live:
                refresher = threading.Thread(
                    target=_refresh_loop,
                    args=(live, state, console, profile, stop),
                    name="finwatt-live",
                    daemon=True,
                )
                refresher.start()
                try:
                    _wait_for_quit(keys, console, state, stop)
                finally:
                    stop.set()
                    state.changed.set()
                    refresher.join()
        finally:
            _stop_source(source, interrupted=bool(received))
    return EXIT_INTERRUPTED if received else EXIT_OK


@contextmanager
def live_display(
    state: LiveState, console: Console, profile: ProfileWatch | None = None
) -> Iterator[None]:
    """Show the view full-screen while the body runs (`finwatt run --live`).

    The body keeps the main thread (a profiling run, whose Ctrl-C handling stays as it
    is); the view redraws from its own thread as `run_live` does, without reading keys.
    """
    stop = threading.Event()
    live = Live(console=console, screen=True, auto_refresh=False, transient=True)
    with live:
        refresher = threading.Thread(
            target=_refresh_loop,
            args=(live, state, console, profile, stop),
            name="finwatt-live",
            daemon=True,
        )
        refresher.start()
        try:
            yield
        finally:
            stop.set()
            state.changed.set()
            refresher.join()


def _wait_for_quit(
    keys: _KeyReader, console: Console, state: LiveState, stop: threading.Event
) -> None:
    size = console.size
    while not stop.is_set():
        if keys.active:
            if "q" in keys.read(1 / MAX_REFRESH_HZ).lower():
                return
        else:
            stop.wait(1 / MAX_REFRESH_HZ)
        if console.size != size:
            size = console.size
            state.changed.set()


def _refresh_loop(
    live: Live,
    state: LiveState,
    console: Console,
    profile: ProfileWatch | None,
    stop: threading.Event,
) -> None:
    next_poll = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if profile is not None and now >= next_poll:
            state.set_profile(profile.poll())
            next_poll = now + IDLE_REDRAW_S
        state.changed.clear()
        width, height = console.size
        live.update(render(state, width, height), refresh=True)
        if stop.wait(1 / MAX_REFRESH_HZ):
            return
        state.changed.wait(IDLE_REDRAW_S)
