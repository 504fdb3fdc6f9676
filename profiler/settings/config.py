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
  `pue`, `price_per_kwh` and `currency` (its ISO 4217 code; the site, for scheduled
  analyses and reports), `carbon_table`
  (a CSV of the site's own grid factors, `code,g_per_kwh,gas,year,source`, relative to
  the config file; it overrides or adds to codecarbon's), `carbon_hourly` (the grid's
  intensity over time, `timestamp,g_per_kwh,gas,source`, relative to the config file),
  `market_source`, `market_certificate_share`, `market_certificate_g_per_kwh`,
  `market_supplier_g_per_kwh` and `market_residual_g_per_kwh` (the site's contractual
  instruments for market-based Scope 2), and
  `grace_period` (how late a missed scheduled run may still start, default `1h`),
  and, in a VM, `host_curve` (the host's power curve: a load,watts CSV, relative to the
  config file, or an imported profiling run's id) with `vm_share` (vCPUs / host
  threads) for `estimated:host-curve`.
- `[defaults]` only, for demand profiles and power schedules: `tz` (the site's IANA zone,
  default the host's), `schedule_margin` (wake this long before each busy window, default
  `15m`) and `schedule_transition` (the idle-power time each off span costs, `5m`).

`[bmc]` (its own table, `profiler.settings.bmc_table`) says how to reach the node's BMC
for wall power: IPMI in-band or over lanplus, Redfish over HTTPS (docs/permissions.md);
its files (password files, CA bundle) are relative to the config file, like `carbon_table`
and a `host_curve` CSV.

The file is validated by the pydantic models of `profiler.settings.config_model`
(`[[schedule]]` tables: `profiler.settings.schedule_entries.ScheduleTable`). Every error names
the file, the table and the key; `finwatt config check` lists every problem at once.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from profiler.model.errors import ConfigError
from profiler.settings.time_zones import host_zone_name

if TYPE_CHECKING:
    from profiler.model.savings import Site
    from profiler.settings.config_model import ConfigFile
    from profiler.settings.schedule_entries import InvalidEntry, ScheduleEntry

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
    carbon_table: str | None = None
    """A carbon-table CSV overriding or adding grid factors (docs/analyzer.md#data-truth), resolved
    against the config file's directory."""
    currency: str | None = None
    """The tariff's ISO 4217 code, shown beside every amount of money."""
    carbon_hourly: str | None = None
    """A CSV of the grid's intensity over time (docs/methodology.md#carbon), resolved against
    the config file's directory."""
    market: tuple[tuple[str, Any], ...] = ()
    """The `market_*` keys as given (market-based Scope 2 instruments), prefix dropped."""


def site_from_defaults(defaults: SiteDefaults) -> Site:
    """Resolve `[defaults]` into site factors (the scheduler's analyses and reports).

    Raises:
        profiler.settings.site_error.SiteError: a bad value (named with its `[defaults]` key).
    """
    from profiler.settings.carbon import make_site

    return make_site(
        country=defaults.country,
        region=defaults.region,
        carbon_intensity=defaults.carbon_intensity,
        pue=defaults.pue,
        price_per_kwh=defaults.price_per_kwh,
        carbon_table=defaults.carbon_table,
        currency=defaults.currency,
        carbon_hourly=defaults.carbon_hourly,
        market=dict(defaults.market),
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
    invalid_schedules: tuple[InvalidEntry, ...] = ()
    """With `load_settings(skip_invalid_schedules=True)`: the entries set aside (hostile input)."""
    host_curve: str | None = None
    vm_share: float | None = None
    bmc: dict[str, Any] = field(default_factory=dict)
    """The `[bmc]` table as set in the file (`profiler.settings.bmc_table`, docs/design.md)."""
    embodied: dict[str, Any] = field(default_factory=dict)
    """The `[embodied]` table as set (`profiler.settings.embodied_table`): the inventory."""
    tz: str = field(default_factory=host_zone_name)
    """`[defaults] tz`: the site's IANA zone of demand profiles and schedules (else the host's)."""
    schedule_margin_s: float | None = None
    """`[defaults] schedule_margin`: schedules wake this long before each busy window."""
    schedule_transition_s: float | None = None
    """`[defaults] schedule_transition`: idle-power seconds each off span costs."""


def _positive_float(
    name: str, raw: Any, *, upper: float | None = None, most: float | None = None
) -> float:
    """Return a setting's number: above 0, below `upper` and at most `most` (if given)."""
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError) as err:  # 10**400 from TOML overflows
        raise ConfigError(f"{name} must be a number, got {_shown(raw)}") from err
    too_big = (upper is not None and value >= upper) or (most is not None and value > most)
    if not math.isfinite(value) or value <= 0 or too_big:
        bound = f" and below {upper:g}" if upper is not None else ""
        bound += f" and at most {most:g}" if most is not None else ""
        raise ConfigError(f"{name} must be above 0{bound}, got {_shown(raw)}")
    return value


def _shown(raw: Any) -> str:
    """Return a setting's value quoted for a message, cut to 40 characters."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:40] + "..."


def read_config_file(path: Path) -> dict[str, Any]:
    """Return the parsed TOML of `path`, or {} when it does not exist.

    Raises:
        ConfigError: not valid TOML, unreadable, or named explicitly but missing.

    """
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as err:  # ENAMETOOLONG: exists() only ignores "does not exist"
        raise ConfigError(
            f"{_shown(str(path))}: cannot use it as the config file: {err.strerror or err}"
        ) from err
    if exists and not is_file:
        raise ConfigError(f"{path}: the config file is not a regular file; name a TOML file")
    if not is_file:
        if config_explicit():
            raise ConfigError(f"{path}: config file not found (named with --config)")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix or remove it") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
            f"{err.start}); TOML files are UTF-8: save it as UTF-8 or remove it"
        ) from err
    except ValueError as err:  # tomllib's int() of a number over 4300 digits
        raise ConfigError(
            f"{path}: not valid TOML (a number of over 4300 digits); fix or remove it"
        ) from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from err


def _file_values(document: ConfigFile) -> dict[str, Any]:
    """Merge the top-level settings and `[defaults]` (validated: no key is in both)."""
    from profiler.settings.config_model import SETTING_KEYS

    top = document.model_dump(include=set(SETTING_KEYS), exclude_none=True)
    defaults = document.defaults.model_dump(exclude_none=True) if document.defaults else {}
    return {**top, **defaults}


def _site(values: dict[str, Any], base: Path | None = None) -> SiteDefaults:
    table, hourly = values.get("carbon_table"), values.get("carbon_hourly")
    if base is not None:  # an absolute path stays as it is
        table = None if table is None else str(base / Path(table).expanduser())
        hourly = None if hourly is None else str(base / Path(hourly).expanduser())
    return SiteDefaults(
        values.get("country"),
        values.get("carbon_intensity"),
        values.get("pue"),
        values.get("price_per_kwh"),
        values.get("region"),
        table,
        values.get("currency"),
        hourly,
        tuple((k.removeprefix("market_"), v) for k, v in values.items() if k.startswith("market_")),
    )


def _bmc(table: dict[str, Any], base: Path) -> dict[str, Any]:
    """Return `[bmc]` with its file settings resolved against the config's directory."""
    from profiler.settings.bmc_table import BMC_PATH_KEYS

    resolved = dict(table)
    for key in BMC_PATH_KEYS:
        if resolved.get(key):  # an absolute (or ~) path stays as it is
            resolved[key] = str(base.absolute() / Path(resolved[key]).expanduser())
    return resolved


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

    Every check runs whatever the others found, so one run lists every problem: the
    models' (types, ranges, unknown keys), the checks across keys, repeated
    `[[schedule]]` names and the site's. Each line names the file, the table
    (`[defaults]`, `[[schedule]] #2 ('usage')`) and the key.
    """
    if not document:  # no file, or an empty one: nothing to check (and no pydantic import)
        return [], ValidConfig({}, ())
    from pydantic import ValidationError

    from profiler.settings.config_model import (
        ConfigFile,
        cross_key_problems,
        problem_lines,
        valid_site_values,
    )
    from profiler.settings.schedule_entries import entry_from_table
    from profiler.settings.schedule_split import repeated_names

    parsed: ConfigFile | None = None
    try:
        parsed = ConfigFile.model_validate(document)
        problems = []
    except ValidationError as err:
        problems = problem_lines(path, document, err)
    problems += cross_key_problems(path, document)
    tables = document.get("schedule", [])
    if isinstance(tables, list):
        problems += repeated_names(path, tables, {}).values()
    problems += _site_problems(path, valid_site_values(document))
    if problems or parsed is None:
        return list(dict.fromkeys(problems)), None
    schedules = tuple(
        entry_from_table(table, raw) for table, raw in zip(parsed.schedule, tables, strict=True)
    )
    values = _file_values(parsed)
    if parsed.bmc is not None:
        values["bmc"] = _bmc(parsed.bmc.model_dump(exclude_unset=True), path.parent)
    if parsed.embodied is not None:
        values["embodied"] = parsed.embodied.model_dump(exclude_none=True)
    return [], ValidConfig(values, schedules)


def _site_problems(path: Path, values: dict[str, Any]) -> list[str]:
    """The site's problems: the grid source, the PUE and the tariff each checked alone."""
    from profiler.settings.site_error import SiteError

    site = _site(values, path.parent)
    parts = (
        replace(site, pue=None, price_per_kwh=None),
        SiteDefaults(pue=site.pue),
        SiteDefaults(price_per_kwh=site.price_per_kwh),
    )
    problems = []
    for part in parts:
        try:
            site_from_defaults(part)
        except SiteError as err:
            problems.append(f"{path}: [defaults] {err}")
    return problems


def _host_curve(value: str | None, base: Path) -> str | None:
    """Return `host_curve` with a relative file path resolved against the config's folder.

    A value naming a file (it exists there, ends in `.csv`, or has a folder in it) is a
    path; anything else is a run id and stays as it is.
    """
    if value is None:
        return None
    path = Path(value).expanduser()
    resolved = base.absolute() / path  # an absolute (or ~) path stays as it is
    if resolved.is_file() or path.suffix.lower() == ".csv" or len(path.parts) > 1:
        return str(resolved)
    return value


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


def _database_path(path: Path, source: str) -> Path:
    """Return `path` if it can name a database file: not a directory, not too long.

    Raises:
        ConfigError: `--db ''` or a directory, or a name the file system refuses
            (over 255 bytes a component); `source` names where it came from.
    """
    shown = _shown(str(path))
    try:
        is_dir = path.is_dir()
    except OSError as err:  # ENAMETOOLONG: is_dir only ignores "does not exist"
        raise ConfigError(
            f"{source} {shown}: {err.strerror or err}; name a shorter database file"
        ) from err
    if is_dir or not path.name:
        raise ConfigError(
            f"{source} {shown} is a directory; name a database file, e.g. {path / 'finwatt.db'}"
        )
    return path


def load_settings(db: Path | None = None, *, skip_invalid_schedules: bool = False) -> Settings:
    """Resolve settings; `db` (the `--db` option) wins over everything else.

    With `skip_invalid_schedules` (the scheduler's commands), an invalid `[[schedule]]`
    table is set aside in `Settings.invalid_schedules` instead of failing the whole file
    (`profiler.settings.schedule_split`).

    Raises:
        ConfigError: the file or a value is malformed (file, key and problem named).

    """
    path = config_path()
    document = read_config_file(path)
    invalid: tuple[InvalidEntry, ...] = ()
    if skip_invalid_schedules:
        from profiler.settings.schedule_split import split_invalid_entries

        document, invalid = split_invalid_entries(path, document)
    valid = validate_config(path, document)
    file_values = valid.values

    def pick(env: str, key: str) -> Any:
        return os.environ.get(env) or file_values.get(key)

    def where(env: str, key: str) -> str:
        return f"{key} (from ${env})" if os.environ.get(env) else f"{path}: {key}"

    from profiler.settings.config_model import MAX_CPU_TDP_W

    db_path = db or pick("FINWATT_DB", "db")
    tdp = pick("FINWATT_CPU_TDP_W", "cpu_tdp_w")
    ratio = pick("FINWATT_CPU_IDLE_RATIO", "cpu_idle_ratio")
    grace_s = file_values.get("grace_period")
    return Settings(
        db_path=_database_path(
            Path(db_path) if db_path else data_home() / "finwatt" / "finwatt.db",
            "--db" if db else where("FINWATT_DB", "db"),
        ),
        sysfs_root=Path(pick("FINWATT_SYSFS_ROOT", "sysfs_root") or "/sys"),
        cpu_tdp_w=(
            _positive_float(where("FINWATT_CPU_TDP_W", "cpu_tdp_w"), tdp, most=MAX_CPU_TDP_W)
            if tdp is not None
            else None
        ),
        cpu_idle_ratio=(
            _positive_float(where("FINWATT_CPU_IDLE_RATIO", "cpu_idle_ratio"), ratio, upper=1.0)
            if ratio is not None
            else None
        ),
        site=_site(file_values, path.parent),
        grace_period_s=DEFAULT_GRACE_PERIOD_S if grace_s is None else grace_s,
        schedules=valid.schedules,
        config_file=path,
        invalid_schedules=invalid,
        host_curve=_host_curve(file_values.get("host_curve"), path.parent),
        vm_share=file_values.get("vm_share"),
        bmc=file_values.get("bmc", {}),
        embodied=file_values.get("embodied", {}),
        tz=file_values.get("tz") or host_zone_name(),
        schedule_margin_s=file_values.get("schedule_margin"),
        schedule_transition_s=file_values.get("schedule_transition"),
    )
