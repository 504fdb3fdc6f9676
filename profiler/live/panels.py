"""The live view's text panels: header, totals, waste and live notes.

Totals: power now is the sum over devices that report power; CO2e and cost rates are on
facility power (IT power x PUE) times the grid's carbon intensity (g/kWh) and the tariff,
per hour now and as totals so far, the cost in the site's currency where one is set.
"""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text

from profiler.live.format import fmt_duration, fmt_energy, fmt_idle, fmt_power, fmt_rate
from profiler.live.lines import line
from profiler.live.state import IDLE_NOTE_AFTER_S, IDLE_UTIL, LiveState
from profiler.model.units import J_PER_KWH


def header(state: LiveState, width: int) -> list[Text]:
    """Title line, then the sensors in use packed into at most two lines."""
    shown_at = state.wall_start + timedelta(seconds=state.last_t or 0.0)
    bits = [state.host, shown_at.strftime("%H:%M:%S %Z").strip(), f"every {state.interval_s:g}s"]
    bits.append("no reading yet" if state.last_t is None else f"up {fmt_duration(state.last_t)}")
    if state.missed_ticks:
        bits.append(f"{state.missed_ticks} ticks missed")
    title = line(width, ("finwatt live", "bold"), " (q quits) · " + " · ".join(bits))
    by_provenance: dict[str, list[str]] = {}
    for view in state.devices.values():
        if view.info.provenance:
            by_provenance.setdefault(view.info.provenance, []).append(view.info.device_id)
    segments = [f"sensors: {', '.join(state.families) or 'none'}"]
    segments += [f"{','.join(ids)} {p}" for p, ids in sorted(by_provenance.items())]
    if state.recording_run_id:
        segments.append(f"recording run {state.recording_run_id}")
    packed = [segments[0]]
    for segment in segments[1:]:
        if len(packed[-1]) + 3 + len(segment) <= width or len(packed) == 2:
            packed[-1] += " · " + segment
        else:
            packed.append("  " + segment)
    return [title, *(line(width, text) for text in packed)]


def totals(state: LiveState, width: int) -> list[Text]:
    """Return power and energy now, CO2e and cost (per hour and so far), and the PUE."""
    # wall power (a BMC `node`) contains the parts: its own line, never added to them
    powered = [v for v in state.devices.values() if v.has_power and v.info.kind != "node"]
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
    first = line(width, "power now ", (power_txt, "bold"), f" · energy {fmt_energy(energy_j)}")
    facility_kw = None if power_w is None else power_w * rates.pue / 1000
    facility_kwh = None if energy_j is None else energy_j / J_PER_KWH * rates.pue
    carbon = rates.carbon_g_per_kwh
    co2 = (
        "CO2e n/a"
        if facility_kw is None
        else f"CO2e {fmt_rate(facility_kw * carbon)} g/h"
        + ("" if facility_kwh is None else f", {fmt_rate(facility_kwh * carbon)} g so far")
    )
    source = f" ({rates.carbon_source})" if rates.carbon_source else ""
    intensity = f" at {carbon:.4g} g/kWh{source}"
    price = rates.price_per_kwh
    if price is None:
        cost = "cost n/a (no tariff)"
    elif facility_kw is None:
        cost = "cost n/a"
    else:
        unit = f" {rates.currency}" if rates.currency else ""
        cost = f"cost {fmt_rate(facility_kw * price)}{unit}/h" + (
            "" if facility_kwh is None else f", {fmt_rate(facility_kwh * price)}{unit} so far"
        )
    facility = "IT power only" if rates.pue == 1.0 else "facility = IT x PUE"
    return [first, line(width, co2, intensity), line(width, f"{pue}, {facility} · {cost}")]


def waste(state: LiveState, width: int, max_notes: int) -> list[Text]:
    """Return the energy spent below `IDLE_UTIL`, per device, then up to `max_notes` notes."""
    tracked = [v for v in state.devices.values() if v.below_energy_j is not None]
    if not tracked:
        return [line(width, ("no device with both utilisation and energy yet", "dim"))]
    below_j = sum(v.below_energy_j or 0.0 for v in tracked)
    total_j = sum(v.energy_j or 0.0 for v in tracked)
    share = f" ({below_j / total_j:.0%})" if total_j > 0 else ""
    per_device = [
        f"{v.info.device_id} {fmt_duration(v.below_s)} {fmt_energy(v.below_energy_j)}"
        for v in tracked
        if v.below_s > 0
    ]
    summary = line(
        width,
        f"below {IDLE_UTIL:.0%} util: ",
        (fmt_energy(below_j), "bold"),
        f" of {fmt_energy(total_j)}{share}",
        (" · " + " · ".join(per_device)) if per_device else "",
    )
    notes = live_notes(state)
    lines = [summary]
    shown = notes if len(notes) <= max_notes else notes[: max(0, max_notes - 1)]
    lines += [line(width, ("! ", "bold red"), note) for note in shown]
    if len(shown) < len(notes):
        lines.append(line(width, (f"  and {len(notes) - len(shown)} more idle devices", "dim")))
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
