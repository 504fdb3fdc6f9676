"""User settings: environment variables over `~/.config/finwatt/config.toml` over defaults.

Settings (environment variable / TOML key):
- `FINWATT_DB` / `db`: SQLite path (default `$XDG_DATA_HOME/finwatt/finwatt.db`).
- `FINWATT_SYSFS_ROOT` / `sysfs_root`: where powercap lives (default `/sys`).
- `FINWATT_CPU_TDP_W` / `cpu_tdp_w`: the CPU's TDP in watts for the power model.
- `FINWATT_CPU_IDLE_RATIO` / `cpu_idle_ratio`: P_idle / P_max for the model (0.2).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting has a bad value; the message names it and what is allowed."""


def data_home() -> Path:
    """Return `$XDG_DATA_HOME`, else `~/.local/share`."""
    env = os.environ.get("XDG_DATA_HOME")
    return Path(env) if env else Path.home() / ".local" / "share"


def config_path() -> Path:
    """Return the config file path (`$XDG_CONFIG_HOME/finwatt/config.toml`)."""
    env = os.environ.get("XDG_CONFIG_HOME")
    base = Path(env) if env else Path.home() / ".config"
    return base / "finwatt" / "config.toml"


@dataclass(frozen=True)
class Settings:
    """Resolved settings; see the module docstring for where each comes from."""

    db_path: Path
    sysfs_root: Path
    cpu_tdp_w: float | None
    cpu_idle_ratio: float | None


def _positive_float(name: str, raw: Any, *, upper: float | None = None) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from err
    if value <= 0 or (upper is not None and value >= upper):
        bound = f" and below {upper:g}" if upper is not None else ""
        raise ConfigError(f"{name} must be above 0{bound}, got {raw!r}")
    return value


def load_settings(db: Path | None = None) -> Settings:
    """Resolve settings; `db` (the `--db` option) wins over everything else.

    Raises:
        ConfigError: a value is malformed (named in the message).

    """
    file_values: dict[str, Any] = {}
    path = config_path()
    if path.is_file():
        try:
            file_values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML ({err}); fix or remove it") from err

    def pick(env: str, key: str) -> Any:
        return os.environ.get(env) or file_values.get(key)

    db_path = db or pick("FINWATT_DB", "db")
    tdp = pick("FINWATT_CPU_TDP_W", "cpu_tdp_w")
    ratio = pick("FINWATT_CPU_IDLE_RATIO", "cpu_idle_ratio")
    return Settings(
        db_path=Path(db_path) if db_path else data_home() / "finwatt" / "finwatt.db",
        sysfs_root=Path(pick("FINWATT_SYSFS_ROOT", "sysfs_root") or "/sys"),
        cpu_tdp_w=_positive_float("cpu_tdp_w", tdp) if tdp is not None else None,
        cpu_idle_ratio=(
            _positive_float("cpu_idle_ratio", ratio, upper=1.0) if ratio is not None else None
        ),
    )
