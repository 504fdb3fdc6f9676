"""User settings: environment variables over the config file over defaults.

The config file is `$XDG_CONFIG_HOME/finwatt/config.toml` (else
`~/.config/finwatt/config.toml`); `finwatt --config PATH` or `FINWATT_CONFIG` names
another one. Its settings may sit at the top level or under `[defaults]`:

- `FINWATT_DB` / `db`: SQLite path (default `$XDG_DATA_HOME/finwatt/finwatt.db`).
- `FINWATT_SYSFS_ROOT` / `sysfs_root`: where powercap lives (default `/sys`).
- `FINWATT_CPU_TDP_W` / `cpu_tdp_w`: the CPU's TDP in watts for the power model.
- `FINWATT_CPU_IDLE_RATIO` / `cpu_idle_ratio`: P_idle / P_max for the model (0.2).
- `[defaults]` only: `country` (ISO 3166 alpha-3), `region` (sub-national grid data,
  e.g. `CN-SH`, `US-NY`, `SE3`) or `carbon_intensity` (g CO2e/kWh),
  `pue`, `price_per_kwh` (the site, for scheduled analyses and reports), and
  `grace_period` (how late a missed scheduled run may still start, default `1h`).

The file is validated by the pydantic models of `profiler.settings.config_model`
(`[[schedule]]` tables: `profiler.schedule.entries.ScheduleTable`). Every error names
the file, the table and the key; `finwatt config check` lists every problem at once.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from profiler.model.errors import ConfigError

if TYPE_CHECKING:
    from profiler.analysis.savings import Site
    from profiler.schedule.entries import ScheduleEntry
    from profiler.settings.config_model import ConfigFile

DEFAULT_GRACE_PERIOD_S = 3600.0

_config_override: Path | None = None


def data_home() -> Path:
    """Return `$XDG_DATA_HOME`, else `~/.local/share`."""
    env = os.environ.get("XDG_DATA_HOME")
    return Path(env) if env else Path.home() / ".local" / "share"


def use_config_file(path: Path | None) -> None:
    """Make `path` the config file of this process (`finwatt --config`); None resets."""
    global _config_override  # one process-wide choice, set by the CLI
    _config_override = path


def config_path() -> Path:
    """Return the config file: `--config`, else `$FINWATT_CONFIG`, else the XDG default."""
    if _config_override is not None:
        return _config_override
    named = os.environ.get("FINWATT_CONFIG")
    if named:
        return Path(named)
    env = os.environ.get("XDG_CONFIG_HOME")
    base = Path(env) if env else Path.home() / ".config"
    return base / "finwatt" / "config.toml"


def config_explicit() -> bool:
    """Return True when the config file was named (`--config` or `FINWATT_CONFIG`)."""
    return _config_override is not None or bool(os.environ.get("FINWATT_CONFIG"))


@dataclass(frozen=True)
class SiteDefaults:
    """The site of `[defaults]`: grid, PUE and tariff (None where not given)."""

    country: str | None = None
    carbon_intensity: float | None = None
    pue: float | None = None
    price_per_kwh: float | None = None
    region: str | None = None


def site_from_defaults(defaults: SiteDefaults) -> Site:
    """Resolve `[defaults]` into site factors (the scheduler's analyses and reports).

    Raises:
        profiler.settings.carbon.SiteError: a bad value (named with its `[defaults]` key).
    """
    from profiler.settings.carbon import make_site

    return make_site(
        country=defaults.country,
        region=defaults.region,
        carbon_intensity=defaults.carbon_intensity,
        pue=defaults.pue,
        price_per_kwh=defaults.price_per_kwh,
    )


@dataclass(frozen=True)
class Settings:
    """Resolved settings; see the module docstring for where each comes from."""

    db_path: Path
    sysfs_root: Path
    cpu_tdp_w: float | None
    cpu_idle_ratio: float | None
    site: SiteDefaults = field(default_factory=SiteDefaults)
    grace_period_s: float = DEFAULT_GRACE_PERIOD_S
    schedules: tuple[ScheduleEntry, ...] = ()
    config_file: Path | None = None


def _positive_float(name: str, raw: Any, *, upper: float | None = None) -> float:
    """Return an environment variable's number, above 0 (and below `upper`)."""
    try:
        value = float(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from err
    if not math.isfinite(value) or value <= 0 or (upper is not None and value >= upper):
        bound = f" and below {upper:g}" if upper is not None else ""
        raise ConfigError(f"{name} must be above 0{bound}, got {raw!r}")
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    """Return the parsed TOML of `path`, or {} when it does not exist.

    Raises:
        ConfigError: not valid TOML, unreadable, or named explicitly but missing.

    """
    if not path.is_file():
        if config_explicit():
            raise ConfigError(f"{path}: config file not found (named with --config)")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix or remove it") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from err


def _file_values(document: ConfigFile) -> dict[str, Any]:
    """Merge the top-level settings and `[defaults]` (validated: no key is in both)."""
    from profiler.settings.config_model import SETTING_KEYS

    top = document.model_dump(include=set(SETTING_KEYS), exclude_none=True)
    defaults = document.defaults.model_dump(exclude_none=True) if document.defaults else {}
    return {**top, **defaults}


def _site(values: dict[str, Any]) -> SiteDefaults:
    return SiteDefaults(
        values.get("country"),
        values.get("carbon_intensity"),
        values.get("pue"),
        values.get("price_per_kwh"),
        values.get("region"),
    )


@dataclass(frozen=True)
class ValidConfig:
    """A config file that passed every check.

    Attributes:
        values: the settings of the top level and `[defaults]`, merged.
        schedules: its `[[schedule]]` entries.
    """

    values: dict[str, Any]
    schedules: tuple[ScheduleEntry, ...]


def config_problems(path: Path, document: dict[str, Any]) -> tuple[list[str], ValidConfig | None]:
    """Check a parsed config file; return one line per problem, and the result if none.

    Each line names the file, the table (`[defaults]`, `[[schedule]] #2 ('usage')`) and
    the key.
    """
    if not document:  # no file, or an empty one: nothing to check (and no pydantic import)
        return [], ValidConfig({}, ())
    from pydantic import ValidationError

    from profiler.schedule.entries import duplicate_names, entry_from_table, entry_prefix
    from profiler.settings.carbon import SiteError
    from profiler.settings.config_model import ConfigFile, problem_lines

    try:
        parsed = ConfigFile.model_validate(document)
    except ValidationError as err:
        return problem_lines(path, document, err), None
    tables = document.get("schedule", [])
    schedules = tuple(
        entry_from_table(table, raw) for table, raw in zip(parsed.schedule, tables, strict=True)
    )
    problems = [
        f"{entry_prefix(path, i, tables[i])} name {name!r} is used by an earlier entry"
        for i, name in duplicate_names(schedules)
    ]
    values = _file_values(parsed)
    try:
        site_from_defaults(_site(values))
    except SiteError as err:
        problems.append(f"{path}: [defaults] {err}")
    if problems:
        return problems, None
    return [], ValidConfig(values, schedules)


def validate_config(path: Path, document: dict[str, Any]) -> ValidConfig:
    """Return the checked config, or raise its first problem.

    Raises:
        ConfigError: the first problem (one line); with more, it says how many and
            points to `finwatt config check`.
    """
    problems, valid = config_problems(path, document)
    if valid is None:
        more = len(problems) - 1
        suffix = f" (and {more} more: run `finwatt config check`)" if more else ""
        raise ConfigError(problems[0] + suffix)
    return valid


def check_document(path: Path, document: dict[str, Any]) -> tuple[ScheduleEntry, ...]:
    """Validate a parsed config file as a whole (for editors); return its schedule.

    Raises:
        ConfigError: see `load_settings`.

    """
    return validate_config(path, document).schedules


def load_settings(db: Path | None = None) -> Settings:
    """Resolve settings; `db` (the `--db` option) wins over everything else.

    Raises:
        ConfigError: the file or a value is malformed (file, key and problem named).

    """
    path = config_path()
    valid = validate_config(path, read_config_file(path))
    file_values = valid.values

    def pick(env: str, key: str) -> Any:
        return os.environ.get(env) or file_values.get(key)

    def where(env: str, key: str) -> str:
        return f"{key} (from ${env})" if os.environ.get(env) else f"{path}: {key}"

    db_path = db or pick("FINWATT_DB", "db")
    tdp = pick("FINWATT_CPU_TDP_W", "cpu_tdp_w")
    ratio = pick("FINWATT_CPU_IDLE_RATIO", "cpu_idle_ratio")
    grace_s = file_values.get("grace_period")
    return Settings(
        db_path=Path(db_path) if db_path else data_home() / "finwatt" / "finwatt.db",
        sysfs_root=Path(pick("FINWATT_SYSFS_ROOT", "sysfs_root") or "/sys"),
        cpu_tdp_w=(
            _positive_float(where("FINWATT_CPU_TDP_W", "cpu_tdp_w"), tdp)
            if tdp is not None
            else None
        ),
        cpu_idle_ratio=(
            _positive_float(where("FINWATT_CPU_IDLE_RATIO", "cpu_idle_ratio"), ratio, upper=1.0)
            if ratio is not None
            else None
        ),
        site=_site(file_values),
        grace_period_s=DEFAULT_GRACE_PERIOD_S if grace_s is None else grace_s,
        schedules=valid.schedules,
        config_file=path,
    )
