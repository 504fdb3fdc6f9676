"""When is the capacity used: the demand section's record and the figures its page shows.

The record (`Demand`) holds one `DemandProfile` per device, computed by the report's
gathering step (`profiler.workflows.report`) with the pure core
(`profiler.analysis.demand.profile_demand`) in the site's zone. The section's figures
are read from it and from the analysis' findings, never recomputed: the proposed
schedule, its yearly kWh, CO2e and cost and the idle power they rest on are those of the
device's PEAK_SIZED_HOST, OFF_HOURS_IDLE or PEAK_SIZED_GPU finding; the recommended
capacity is that of its UNDER_PROVISIONED_CPU or OVER_PROVISIONED_CPU finding.

A weekday x hour profile needs at least a week of data (`MIN_SPAN_S`); a run or window
shorter than that gets one sentence saying so instead of the charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from profiler.analysis.demand import DemandProfile
from profiler.analysis.week import WEEK_S, Window
from profiler.model.series import FloatArray
from reports import charts_demand
from reports.i18n import N_, Language

DASH = "\u2013"
"""The en dash that joins the two ends of a range of days or hours."""

MIN_SPAN_S = WEEK_S
"""The shortest span of data the section profiles: one week (each weekday x hour once)."""

SCHEDULE_RULES = ("PEAK_SIZED_HOST", "OFF_HOURS_IDLE", "PEAK_SIZED_GPU")
"""The rules whose findings carry a power schedule."""

FORMS = (
    ("finwatt_toml", "finwatt [[schedule]]"),
    ("cron", "cron (/etc/cron.d)"),
    ("kube_green", "kube-green SleepInfo"),
)
"""The schedule forms shown as text blocks (key, heading); the systemd units follow them."""


class Profiled(Protocol):
    """One device's demand profile and what its capacity is (what the section needs).

    `DeviceDemand` below is one; any record with these attributes is another (e.g. the
    device records of `finwatt demand`).
    """

    @property
    def profile(self) -> DemandProfile:
        """The profile (use and power by local weekday x hour, load-duration curve)."""

    @property
    def kind(self) -> str:
        """The device kind (host, cpu, gpu, ...)."""

    @property
    def capacity(self) -> float | None:
        """A host's logical cores; other kinds are drawn in per cent of themselves."""


@dataclass(frozen=True)
class DeviceDemand:
    """One device's demand profile and what its capacity is.

    Attributes:
        profile: the profile (use and power by local weekday x hour, load-duration curve).
        kind: the device kind (host, cpu, gpu).
        capacity: a host's logical cores; None, or any figure for another kind, which
            the section draws in per cent of the device.
    """

    profile: DemandProfile
    kind: str
    capacity: float | None = None


def cores_of(item: Profiled) -> float | None:
    """Return the host's cores (its capacity), None for a device drawn in per cent."""
    return float(item.capacity) if item.kind == "host" and item.capacity else None


@dataclass(frozen=True)
class Demand:
    """What the demand section shows: the profiles and the span they rest on.

    Attributes:
        tz: the IANA zone of the profiles' local times.
        span_s: seconds the run or window covers.
        devices: one profile per device with use figures (empty when `span_s` is under
            `MIN_SPAN_S`: nothing was profiled).
    """

    tz: str
    span_s: float
    devices: tuple[Profiled, ...] = ()

    @property
    def long_enough(self) -> bool:
        """Return True when the data span at least `MIN_SPAN_S`."""
        return self.span_s >= MIN_SPAN_S


@dataclass(frozen=True)
class DeviceView:
    """The figures one device's part of the section shows.

    Attributes:
        device: the device id.
        demand: its profile and capacity.
        cores: the host's cores, None for a device drawn in per cent.
        use_table: 7 rows (Monday first) of 24 mean-use cells in per cent (None: not observed).
        power_table: the same of mean power in watts, None when the device has no power.
        use_chart: the use heatmap (SVG data URI), None when nothing was observed.
        power_chart: the power heatmap, None without power figures.
        duration_chart: the load-duration curve.
        provisioned: the capacity the device has (cores, or 100 %).
        recommended: the capacity the analysis recommends, None when it recommends none.
        recommended_by: the rule id the recommendation comes from.
        unit: the unit of the capacities ("cores" or "%").
        schedule: the device's schedule finding (docs/design.md#findings), None when none.
        forms: (heading, text) of the finwatt, cron and kube-green forms, to copy.
        units: (file name, text) of the schedule's systemd units.
        off_rows: the off spans grouped by start time and length, in the page's language.
        idle_line: the schedule finding's assumption line on its idle power, if any.
        windows: the recurring busy windows grouped by time of day, in the page's language.
    """

    device: str
    demand: Profiled
    cores: float | None
    use_table: list[list[float | None]]
    power_table: list[list[float | None]] | None
    use_chart: str | None
    power_chart: str | None
    duration_chart: str | None
    provisioned: float
    recommended: float | None
    recommended_by: str | None
    unit: str
    schedule: dict[str, Any] | None
    forms: list[tuple[str, str]]
    units: list[tuple[str, str]]
    off_rows: list[OffRow]
    idle_line: str | None
    windows: str


def days_text(weekdays: Sequence[int], lang: Language) -> str:
    """Return weekdays (0 = Monday) as "every day", "Mon-Fri" or "Mon, Sat", in `lang`."""
    days = charts_demand.day_names(lang)
    unique = sorted(set(weekdays))
    if len(unique) == 7:
        return lang.gettext("every day")
    if unique == list(range(unique[0], unique[-1] + 1)) and len(unique) > 2:
        return f"{days[unique[0]]}{DASH}{days[unique[-1]]}"
    return ", ".join(days[d] for d in unique)


def windows_text(windows: Sequence[Window], lang: Language) -> str:
    """Return recurring windows grouped by time of day: "every day 23:00-01:00", "Mon-Fri ..."."""
    groups: dict[tuple[int, int], list[int]] = {}
    for w in windows:
        groups.setdefault((w.start % 24, w.hours), []).append(w.start // 24)
    parts = []
    for (hour, hours), starts in sorted(groups.items(), key=lambda g: (min(g[1]), g[0])):
        if hours >= 24:
            parts += [w.label for w in windows if (w.start % 24, w.hours) == (hour, hours)]
            continue
        span = f"{hour:02d}:00{DASH}{(hour + hours) % 24:02d}:00"
        parts.append(f"{days_text(starts, lang)} {span}")
    return "; ".join(parts)


def _table(values: FloatArray, scale: float = 1.0) -> list[list[float | None]]:
    rows = values.reshape(7, 24)
    return [[None if np.isnan(v) else float(v) * scale for v in row] for row in rows]


def _recommended(device: str, findings: Sequence[dict[str, Any]]) -> tuple[float, str] | None:
    """Return (cores, rule) the sizing findings recommend for `device`, None when none."""
    for f in findings:
        if f.get("device") != device:
            continue
        recommendation = f.get("recommendation") or {}
        key = {"OVER_PROVISIONED_CPU": "cores", "UNDER_PROVISIONED_CPU": "min_cores"}.get(
            str(f.get("rule"))
        )
        value = recommendation.get(key) if key else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), str(f["rule"])
    return None


def schedule_of(device: str, findings: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the device's schedule finding (PEAK_SIZED_HOST, ...), None when it has none."""
    return next(
        (f for f in findings if f.get("device") == device and f.get("rule") in SCHEDULE_RULES),
        None,
    )


def schedule_forms(finding: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (heading, text) of the finding's finwatt, cron and kube-green forms, to copy."""
    forms = (finding.get("recommendation") or {}).get("forms") or {}
    return [(heading, str(forms[key])) for key, heading in FORMS if forms.get(key)]


def systemd_units(finding: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (file name, text) of each systemd unit of the finding's schedule."""
    units = ((finding.get("recommendation") or {}).get("forms") or {}).get("systemd")
    return sorted((str(k), str(v)) for k, v in units.items()) if isinstance(units, dict) else []


@dataclass(frozen=True)
class OffRow:
    """Off spans of a schedule that start at one time of day and last as long.

    Attributes:
        days: the weekdays they start on, as text ("every day", "Mon-Fri").
        off_at: the local time they start ("01:00").
        wake_at: the local time they end ("22:45").
        days_later: how many days after the start the wake comes (0: the same day).
        hours: hours off per span.
    """

    days: str
    off_at: str
    wake_at: str
    days_later: int
    hours: float


def _hhmm(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def off_rows(finding: dict[str, Any], lang: Language) -> list[OffRow]:
    """Return a schedule finding's off spans grouped by start time and length, in `lang`."""
    schedule = (finding.get("recommendation") or {}).get("schedule") or {}
    groups: dict[tuple[int, int], list[int]] = {}
    for span in schedule.get("off_spans") or []:
        start, minutes = int(span["start_minute_of_week"]), int(span["minutes"])
        groups.setdefault((start % 1440, minutes), []).append(start // 1440)
    return [
        OffRow(
            days_text(days, lang),
            _hhmm(start),
            _hhmm(start + minutes),
            (start + minutes) // 1440,
            minutes / 60.0,
        )
        for (start, minutes), days in sorted(groups.items(), key=lambda g: (min(g[1]), g[0]))
    ]


def idle_power_line(finding: dict[str, Any]) -> str | None:
    """Return the finding's assumption line that says where its idle power comes from."""
    return next(
        (str(a) for a in finding.get("assumptions") or [] if str(a).startswith("idle power ")),
        None,
    )


def device_view(
    item: Profiled,
    tz: str,
    findings: Sequence[dict[str, Any]],
    text: Language,
    drawn: Language,
) -> DeviceView:
    """Return the figures and charts of one device's part of the section.

    Args:
        item: the device's profile and capacity.
        tz: the zone of the profile's local times.
        findings: the analysis' findings (docs/design.md#findings).
        text: the page's language.
        drawn: the charts' language (English without a CJK font).
    """
    _ = drawn.gettext
    profile = item.profile
    device = profile.device_id
    has_power = not bool(np.isnan(profile.power_mean_w).all())
    cores = cores_of(item)
    capacity = cores or 100.0
    unit = "cores" if cores else "%"
    recommended = _recommended(device, findings) if cores else None
    lines = [(_("provisioned"), capacity)]
    if recommended is not None:
        lines.append((_("recommended"), recommended[0]))
    schedule = schedule_of(device, findings)
    where = {"device": device, "tz": tz}
    power_chart = charts_demand.heatmap(
        profile.power_mean_w,
        _("mean power (W)"),
        _("%(device)s: mean power by weekday and hour (%(tz)s)") % where,
        drawn,
        cmap="Oranges",
        from_zero=False,
    )
    return DeviceView(
        device=device,
        demand=item,
        cores=cores,
        use_table=_table(profile.util_mean, 100.0),
        power_table=_table(profile.power_mean_w) if has_power else None,
        use_chart=charts_demand.heatmap(
            profile.util_mean * 100.0,
            _("mean use (%)"),
            _("%(device)s: mean use by weekday and hour (%(tz)s)") % where,
            drawn,
        ),
        power_chart=power_chart if has_power else None,
        duration_chart=charts_demand.load_duration_chart(
            profile, capacity, _("load (%(unit)s)") % {"unit": _(unit)}, lines, drawn
        ),
        provisioned=capacity,
        recommended=recommended[0] if recommended else None,
        recommended_by=recommended[1] if recommended else None,
        unit=text.gettext(unit),
        schedule=schedule,
        forms=schedule_forms(schedule) if schedule else [],
        units=systemd_units(schedule) if schedule else [],
        off_rows=off_rows(schedule, text) if schedule else [],
        idle_line=idle_power_line(schedule) if schedule else None,
        windows=windows_text(profile.recurring, text),
    )


def section_views(
    demand: Demand | None,
    findings: Sequence[dict[str, Any]],
    text: Language,
    drawn: Language,
) -> list[DeviceView]:
    """Return the views of every profiled device (none when the span is too short)."""
    if demand is None or not demand.long_enough:
        return []
    return [device_view(item, demand.tz, findings, text, drawn) for item in demand.devices]


def pooled(findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the COMPLEMENTARY_PEAKS findings whose evidence lists their pools."""
    return [
        f
        for f in findings
        if f.get("rule") == "COMPLEMENTARY_PEAKS"
        and isinstance((f.get("evidence") or {}).get("pools"), list)
    ]


VOCABULARY = (N_("cores"), N_("GPUs"))
"""Capacity units the section translates at run time."""
