"""Finding sentences of the rules that see time, from their evidence (see `reports.sentences`).

PEAK_SIZED_HOST, OFF_HOURS_IDLE and PEAK_SIZED_GPU (`profiler.analysis.demand_rules`),
COMPLEMENTARY_PEAKS (`profiler.analysis.complementary`) and the window-aware
UNDER_PROVISIONED_CPU (`profiler.analysis.host_rules`, evidence `hot_windows`). The
windows are given as the evidence gives them (hour of the week and length) and written
grouped by time of day with the report's weekday names ("every day 23:00-01:00").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from profiler.analysis.week import Window
from reports import numbers
from reports.demand import windows_text
from reports.i18n import N_, Language
from reports.sentence_parts import (
    Builder,
    Fields,
    MissingFigureError,
    count,
    it_kwh_of,
    number_of,
    percent_of,
    text_of,
)


def _windows(evidence: Mapping[str, Any], key: str, lang: Language) -> tuple[str, int]:
    """Return the evidence's windows as text in `lang`, and their hours per week."""
    listed = evidence.get(key)
    if not isinstance(listed, list) or not listed:
        raise MissingFigureError(key)
    windows = [
        Window(int(number_of(w, "start_hour_of_week")), int(number_of(w, "hours")))
        for w in listed
        if isinstance(w, dict)
    ]
    if len(windows) != len(listed):
        raise MissingFigureError(key)
    return windows_text(windows, lang), sum(w.hours for w in windows)


_SCHEDULE = {
    "PEAK_SIZED_HOST": (
        N_(
            "%(device)s is busy only %(windows)s (%(tz)s), in %(regular)s of %(weeks)s weeks, "
            "and idle the other %(off)s h of the week: suspend, shut down or scale it down "
            "outside those windows, or move their job onto shared capacity."
        ),
        N_(
            "%(device)s is busy only %(windows)s (%(tz)s), in %(regular)s of %(weeks)s weeks, "
            "and idle the other %(off)s h of the week: suspend, shut down or scale it down "
            "outside those windows, or move their job onto shared capacity; at %(idle)s of "
            "%(source)s idle power that saves about %(energy)s of IT energy per year."
        ),
    ),
    "OFF_HOURS_IDLE": (
        N_(
            "%(device)s is busy only in working hours, %(windows)s (%(tz)s), in %(regular)s of "
            "%(weeks)s weeks, and idle the other %(off)s h of the week: suspend or shut it "
            "down nights and weekends."
        ),
        N_(
            "%(device)s is busy only in working hours, %(windows)s (%(tz)s), in %(regular)s of "
            "%(weeks)s weeks, and idle the other %(off)s h of the week: suspend or shut it "
            "down nights and weekends; at %(idle)s of %(source)s idle power that saves about "
            "%(energy)s of IT energy per year."
        ),
    ),
    "PEAK_SIZED_GPU": (
        N_(
            "%(device)s is busy only %(windows)s (%(tz)s), in %(regular)s of %(weeks)s weeks, "
            "and idle the other %(off)s h of the week: release the GPU, or share it by MIG or "
            "time-slicing, outside those windows."
        ),
        N_(
            "%(device)s is busy only %(windows)s (%(tz)s), in %(regular)s of %(weeks)s weeks, "
            "and idle the other %(off)s h of the week: release the GPU, or share it by MIG or "
            "time-slicing, outside those windows; at %(idle)s of %(source)s idle power that "
            "saves about %(energy)s of IT energy per year."
        ),
    ),
}
"""Rule id -> (sentence without a saving, sentence with one)."""

SOURCES = {"measured": N_("measured"), "model": N_("modelled (estimated)")}
"""Where a schedule's idle power comes from, as the sentence names it."""


def _schedule(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    windows, _hours = _windows(ev, "windows", lang)
    schedule = (f.get("recommendation") or {}).get("schedule")
    fields = {
        "device": text_of(f, "device"),
        "windows": windows,
        "tz": text_of(schedule if isinstance(schedule, dict) else None, "tz"),
        "regular": count(number_of(ev, "regular_weeks")),
        "weeks": count(number_of(ev, "observed_weeks")),
        "off": numbers.sig(number_of(ev, "off_hours_per_week")),
    }
    bare, saving = _SCHEDULE[text_of(f, "rule")]
    kwh = it_kwh_of(f)
    if kwh is None:
        return bare, fields
    source = SOURCES.get(text_of(ev, "idle_power_source"))
    if source is None:
        raise MissingFigureError("idle_power_source")
    return saving, {
        **fields,
        "idle": numbers.power_w(number_of(ev, "idle_power_w")),
        "source": lang.gettext(source),
        "energy": numbers.energy_kwh(kwh),
    }


def _complementary(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    pools, free = ev.get("pools"), (f.get("recommendation") or {}).get("free")
    if not isinstance(pools, list) or not isinstance(free, list):
        raise MissingFigureError("pools")
    hosts = text_of(ev, "unit") == "cores"
    fields = {
        "n": count(number_of(ev, "devices")),
        "capacity": f"{number_of(ev, 'capacity_each'):g}",
        "pools": count(len(pools)),
        "freed": count(len(free)),
        "diversity": numbers.sig(number_of(ev, "diversity_factor")),
        "weeks": numbers.sig(number_of(ev, "weeks_of_history")),
    }
    message = (
        N_(
            "%(n)s hosts of %(capacity)s cores peak at different times: packed on their summed "
            "demand they fit in %(pools)s pool(s), freeing %(freed)s (diversity factor "
            "%(diversity)s, %(weeks)s weeks of history)."
        )
        if hosts
        else N_(
            "%(n)s GPUs peak at different times: packed on their summed demand they fit in "
            "%(pools)s pool(s), freeing %(freed)s to time-slice or MIG onto one (diversity "
            "factor %(diversity)s, %(weeks)s weeks of history)."
        )
    )
    kwh = it_kwh_of(f)
    if kwh is None:
        return message, fields
    saving = lang.gettext(N_("Freeing them saves about %(energy)s of IT energy per year."))
    gap = "" if lang.is_cjk else " "
    text = lang.gettext(message) % fields + gap + saving % {"energy": numbers.energy_kwh(kwh)}
    return "%(text)s", {"text": text}


def _shift_window(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    """SHIFT_WINDOW (`profiler.analysis.shift_rules`): when to start, and what it saves."""
    ev = f.get("evidence") or {}
    start = (f.get("recommendation") or {}).get("start_local")
    if not isinstance(start, str):
        raise MissingFigureError("start_local")
    saved = ((f.get("savings") or {}).get("co2e_kg_per_year") or {}).get("point")
    if not isinstance(saved, (int, float)):
        raise MissingFigureError("co2e_kg_per_year")
    fields = {
        "group": str(f.get("device", "")),
        "best": start,
        "now": text_of(ev, "usual_start_local"),
        "deadline": text_of(ev, "deadline_local"),
        "grid_best": f"{number_of(ev, 'grid_best_g_per_kwh'):.0f}",
        "grid_now": f"{number_of(ev, 'grid_now_g_per_kwh'):.0f}",
        "runs": count(number_of(ev, "runs")),
        "saved": numbers.mass_kg(float(saved)),
    }
    return (
        N_(
            "Start %(group)s at %(best)s instead of %(now)s: it still finishes by its deadline "
            "%(deadline)s and runs on a grid of %(grid_best)s instead of %(grid_now)s g/kWh, "
            "saving about %(saved)s CO2e a year (%(runs)s runs seen)."
        ),
        fields,
    )


def under_cpu_in_windows(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    """The sentence of an UNDER_PROVISIONED_CPU finding that names its hot windows."""
    ev = f.get("evidence") or {}
    windows, hours = _windows(ev, "hot_windows", lang)
    busy, cores = number_of(ev, "p99_5_busy_cores"), number_of(ev, "provisioned_cores")
    extra = number_of(ev, "needed_cores") - cores
    return (
        N_(
            "%(device)s runs hot only %(windows)s (%(hours)s h a week, in %(regular)s of "
            "%(weeks)s weeks): P99.5 of 5-min CPU use is %(busy)s of %(cores)s cores; move that "
            "job to shared capacity or burst %(extra)s cores for those hours (%(core_hours)s "
            "core-hours a week) rather than buy cores that would idle %(idle)s of the week."
        ),
        {
            "device": text_of(f, "device"),
            "windows": windows,
            "hours": count(hours),
            "regular": count(number_of(ev, "hot_regular_weeks")),
            "weeks": count(number_of(ev, "observed_weeks")),
            "busy": numbers.sig(busy),
            "cores": count(cores),
            "extra": numbers.sig(extra),
            "core_hours": numbers.sig(extra * hours),
            "idle": percent_of(1.0 - number_of(ev, "hot_share_of_week")),
        },
    )


DEMAND_BUILDERS: dict[str, Builder] = {
    "PEAK_SIZED_HOST": _schedule,
    "OFF_HOURS_IDLE": _schedule,
    "PEAK_SIZED_GPU": _schedule,
    "COMPLEMENTARY_PEAKS": _complementary,
    "SHIFT_WINDOW": _shift_window,
}
"""Rule id -> the builder of its sentence, for the rules that see time."""
