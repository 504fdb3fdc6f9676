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

`[[schedule]]` tables are validated by `profiler.schedule.entries`. Every error names
the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from profiler.model.errors import ConfigError

if TYPE_CHECKING:
    from profiler.analysis.savings import Site
    from profiler.schedule.entries import ScheduleEntry

DEFAULT_GRACE_PERIOD_S = 3600.0
SETTING_KEYS = ("db", "sysfs_root", "cpu_tdp_w", "cpu_idle_ratio")
SITE_KEYS = ("country", "region", "carbon_intensity", "pue", "price_per_kwh")
DEFAULTS_KEYS = (*SETTING_KEYS, *SITE_KEYS, "grace_period")
TOP_LEVEL_KEYS = (*SETTING_KEYS, "defaults", "schedule")

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
    if isinstance(raw, bool):
        raise ConfigError(f"{name} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from err
    if value <= 0 or (upper is not None and value >= upper):
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


def _file_values(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    """Merge top-level settings and `[defaults]`, rejecting unknown and doubled keys."""
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r}; top-level keys are {', '.join(TOP_LEVEL_KEYS)}"
            )
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults must be a table ([defaults]), got {defaults!r}")
    for key in defaults:
        if key not in DEFAULTS_KEYS:
            raise ConfigError(
                f"{path}: [defaults] unknown key {key!r}; allowed: {', '.join(DEFAULTS_KEYS)}"
            )
    doubled = [k for k in SETTING_KEYS if k in document and k in defaults]
    if doubled:
        raise ConfigError(
            f"{path}: {doubled[0]} is set both at the top level and in [defaults]; keep one"
        )
    return {**{k: document[k] for k in SETTING_KEYS if k in document}, **defaults}


def _site(path: Path, values: dict[str, Any]) -> SiteDefaults:
    from profiler.settings.carbon import SiteError

    def number(key: str) -> float | None:
        raw = values.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ConfigError(f"{path}: [defaults] {key} must be a number, got {raw!r}")
        return float(raw)

    def text(key: str) -> str | None:
        raw = values.get(key)
        if raw is not None and not isinstance(raw, str):
            raise ConfigError(f"{path}: [defaults] {key} must be a string, got {raw!r}")
        return raw

    site = SiteDefaults(
        text("country"),
        number("carbon_intensity"),
        number("pue"),
        number("price_per_kwh"),
        text("region"),
    )
    try:
        site_from_defaults(site)
    except SiteError as err:
        raise ConfigError(f"{path}: [defaults] {err}") from err
    return site


def _grace_s(path: Path, raw: Any) -> float:
    from profiler.schedule.entries import duration_value

    if raw is None:
        return DEFAULT_GRACE_PERIOD_S
    return duration_value(raw, f"{path}: [defaults] grace_period", allow_zero=True)


def check_document(path: Path, document: dict[str, Any]) -> tuple[ScheduleEntry, ...]:
    """Validate a parsed config file as a whole (for editors); return its schedule.

    Raises:
        ConfigError: see `load_settings`.

    """
    from profiler.schedule.entries import parse_schedules

    values = _file_values(path, document)
    _site(path, values)
    _grace_s(path, values.get("grace_period"))
    return parse_schedules(path, document.get("schedule", []))


def load_settings(db: Path | None = None) -> Settings:
    """Resolve settings; `db` (the `--db` option) wins over everything else.

    Raises:
        ConfigError: the file or a value is malformed (file, key and problem named).

    """
    path = config_path()
    document = read_config_file(path)
    file_values = _file_values(path, document)

    def pick(env: str, key: str) -> Any:
        return os.environ.get(env) or file_values.get(key)

    def where(env: str, key: str) -> str:
        return f"{key} (from ${env})" if os.environ.get(env) else f"{path}: {key}"

    db_path = db or pick("FINWATT_DB", "db")
    tdp = pick("FINWATT_CPU_TDP_W", "cpu_tdp_w")
    ratio = pick("FINWATT_CPU_IDLE_RATIO", "cpu_idle_ratio")
    schedules: tuple[ScheduleEntry, ...] = ()
    if "schedule" in document:
        from profiler.schedule.entries import parse_schedules

        schedules = parse_schedules(path, document["schedule"])
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
        site=_site(path, file_values),
        grace_period_s=_grace_s(path, file_values.get("grace_period")),
        schedules=schedules,
        config_file=path,
    )
