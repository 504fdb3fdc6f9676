"""The `[[schedule]]` tables of config.toml: validated into `ScheduleEntry` values.

Each entry names when it fires (exactly one of `cron`, a 5-field cron expression read
by croniter, or `every`, a duration such as `15m`) and what it does (`action = "run"`,
a profiling run like `finwatt run`, or `action = "monitor"`, a recording like
`finwatt monitor`). Every error names the file, the entry and the key.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from profiler.model.durations import parse_duration
from profiler.model.errors import ConfigError

ACTIONS = ("run", "monitor")
COMMON_KEYS = ("name", "cron", "every", "action", "report", "analyze", "grace_period", "label")
RUN_KEYS = ("workloads", "levels", "phase_seconds", "size", "device", "interval")
MONITOR_KEYS = ("duration", "interval")
REPORT_FIELDS = ("name", "date", "time", "run")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEVICE_PATTERN = re.compile(r"^(cpu|gpu|all|gpu:\d+)$")


@dataclass(frozen=True)
class ScheduleEntry:
    """One validated `[[schedule]]` table.

    Attributes:
        name: unique name (letters, digits, `_.-`); the stored runs' label.
        action: `run` (profiling) or `monitor`.
        cron: 5-field cron expression (UTC), or None.
        every_s: period in seconds, or None (exactly one of cron / every_s is set).
        every: the period as written (`15m`), for display.
        workloads: workloads of a run action; empty means all.
        levels: target loads of a run action, descending; None means the runner's ladder.
        phase_seconds: length of each load level of a run action.
        size: workload size of a run action.
        device: cpu, gpu, all or gpu:N (run action).
        interval_s: sampling interval in seconds.
        duration_s: how long a monitor action records.
        report: HTML report path template ({name}, {date}, {time}, {run}), or None.
        analyze: run the analyzer and store its findings after the action.
        grace_period_s: how late a missed fire may still run; None means `[defaults]`.
        label: free text stored in the run's config.
    """

    name: str
    action: Literal["run", "monitor"]
    cron: str | None = None
    every_s: float | None = None
    every: str | None = None
    workloads: tuple[str, ...] = ()
    levels: tuple[float, ...] | None = None
    phase_seconds: float = 60.0
    size: str = "standard"
    device: str = "all"
    interval_s: float = 1.0
    duration_s: float | None = None
    report: str | None = None
    analyze: bool = False
    grace_period_s: float | None = None
    label: str | None = None

    @property
    def trigger(self) -> str:
        """Return the trigger as one string: `cron 0 2 * * *` or `every 15m`."""
        return f"cron {self.cron}" if self.cron is not None else f"every {self.every}"

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as plain JSON values."""
        return {
            "name": self.name,
            "action": self.action,
            "cron": self.cron,
            "every_s": self.every_s,
            "workloads": list(self.workloads),
            "levels": list(self.levels) if self.levels is not None else None,
            "phase_seconds": self.phase_seconds,
            "size": self.size,
            "device": self.device,
            "interval_s": self.interval_s,
            "duration_s": self.duration_s,
            "report": self.report,
            "analyze": self.analyze,
            "grace_period_s": self.grace_period_s,
            "label": self.label,
        }


def duration_value(raw: Any, where: str, *, allow_zero: bool = False) -> float:
    """Return seconds from a TOML duration: a string like `15m` or a number of seconds.

    Raises:
        ConfigError: not a duration, or not positive (`where` names file and key).

    """
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(f'{where} must be a duration such as "90s", "15m", got {raw!r}')
    if isinstance(raw, int | float):
        if raw > 0 or (allow_zero and raw == 0):
            return float(raw)
        raise ConfigError(f"{where} must be a positive duration, got {raw!r}")
    if allow_zero and re.fullmatch(r"\s*0+(\.0*)?\s*(ms|s|m|h|d)?\s*", raw):
        return 0.0
    try:
        return parse_duration(raw)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err


def check_cron(expression: Any, where: str) -> str:
    """Return a valid 5-field cron expression, else raise `ConfigError` naming `where`."""
    from croniter import croniter  # type: ignore[import-untyped]  # no stubs shipped

    if not isinstance(expression, str):
        raise ConfigError(f'{where} must be a string such as "0 2 * * *", got {expression!r}')
    fields = expression.split()
    if len(fields) != 5 or not croniter.is_valid(expression):
        raise ConfigError(
            f"{where} {expression!r} is not a valid 5-field cron expression "
            '(minute hour day-of-month month day-of-week, e.g. "0 2 * * *")'
        )
    return " ".join(fields)


def check_report_template(template: Any, where: str) -> str:
    """Return a report path template using only {name}, {date}, {time} and {run}."""
    if not isinstance(template, str) or not template.strip():
        raise ConfigError(f'{where} must be a path such as "reports/{{name}}-{{date}}.html"')
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as err:
        raise ConfigError(f"{where} {template!r} is not a valid template: {err}") from err
    bad = [f for f in fields if f not in REPORT_FIELDS]
    if bad:
        raise ConfigError(
            f"{where} uses {{{bad[0]}}}; allowed: " + ", ".join(f"{{{f}}}" for f in REPORT_FIELDS)
        )
    return template


class _Entry:
    """Reads the keys of one raw table, naming the entry in every error."""

    def __init__(self, path: Path, index: int, raw: dict[str, Any]) -> None:
        self.raw = raw
        name = raw.get("name")
        label = f" ({name!r})" if isinstance(name, str) else ""
        self.prefix = f"{path}: [[schedule]] #{index + 1}{label}"

    def where(self, key: str) -> str:
        return f"{self.prefix} {key}"

    def string(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self.where(key)} must be a string, got {value!r}")
        return value

    def duration(self, key: str) -> float | None:
        value = self.raw.get(key)
        return None if value is None else duration_value(value, self.where(key))


def _levels(entry: _Entry) -> tuple[float, ...] | None:
    raw = entry.raw.get("levels")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{entry.where('levels')} must be a list such as [1.0, 0.5, 0.0]")
    for level in raw:
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 1:
            raise ConfigError(f"{entry.where('levels')}: {level!r} is not a load between 0 and 1")
    return tuple(sorted({float(x) for x in raw}, reverse=True))


def _workloads(entry: _Entry) -> tuple[str, ...]:
    from workloads import WORKLOADS

    raw = entry.raw.get("workloads")
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f'{entry.where("workloads")} must be a list such as ["risk"]')
    for name in raw:
        if name not in WORKLOADS:
            raise ConfigError(
                f"{entry.where('workloads')}: unknown workload {name!r}; "
                f"choose from {', '.join(WORKLOADS)}"
            )
    return tuple(dict.fromkeys(raw))


def parse_entry(path: Path, index: int, raw: Any) -> ScheduleEntry:
    """Validate one `[[schedule]]` table (`index` counts from 0).

    Raises:
        ConfigError: an unknown or misplaced key, or a bad value (file, entry, key named).

    """
    from profiler.capture.sampler import check_interval
    from workloads.base import WorkloadError, parse_size

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: schedule must be an array of tables ([[schedule]])")
    entry = _Entry(path, index, raw)
    action = entry.string("action")
    if action not in ACTIONS:
        raise ConfigError(f'{entry.where("action")} must be "run" or "monitor", got {action!r}')
    allowed = (*COMMON_KEYS, *(RUN_KEYS if action == "run" else MONITOR_KEYS))
    for key in raw:
        if key not in allowed:
            other = "monitor" if action == "run" else "run"
            hint = (
                f' (it applies to action = "{other}")'
                if key in (*RUN_KEYS, *MONITOR_KEYS)
                else f"; allowed: {', '.join(allowed)}"
            )
            raise ConfigError(f"{entry.prefix}: unknown key {key!r}{hint}")
    name = entry.string("name")
    if name is None or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{entry.where('name')} must be 1-64 letters, digits, '_', '.' or '-', got {name!r}"
        )
    if ("cron" in raw) == ("every" in raw):
        raise ConfigError(f"{entry.prefix}: give exactly one of cron or every")
    cron = check_cron(raw["cron"], entry.where("cron")) if "cron" in raw else None
    every_s = entry.duration("every")
    every = str(raw["every"]) if "every" in raw else None
    interval_s = entry.duration("interval") or 1.0
    try:
        check_interval(interval_s)
    except ValueError as err:
        raise ConfigError(f"{entry.where('interval')}: {err}") from err
    size = entry.string("size") or "standard"
    try:
        parse_size(size)
    except WorkloadError as err:
        raise ConfigError(f"{entry.where('size')}: {err}") from err
    device = entry.string("device") or "all"
    if not DEVICE_PATTERN.match(device):
        raise ConfigError(f"{entry.where('device')} must be cpu, gpu, all or gpu:N, got {device!r}")
    duration_s = entry.duration("duration")
    if action == "monitor" and duration_s is None:
        raise ConfigError(f'{entry.prefix}: duration is required for action = "monitor"')
    analyze = raw.get("analyze", False)
    if not isinstance(analyze, bool):
        raise ConfigError(f"{entry.where('analyze')} must be true or false, got {analyze!r}")
    report = raw.get("report")
    grace = raw.get("grace_period")
    return ScheduleEntry(
        name=name,
        action="run" if action == "run" else "monitor",
        cron=cron,
        every_s=every_s,
        every=every,
        workloads=_workloads(entry),
        levels=_levels(entry),
        phase_seconds=entry.duration("phase_seconds") or 60.0,
        size=size,
        device=device,
        interval_s=interval_s,
        duration_s=duration_s,
        report=check_report_template(report, entry.where("report")) if report is not None else None,
        analyze=analyze,
        grace_period_s=(
            duration_value(grace, entry.where("grace_period"), allow_zero=True)
            if grace is not None
            else None
        ),
        label=entry.string("label"),
    )


def parse_schedules(path: Path, raw: Any) -> tuple[ScheduleEntry, ...]:
    """Validate the `schedule` array of `path`; names must be unique.

    Raises:
        ConfigError: see `parse_entry`; also a repeated name.

    """
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: schedule must be an array of tables ([[schedule]])")
    entries = tuple(parse_entry(path, i, table) for i, table in enumerate(raw))
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.name in seen:
            raise ConfigError(
                f"{path}: [[schedule]] #{i + 1} name {entry.name!r} is used by an earlier entry"
            )
        seen.add(entry.name)
    return entries
