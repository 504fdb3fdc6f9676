"""The `[[schedule]]` tables of config.toml: a pydantic model, validated into `ScheduleEntry`.

Each entry names when it fires (exactly one of `cron`, a 5-field cron expression read
by croniter in the entry's time zone `tz`, or `every`, a duration such as `15m`) and
what it does (`action = "run"`, a profiling run like `finwatt run`, or
`action = "monitor"`, a recording like `finwatt monitor`). `ScheduleTable` is the table
as written (and the source of `finwatt config schema`); `ScheduleEntry` is what the
scheduler uses. Every error names the file, the entry and the key
(`profiler.settings.config` turns pydantic's errors into those lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from profiler.model.durations import check_interval, parse_duration
from profiler.settings.schedule_checks import check_bounds, check_cron, check_report_template
from profiler.settings.time_zones import checked_zone_name, host_zone_name

ACTIONS = ("run", "monitor")
RUN_KEYS = ("workloads", "levels", "phase_seconds", "size", "device", "interval")
MONITOR_KEYS = ("duration", "interval", "attribute")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEVICE_PATTERN = re.compile(r"^(cpu|gpu|all|gpu:\d+)$")
UTC_NAMES = frozenset(("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"))
"""Names of UTC itself: a cron in one of them keeps the trigger it had before zones."""
_DURATION_TEXT = r"^\s*(\d+(\.\d+)?)(ms|w|d|h|m|s)?((\d+(\.\d+)?)(ms|w|d|h|m|s))*\s*$"


def _seconds(raw: Any, *, allow_zero: bool) -> float:
    """Return seconds from a TOML duration: a string like `1h30m` or a number of seconds."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(f'must be a duration such as "90s", "15m", "1h30m", got {raw!r}')
    if isinstance(raw, str):
        return parse_duration(raw, allow_zero=allow_zero)
    if raw > 0 or (allow_zero and raw == 0):
        return float(raw)
    raise ValueError(f"must be a positive duration, got {raw!r}")


def _duration_schema(description: str, *, allow_zero: bool) -> dict[str, Any]:
    bound = "minimum" if allow_zero else "exclusiveMinimum"
    return {
        "anyOf": [
            {"type": "string", "pattern": _DURATION_TEXT, "examples": ["90s", "15m", "1h30m"]},
            {"type": "number", bound: 0},
        ],
        "description": description,
    }


Duration = Annotated[
    float,
    BeforeValidator(lambda raw: _seconds(raw, allow_zero=False)),
    WithJsonSchema(
        _duration_schema("A duration: 90s, 15m, 1h30m, 2d12h, 1w, or seconds.", allow_zero=False)
    ),
]
"""A positive duration in TOML: a string (`1h30m`) or a number of seconds; held as seconds."""

DurationOrZero = Annotated[
    float,
    BeforeValidator(lambda raw: _seconds(raw, allow_zero=True)),
    WithJsonSchema(_duration_schema("A duration (0 allowed): 0, 90s, 1h.", allow_zero=True)),
]
"""Like `Duration`, and 0 is allowed (a grace period)."""


class ScheduleTable(BaseModel):
    """One `[[schedule]]` table as written in config.toml."""

    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False, title="[[schedule]] entry"
    )

    name: str = Field(
        description="Unique name: 1-64 letters, digits, '_', '.' or '-'; the runs' label.",
        json_schema_extra={"pattern": NAME_PATTERN.pattern},
    )
    action: Literal["run", "monitor"] = Field(description="run (profiling) or monitor.")
    cron: str | None = Field(None, description='5-field cron in `tz`, e.g. "30 18 * * 1-5".')
    every: Duration | None = Field(None, description="Period instead of cron, e.g. 15m.")
    tz: str | None = Field(
        None, description="IANA zone of `cron` (default: the host's), e.g. Europe/London."
    )
    report: str | None = Field(None, description="HTML report path: {name} {date} {time} {run}.")
    analyze: bool = Field(False, description="Analyse each run and keep its findings.")
    grace_period: DurationOrZero | None = Field(None, description="How late a fire may run.")
    label: str | None = Field(None, description="Free text stored with the run.")
    workloads: list[str] | str | None = Field(None, description="run: workloads (default all).")
    levels: list[float] | None = Field(None, description="run: loads between 0 and 1.")
    phase_seconds: Duration | None = Field(None, description="run: length of each level (60s).")
    size: str | None = Field(None, description="run: small, standard or large.")
    device: str | None = Field(None, description="run: cpu, gpu, all or gpu:N.")
    interval: Duration | None = Field(None, description="Sampling interval (default 1s).")
    duration: Duration | None = Field(None, description="monitor: how long it records.")
    attribute: bool = Field(False, description="monitor: also record top processes/cgroups.")

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise ValueError(f"must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
        return name

    @field_validator("every", "duration", "phase_seconds", "grace_period")
    @classmethod
    def _bounded(cls, seconds: float | None, info: ValidationInfo) -> float | None:
        return check_bounds(str(info.field_name), seconds)

    @field_validator("cron")
    @classmethod
    def _cron(cls, cron: str | None) -> str | None:
        return None if cron is None else check_cron(cron)

    @field_validator("tz")
    @classmethod
    def _tz(cls, tz: str | None) -> str | None:
        return checked_zone_name(tz)

    @field_validator("report")
    @classmethod
    def _report(cls, report: str | None) -> str | None:
        return None if report is None else check_report_template(report)

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[float] | None) -> list[float] | None:
        if levels is None:
            return None
        if not levels:
            raise ValueError("must be a list such as [1.0, 0.5, 0.0]")
        for level in levels:
            if not 0 <= level <= 1:
                raise ValueError(f"{level!r} is not a load between 0 and 1")
        return levels

    @field_validator("workloads")
    @classmethod
    def _workloads(cls, raw: list[str] | str | None) -> list[str] | str | None:
        from workloads import WORKLOADS

        names = [raw] if isinstance(raw, str) else raw
        if names is not None and not names:
            raise ValueError('must be a list such as ["risk"]')
        for name in names or ():
            if name not in WORKLOADS:
                raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        return raw

    @field_validator("size")
    @classmethod
    def _size(cls, size: str | None) -> str | None:
        from workloads.base import WorkloadError, parse_size

        if size is not None:
            try:
                parse_size(size)
            except WorkloadError as err:
                raise ValueError(str(err)) from err
        return size

    @field_validator("device")
    @classmethod
    def _device(cls, device: str | None) -> str | None:
        if device is not None and not DEVICE_PATTERN.match(device):
            raise ValueError(f"must be cpu, gpu, all or gpu:N, got {device!r}")
        return device

    @field_validator("interval")
    @classmethod
    def _interval(cls, interval_s: float | None) -> float | None:
        return None if interval_s is None else check_interval(interval_s)

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleTable:
        given = self.model_fields_set
        other, keys = ("monitor", MONITOR_KEYS) if self.action == "run" else ("run", RUN_KEYS)
        own = RUN_KEYS if self.action == "run" else MONITOR_KEYS
        for key in keys:
            if key in given and key not in own:
                raise ValueError(f'unknown key {key!r} (it applies to action = "{other}")')
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron or every")
        if self.tz is not None and self.cron is None:
            raise ValueError("tz applies to cron entries only (every is a fixed period)")
        if self.action == "monitor" and self.duration is None:
            raise ValueError('duration is required for action = "monitor"')
        return self


@dataclass(frozen=True)
class InvalidEntry:
    """A `[[schedule]]` table that failed validation: skipped, not fired, shown as invalid.

    Attributes:
        index: its position in the file, from 1.
        name: its `name`, when it has a text one.
        problem: the one-line problem (file, entry, key and fix).
    """

    index: int
    name: str | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as plain JSON values."""
        return {"index": self.index, "name": self.name, "problem": self.problem}


@dataclass(frozen=True)
class ScheduleEntry:
    """One validated `[[schedule]]` table.

    Attributes:
        name: unique name (letters, digits, `_.-`); the stored runs' label.
        action: `run` (profiling) or `monitor`.
        cron: 5-field cron expression (wall-clock times in `tz`), or None.
        every_s: period in seconds, or None (exactly one of cron / every_s is set).
        every: the period as written (`15m`), for display.
        workloads: workloads of a run action; empty means all.
        levels: target loads of a run action, descending; None means the runner's ladder.
        phase_seconds: length of each load level of a run action.
        size: workload size of a run action.
        device: cpu, gpu, all or gpu:N (run action).
        interval_s: sampling interval in seconds.
        duration_s: how long a monitor action records.
        attribute: a monitor action also records per-minute attribution (docs/attribution.md).
        report: HTML report path template ({name}, {date}, {time}, {run}), or None.
        analyze: run the analyzer and store its findings after the action.
        grace_period_s: how late a missed fire may still run; None means `[defaults]`.
        label: free text stored in the run's config.
        tz: IANA zone of the cron times and of the report's {date}/{time}.
        tz_from_host: True when `tz` was not written and is the host's zone.
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
    attribute: bool = False
    report: str | None = None
    analyze: bool = False
    grace_period_s: float | None = None
    label: str | None = None
    tz: str = "UTC"
    tz_from_host: bool = False

    @property
    def trigger(self) -> str:
        """Return the trigger as one string: `cron 0 2 * * *`, `cron 30 18 * * * Europe/London`.

        A cron in UTC is written without its zone, as before zones existed, so a state
        file kept from then still belongs to the entry.
        """
        if self.cron is None:
            return f"every {self.every}"
        return f"cron {self.cron}" if self.tz in UTC_NAMES else f"cron {self.cron} {self.tz}"

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as plain JSON values."""
        return {
            "name": self.name,
            "action": self.action,
            "cron": self.cron,
            "tz": self.tz if self.cron is not None else None,
            "tz_from_host": self.tz_from_host if self.cron is not None else None,
            "every_s": self.every_s,
            "workloads": list(self.workloads),
            "levels": list(self.levels) if self.levels is not None else None,
            "phase_seconds": self.phase_seconds,
            "size": self.size,
            "device": self.device,
            "interval_s": self.interval_s,
            "duration_s": self.duration_s,
            "attribute": self.attribute,
            "report": self.report,
            "analyze": self.analyze,
            "grace_period_s": self.grace_period_s,
            "label": self.label,
        }


def entry_from_table(table: ScheduleTable, raw: dict[str, Any]) -> ScheduleEntry:
    """Return the scheduler's entry for a validated table (`raw`: the table as written)."""
    tz = table.tz or (host_zone_name() if table.cron is not None else "UTC")
    workloads = [table.workloads] if isinstance(table.workloads, str) else table.workloads
    return ScheduleEntry(
        name=table.name,
        action=table.action,
        cron=table.cron,
        every_s=table.every,
        every=str(raw["every"]) if table.every is not None else None,
        workloads=tuple(dict.fromkeys(workloads or ())),
        levels=tuple(sorted(set(table.levels), reverse=True)) if table.levels else None,
        phase_seconds=table.phase_seconds or 60.0,
        size=table.size or "standard",
        device=table.device or "all",
        interval_s=table.interval or 1.0,
        duration_s=table.duration,
        attribute=table.attribute,
        report=table.report,
        analyze=table.analyze,
        grace_period_s=table.grace_period,
        label=table.label,
        tz=tz,
        tz_from_host=table.tz is None and table.cron is not None,
    )


def entry_prefix(path: object, index: int, raw: Any) -> str:
    """Return how errors name entry `index` (from 0): `FILE: [[schedule]] #2 ('usage')`."""
    name = raw.get("name") if isinstance(raw, dict) else None
    label = f" ({name!r})" if isinstance(name, str) else ""
    return f"{path}: [[schedule]] #{index + 1}{label}"
