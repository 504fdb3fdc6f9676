"""A power schedule as text a platform team applies: TOML, cron, systemd, kube-green; pure.

Every form is built from the schedule's local times and two checked names: the zone (an
IANA name: letters, digits, `_+-` and `/`) and a unit name (lower-case letters, digits
and `-`, as systemd units and Kubernetes objects allow; `unit_name` derives one from a
device id). Nothing else reaches the text, so nothing user-controlled is written into it
unchecked; a name that fails its pattern raises ValueError.

- finwatt `[[schedule]]`: finwatt's scheduler runs `run` and `monitor` actions only, so
  this form monitors each on window (from the wake-up margin to its end): the record
  that shows the schedule still fits. The power actions are the other three forms.
- cron (`/etc/cron.d`, cronie's `CRON_TZ`; a cron daemon without it must run in the
  site's zone): at each off time, `rtcwake -m mem` suspends the host and sets the RTC to
  wake it at the wake time, which GNU `date` computes in the zone, so the wake is right
  across daylight-saving changes. cron and systemd suspend the machine they run on (a
  physical host); a VM is stopped and started by its platform on the same windows.
- systemd: a sleep timer (`systemctl suspend`) and a wake timer (`WakeSystem=true`
  resumes the host to fire it), each with its service; calendar times carry the zone.
- kube-green `SleepInfo` (kube-green.com/v1alpha1): one document per off time and wake
  time pair, weekdays in cron numbering (0 = Sunday); None where kube-green's one
  weekday set per document cannot express the spans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from profiler.analysis.power_schedule import MINUTES_PER_WEEK, OffSpan, PowerSchedule

ZONE_PATTERN = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
UNIT_PATTERN = re.compile(r"[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?")
_DAY_MIN = 24 * 60
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_P = TypeVar("_P", int, str)


def unit_name(device_id: str) -> str:
    """Return a unit name from a device id: lower case, other characters as `-`, <= 52."""
    name = re.sub(r"[^a-z0-9]+", "-", device_id.lower()).strip("-")[:52].strip("-")
    return name or "host"


def _checked(schedule: PowerSchedule, name: str) -> None:
    if not ZONE_PATTERN.fullmatch(schedule.tz) or ".." in schedule.tz:
        raise ValueError(f"not a zone name: {schedule.tz!r}")
    if not UNIT_PATTERN.fullmatch(name):
        raise ValueError(f"not a unit name (a-z, 0-9 and '-'): {name!r}")


def _hhmm(minute: int) -> str:
    minute %= _DAY_MIN
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _cron_days(days: Sequence[int]) -> str:
    """Return weekdays (0 = Monday) in cron numbering (0 = Sunday), `*` for all seven."""
    if len(set(days)) == 7:
        return "*"
    return ",".join(str((d + 1) % 7) for d in sorted(set(days), key=lambda d: (d + 1) % 7))


def _groups(times: Sequence[tuple[int, _P]]) -> list[tuple[int, _P, list[int]]]:
    """Group (start minute of week, payload) by (time of day, payload): (time, payload, days)."""
    grouped: dict[tuple[int, _P], list[int]] = {}
    for start, payload in times:
        start %= MINUTES_PER_WEEK
        grouped.setdefault((start % _DAY_MIN, payload), []).append(start // _DAY_MIN)
    rows = [(m, p, days) for (m, p), days in grouped.items()]
    return sorted(rows, key=lambda row: (min(row[2]), row[0]))


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest}m" if hours and rest else (f"{hours}h" if hours else f"{rest}m")


def finwatt_toml(schedule: PowerSchedule, name: str) -> str:
    """Return `[[schedule]]` entries that monitor each on window in the schedule's zone."""
    _checked(schedule, name)
    margin = round(schedule.margin_s / 60.0)
    starts = [(w.start * 60 - margin, w.hours * 60 + margin) for w in schedule.on]
    lines = ["# on windows proposed by finwatt; monitor each to check the schedule still fits"]
    for k, (minute, length, days) in enumerate(_groups(starts), start=1):
        lines += [
            "[[schedule]]",
            f'name = "{name}-on-{k}"',
            f'cron = "{minute % 60} {minute // 60} * * {_cron_days(days)}"',
            f'tz = "{schedule.tz}"',
            'action = "monitor"',
            f'duration = "{_duration(length)}"',
            "",
        ]
    return "\n".join(lines)


def _wake_date(span: OffSpan) -> str:
    """Return GNU date's words for the wake time, relative to the day the span starts."""
    offset = (span.start_min % _DAY_MIN + span.minutes) // _DAY_MIN
    when = {0: "today", 1: "tomorrow"}.get(offset, f"{offset} days")
    return f"{_hhmm(span.end_min)} {when}"


def cron_lines(schedule: PowerSchedule, name: str) -> str:
    """Return an /etc/cron.d file: suspend at each off time, RTC wake at its wake time."""
    _checked(schedule, name)
    lines = [f"# finwatt power schedule for {name}", f"CRON_TZ={schedule.tz}"]
    for minute, wake, days in _groups([(s.start_min, _wake_date(s)) for s in schedule.off]):
        lines.append(
            f"{minute % 60} {minute // 60} * * {_cron_days(days)} root /usr/sbin/rtcwake -m mem "
            f"-t $(TZ={schedule.tz} date -d '{wake}' +\\%s)"
        )
    return "\n".join(lines) + "\n"


def _calendar(times: Sequence[int], tz: str) -> list[str]:
    grouped = _groups([(t, 0) for t in times])
    return [
        f"OnCalendar={','.join(_SYSTEMD_DAYS[d] for d in sorted(days))} {_hhmm(m)}:00 {tz}"
        for m, _, days in grouped
    ]


def systemd_units(schedule: PowerSchedule, name: str) -> dict[str, str]:
    """Return the sleep and wake timers and their services, file name -> text."""
    _checked(schedule, name)
    sleep, wake = f"finwatt-sleep-{name}", f"finwatt-wake-{name}"
    off_at = _calendar([s.start_min for s in schedule.off], schedule.tz)
    wake_at = _calendar([s.end_min for s in schedule.off], schedule.tz)
    return {
        f"{sleep}.timer": "\n".join(
            [
                "[Unit]",
                f"Description=finwatt: suspend {name} outside its on windows",
                "",
                "[Timer]",
                *off_at,
                "AccuracySec=1min",
                f"Unit={sleep}.service",
                "",
                "[Install]",
                "WantedBy=timers.target",
                "",
            ]
        ),
        f"{sleep}.service": "\n".join(
            [
                "[Unit]",
                f"Description=finwatt: suspend {name}",
                "",
                "[Service]",
                "Type=oneshot",
                "ExecStart=/usr/bin/systemctl suspend",
                "",
            ]
        ),
        f"{wake}.timer": "\n".join(
            [
                "[Unit]",
                f"Description=finwatt: resume {name} before its on windows",
                "",
                "[Timer]",
                *wake_at,
                "WakeSystem=true",
                "AccuracySec=1min",
                f"Unit={wake}.service",
                "",
                "[Install]",
                "WantedBy=timers.target",
                "",
            ]
        ),
        f"{wake}.service": "\n".join(
            [
                "[Unit]",
                f"Description=finwatt: {name} resumed",
                "",
                "[Service]",
                "Type=oneshot",
                "ExecStart=/usr/bin/true",
                "",
            ]
        ),
    }


def _simulated(days: Sequence[int], sleep_min: int, wake_min: int) -> set[tuple[int, int]]:
    """Return the off spans kube-green makes from one weekday set, sleep and wake time."""
    events = sorted(
        [(d * _DAY_MIN + sleep_min, "sleep") for d in days]
        + [(d * _DAY_MIN + wake_min, "wake") for d in days]
    )
    spans: set[tuple[int, int]] = set()
    for k, (at, kind) in enumerate(events):
        previous = events[k - 1][1]
        if kind != "sleep" or previous == "sleep":
            continue
        later = events[k + 1 :] + [(t + MINUTES_PER_WEEK, e) for t, e in events[: k + 1]]
        end = next(t for t, e in later if e == "wake")
        spans.add((at, end - at))
    return spans


def kube_green(schedule: PowerSchedule, name: str, namespace: str) -> str | None:
    """Return kube-green SleepInfo documents, None when the spans do not fit its model."""
    _checked(schedule, name)
    if not UNIT_PATTERN.fullmatch(namespace):
        raise ValueError(f"not a namespace name: {namespace!r}")
    spans = [(s.start_min, s.end_min % _DAY_MIN) for s in schedule.off]
    docs: list[str] = []
    for k, (sleep_min, wake_min, days) in enumerate(_groups(spans), start=1):
        wanted = {
            (s.start_min, s.minutes)
            for s in schedule.off
            if s.start_min % _DAY_MIN == sleep_min and s.end_min % _DAY_MIN == wake_min
        }
        if _simulated(days, sleep_min, wake_min) != wanted:
            return None
        docs.append(
            "\n".join(
                [
                    "apiVersion: kube-green.com/v1alpha1",
                    "kind: SleepInfo",
                    "metadata:",
                    f"  name: {name}-{k}",
                    f"  namespace: {namespace}",
                    "spec:",
                    f'  weekdays: "{_cron_days(days)}"',
                    f'  sleepAt: "{_hhmm(sleep_min)}"',
                    f'  wakeUpAt: "{_hhmm(wake_min)}"',
                    f'  timeZone: "{schedule.tz}"',
                ]
            )
        )
    return "---\n" + "\n---\n".join(docs) + "\n"


def schedule_forms(
    schedule: PowerSchedule, device_id: str, namespace: str = "default"
) -> dict[str, object]:
    """Return every form of the schedule for the device, JSON-ready."""
    name = unit_name(device_id)
    return {
        "finwatt_toml": finwatt_toml(schedule, name),
        "cron": cron_lines(schedule, name),
        "systemd": systemd_units(schedule, name),
        "kube_green": kube_green(schedule, name, namespace),
    }
