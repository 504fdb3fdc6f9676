"""The config file as pydantic models: validation, one-line messages, and its JSON Schema.

`ConfigFile` is config.toml: the settings at the top level or in `[defaults]` (not
both), and the `[[schedule]]` tables (`profiler.settings.schedule_entries.ScheduleTable`). The
models refuse unknown keys, wrong types, NaN and infinities; `problem_lines` turns
pydantic's errors into finwatt's one-line messages, each naming the file, the table
and the key; `cross_key_problems` checks what spans keys (a setting set twice, `vm_share`
without `host_curve`) on the file as written. `config_schema` is what `finwatt config
schema` prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from profiler.settings.bmc_table import BMC_KEYS, BmcTable
from profiler.settings.embodied_table import EmbodiedTable
from profiler.settings.schedule_entries import DurationOrZero, ScheduleTable, entry_prefix
from profiler.settings.time_zones import checked_zone_name

SETTING_KEYS = ("db", "sysfs_root", "cpu_tdp_w", "cpu_idle_ratio")
MARKET_KEYS = (
    "market_source", "market_certificate_share", "market_certificate_g_per_kwh",
    "market_supplier_g_per_kwh", "market_residual_g_per_kwh",
)  # fmt: skip
SITE_KEYS = (
    "country", "region", "carbon_intensity", "pue", "price_per_kwh", "currency", "carbon_table",
    "carbon_hourly", *MARKET_KEYS,
)  # fmt: skip

VM_KEYS = ("host_curve", "vm_share")
DEMAND_KEYS = ("tz", "schedule_margin", "schedule_transition")
DEFAULTS_KEYS = (*SETTING_KEYS, *SITE_KEYS, "grace_period", *VM_KEYS, *DEMAND_KEYS)
TOP_LEVEL_KEYS = (*SETTING_KEYS, "defaults", "schedule", "bmc", "embodied")
SCHEMA_ID = "https://finwatt.invalid/config.schema.json"

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

MAX_CPU_TDP_W = 1000.0
"""The largest `cpu_tdp_w` taken: a CPU package's TDP in watts (server parts are <= 500)."""


class _Settings(BaseModel):
    """The settings allowed both at the top level and in `[defaults]`."""

    model_config = _STRICT

    db: str | None = Field(None, description="SQLite database path.")
    sysfs_root: str | None = Field(None, description="Where powercap lives (default /sys).")
    cpu_tdp_w: Annotated[float, Field(gt=0, le=MAX_CPU_TDP_W)] | None = Field(
        None, description="The CPU package's TDP in watts, for the power model (<= 1000)."
    )
    cpu_idle_ratio: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="P_idle / P_max of the power model (default 0.2)."
    )


class DefaultsTable(_Settings):
    """`[defaults]`: the settings, the site, the grace period, the zone and power schedules."""

    model_config = ConfigDict(title="[defaults]")

    country: str | None = Field(None, description="Site country, ISO 3166 alpha-3 (GBR).")
    region: str | None = Field(None, description="Sub-national grid: CN-BJ, US-NY, SE3.")
    carbon_intensity: float | None = Field(None, description="Grid g CO2e/kWh.")
    pue: float | None = Field(None, description="Site PUE (>= 1).")
    price_per_kwh: float | None = Field(None, description="Tariff per kWh.")
    currency: str | None = Field(
        None, description="The tariff's currency, an ISO 4217 code (GBP, EUR, CNY)."
    )
    carbon_table: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="CSV of grid factors overriding or adding codecarbon's: header "
        "code,g_per_kwh,gas,year,source (gas CO2 or CO2e); relative to this file.",
    )
    carbon_hourly: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="CSV of the grid's intensity over time, one line per hour or finer: "
        "header timestamp,g_per_kwh,gas,source (timestamps with Z or an offset); relative "
        "to this file. Time it does not cover uses the annual factor.",
    )
    market_source: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None,
        description="Market-based Scope 2: where the site's contractual instruments are "
        "documented (contract, certificate registry, residual-mix publication and year).",
    )
    market_certificate_share: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="Share of the site's energy covered by retired certificates (0-1)."
    )
    market_certificate_g_per_kwh: Annotated[float, Field(ge=0)] | None = Field(
        None, description="The certificates' factor in g CO2e/kWh (default 0: renewable)."
    )
    market_supplier_g_per_kwh: Annotated[float, Field(ge=0)] | None = Field(
        None, description="The supplier-specific factor of the rest, g CO2e/kWh."
    )
    market_residual_g_per_kwh: Annotated[float, Field(ge=0)] | None = Field(
        None, description="The residual-mix factor of the rest, g CO2e/kWh (if no supplier's)."
    )
    grace_period: DurationOrZero | None = Field(
        None, description="How late a missed scheduled run may still start (default 1h)."
    )
    host_curve: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="In a VM: the host's power curve, a load,watts CSV file or the id of an "
        "imported finwatt profiling run on the host (model estimated:host-curve).",
    )
    vm_share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="In a VM: its share of the host, vCPUs / host threads (0-1]."
    )
    tz: str | None = Field(
        None,
        description="The site's IANA time zone (e.g. Europe/London) of demand profiles and "
        "power schedules (default: the host's).",
    )
    schedule_margin: DurationOrZero | None = Field(
        None, description="Power schedules: wake this long before each busy window (15m)."
    )
    schedule_transition: DurationOrZero | None = Field(
        None,
        description="Power schedules: the idle-power time each off span costs, for shutdown "
        "and boot or resume (5m).",
    )

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        from profiler.settings.carbon import currency_code

        return None if value is None else currency_code(value, "")

    @field_validator("tz")
    @classmethod
    def _tz(cls, tz: str | None) -> str | None:
        return checked_zone_name(tz)


class ConfigFile(_Settings):
    """finwatt's config.toml."""

    model_config = ConfigDict(title="finwatt config.toml", json_schema_extra={"$id": SCHEMA_ID})

    defaults: DefaultsTable | None = Field(None, description="[defaults]")
    bmc: BmcTable | None = Field(None, description="[bmc]: the BMC's wall power.")
    embodied: EmbodiedTable | None = Field(
        None, description="[embodied]: the server's inventory for its embodied carbon."
    )
    schedule: list[ScheduleTable] = Field(default_factory=list, description="[[schedule]] entries.")


def cross_key_problems(path: Path, document: dict[str, Any]) -> list[str]:
    """Return the checks that span keys, run on the file as written (never skipped).

    A setting both at the top level and in `[defaults]`, and `vm_share` without
    `host_curve`. As pydantic model validators they ran only once every field of their
    table was valid, so a file with both kinds of problem took a second round.
    """
    defaults = document.get("defaults")
    defaults = defaults if isinstance(defaults, dict) else {}
    problems = [
        f"{path}: {key} is set both at the top level and in [defaults]; keep one"
        for key in SETTING_KEYS
        if key in document and key in defaults
    ]
    if defaults.get("vm_share") is not None and defaults.get("host_curve") is None:
        problems.append(
            f"{path}: [defaults] vm_share is set without host_curve; add host_curve (a "
            "load,watts CSV or a host profiling run's id) or remove vm_share"
        )
    return problems


def valid_site_values(document: dict[str, Any]) -> dict[str, Any]:
    """Return the `[defaults]` site keys whose values are valid on their own.

    So the site's own checks (`make_site`) run even when another key of `[defaults]`
    is wrong.
    """
    defaults = document.get("defaults")
    if not isinstance(defaults, dict):
        return {}
    values = {}
    for key in SITE_KEYS:
        if key not in defaults:
            continue
        try:
            table = DefaultsTable.model_validate({key: defaults[key]})
        except ValidationError:
            continue
        values[key] = getattr(table, key)
    return values


def config_schema() -> dict[str, Any]:
    """Return the JSON Schema of config.toml (draft 2020-12)."""
    schema = ConfigFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def problem_lines(path: Path, document: dict[str, Any], error: ValidationError) -> list[str]:
    """Return one line per problem of `error`, naming the file, the table and the key.

    Errors pydantic reports once per branch of a union are shown once per key.
    """
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for detail in error.errors():
        prefix, key, allowed = _where(path, document, detail["loc"])
        if (prefix, key) in seen:
            continue
        seen.add((prefix, key))
        lines.append(_line(prefix, key, allowed, detail))
    return lines


def _where(
    path: Path, document: dict[str, Any], loc: tuple[int | str, ...]
) -> tuple[str, str, tuple[str, ...]]:
    """Return (table prefix, key, the table's allowed keys) of an error location."""
    if len(loc) >= 2 and loc[0] == "schedule" and isinstance(loc[1], int):
        tables = document.get("schedule")
        raw = tables[loc[1]] if isinstance(tables, list) else None
        prefix = entry_prefix(path, loc[1], raw)
        return prefix, str(loc[2]) if len(loc) > 2 else "", tuple(ScheduleTable.model_fields)
    if len(loc) >= 2 and loc[0] == "defaults":
        return f"{path}: [defaults]", str(loc[1]), DEFAULTS_KEYS
    if len(loc) >= 2 and loc[0] == "bmc":
        return f"{path}: [bmc]", str(loc[1]), BMC_KEYS
    if len(loc) >= 2 and loc[0] == "embodied":
        return f"{path}: [embodied]", str(loc[-1]), tuple(EmbodiedTable.model_fields)
    return f"{path}:", str(loc[0]) if loc else "", TOP_LEVEL_KEYS


def _line(prefix: str, key: str, allowed: tuple[str, ...], detail: ErrorDetails) -> str:
    """Return the one-line message of one pydantic error."""
    kind, given = detail["type"], detail.get("input")
    if kind == "extra_forbidden":
        return f"{prefix} unknown key {key!r}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"{prefix} {key} is required"
    if kind == "model_type" and key == "defaults":
        return f"{prefix} defaults must be a table ([defaults]), got {shown(given)}"
    if kind in ("list_type", "model_type") and key == "schedule":
        return f"{prefix} schedule must be an array of tables ([[schedule]])"
    if kind == "model_type":
        return f"{prefix} must be a table, got {shown(given)}"
    if kind == "value_error":
        reason = str(detail.get("ctx", {}).get("error", detail["msg"]))
        return f"{prefix} {key}: {reason}" if key else f"{prefix.rstrip(':')}: {reason}"
    message = detail["msg"]
    return f"{prefix} {key}: {message[:1].lower()}{message[1:]}, got {shown(given)}"


def shown(value: Any, limit: int = 40) -> str:
    """Return `value`'s repr for a message, cut to `limit` characters.

    A huge integer (TOML has no limit; `repr` refuses over 4300 digits) shows its size.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
